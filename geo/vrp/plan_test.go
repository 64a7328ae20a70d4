package vrp

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

// grid returns n pickups on a small grid near a depot, 100 kg and 1 m³ each.
func grid(n int) []PlanPickup {
	var out []PlanPickup
	for i := range n {
		out = append(out, PlanPickup{ID: fmt.Sprintf("p%02d", i),
			At: LatLon{Lat: 50.80 + 0.01*float64(i%5), Lon: 4.30 + 0.01*float64(i/5)},
			KG: 100, M3: 1, Service: 5 * time.Minute})
	}
	return out
}

func truck(id string, kg float64) PlanVehicle {
	return PlanVehicle{ID: id, CapacityKG: kg, CapacityM3: 40, ShiftStart: t0, ShiftEnd: t0.Add(10 * time.Hour),
		Start: LatLon{50.79, 4.29}, End: LatLon{50.79, 4.29}, CostPerKM: 1, CostPerHour: 30}
}

func checkSchedule(t *testing.T, res PlanResult, req PlanRequest) {
	t.Helper()
	byID := map[string]PlanPickup{}
	for _, p := range req.Pickups {
		byID[p.ID] = p
	}
	vs := map[string]PlanVehicle{}
	for _, v := range req.Vehicles {
		vs[v.ID] = v
	}
	seen := map[string]bool{}
	for _, r := range res.Routes {
		v := vs[r.VehicleID]
		prev := time.Time{}
		for _, st := range r.Stops {
			if st.Arrival.Before(prev) || st.ServiceStart.Before(st.Arrival) || st.Departure.Before(st.ServiceStart) {
				t.Errorf("route %s: stop %+v out of time order", r.VehicleID, st)
			}
			prev = st.Departure
			if st.LoadKG > v.CapacityKG+1e-9 {
				t.Errorf("route %s: load %v over capacity", r.VehicleID, st.LoadKG)
			}
			if st.Kind != StopPickup {
				continue
			}
			if seen[st.PickupID] {
				t.Errorf("pickup %s twice", st.PickupID)
			}
			seen[st.PickupID] = true
			pk := byID[st.PickupID]
			if len(pk.Windows) > 0 {
				ok := false
				for _, w := range pk.Windows {
					if !st.ServiceStart.Before(w.From) && !st.ServiceStart.After(w.To.Add(time.Second)) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("pickup %s served at %v outside %v", st.PickupID, st.ServiceStart, pk.Windows)
				}
			}
		}
		if end := r.Stops[len(r.Stops)-1]; end.Arrival.After(v.ShiftEnd.Add(time.Second)) {
			t.Errorf("route %s ends %v after shift", r.VehicleID, end.Arrival)
		}
	}
	for _, u := range res.Unserved {
		if seen[u.PickupID] {
			t.Errorf("pickup %s both served and unserved", u.PickupID)
		}
		seen[u.PickupID] = true
	}
	for _, p := range req.Pickups {
		if !seen[p.ID] {
			t.Errorf("pickup %s silently dropped", p.ID)
		}
	}
}

func TestPlan(t *testing.T) {
	yard := LatLon{50.82, 4.35}
	small := truck("small", 300)
	small.Yard, small.UnloadTime, small.End = &yard, 20*time.Minute, yard
	far := PlanPickup{ID: "far", At: LatLon{50.95, 4.6}, KG: 10, Optional: true, Value: 1}
	heavy := PlanPickup{ID: "heavy", At: LatLon{50.81, 4.31}, KG: 5000}
	late := PlanPickup{ID: "late", At: LatLon{50.81, 4.31}, KG: 1,
		Windows: []TimeWindow{{t0.Add(-3 * time.Hour), t0.Add(-2 * time.Hour)}}}
	windowed := grid(3)
	windowed[0].Windows = []TimeWindow{{t0.Add(2 * time.Hour), t0.Add(2*time.Hour + 30*time.Minute)}}
	windowed[1].Windows = []TimeWindow{{t0, t0.Add(20 * time.Minute)}, {t0.Add(5 * time.Hour), t0.Add(6 * time.Hour)}}
	tests := []struct {
		name       string
		req        PlanRequest
		wantRoutes int
		unloads    int
		unserved   map[string]string
	}{
		{"unload at yard", PlanRequest{Pickups: grid(10), Vehicles: []PlanVehicle{small}}, 1, 3, nil},
		{"heterogeneous fleet", PlanRequest{Pickups: append(grid(4), PlanPickup{ID: "big", At: LatLon{50.8, 4.3}, KG: 900}),
			Vehicles: []PlanVehicle{truck("a", 500), truck("b", 1500)}}, 1, 0, nil},
		{"reasons", PlanRequest{Pickups: append(grid(2), far, heavy, late), Vehicles: []PlanVehicle{truck("a", 1000)}}, 1, 0,
			map[string]string{"far": "optional", "heavy": "capacity", "late": "time windows"}},
		{"windows", PlanRequest{Pickups: windowed, Vehicles: []PlanVehicle{truck("a", 1000)}}, 1, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.TimeLimit = 200 * time.Millisecond
			res, err := Plan(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			checkSchedule(t, res, tc.req)
			if len(res.Routes) != tc.wantRoutes {
				t.Errorf("got %d routes, want %d", len(res.Routes), tc.wantRoutes)
			}
			unloads := 0
			for _, r := range res.Routes {
				for _, st := range r.Stops {
					if st.Kind == StopUnload {
						unloads++
					}
				}
			}
			if unloads != tc.unloads {
				t.Errorf("got %d unload stops, want %d", unloads, tc.unloads)
			}
			if len(res.Unserved) != len(tc.unserved) {
				t.Errorf("unserved %v, want %v", res.Unserved, tc.unserved)
			}
			for _, u := range res.Unserved {
				if !strings.Contains(u.Reason, tc.unserved[u.PickupID]) || tc.unserved[u.PickupID] == "" {
					t.Errorf("pickup %s unserved because %q, want %q", u.PickupID, u.Reason, tc.unserved[u.PickupID])
				}
			}
		})
	}
}

func TestPlanRejectsBadRequest(t *testing.T) {
	tests := []struct {
		name string
		req  PlanRequest
	}{
		{"no vehicles", PlanRequest{Pickups: grid(1)}},
		{"duplicate pickup", PlanRequest{Pickups: append(grid(1), grid(1)...), Vehicles: []PlanVehicle{truck("a", 1)}}},
		{"bad latitude", PlanRequest{Pickups: []PlanPickup{{ID: "x", At: LatLon{91, 0}}}, Vehicles: []PlanVehicle{truck("a", 1)}}},
		{"negative kg", PlanRequest{Pickups: []PlanPickup{{ID: "x", KG: -1}}, Vehicles: []PlanVehicle{truck("a", 1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Plan(context.Background(), tc.req); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("got %v, want ErrInvalidRequest", err)
			}
		})
	}
}

// order returns, per vehicle, the pickup ids in order.
func order(res PlanResult) map[string][]string {
	out := map[string][]string{}
	for _, r := range res.Routes {
		for _, st := range r.Stops {
			if st.Kind == StopPickup {
				out[r.VehicleID] = append(out[r.VehicleID], st.PickupID)
			}
		}
	}
	return out
}

// keepsOrder reports whether the pickups of before that are still on the
// same vehicle keep their relative order.
func keepsOrder(before, after map[string][]string) bool {
	for v, ids := range before {
		pos := map[string]int{}
		for i, id := range after[v] {
			pos[id] = i
		}
		last := -1
		for _, id := range ids {
			if p, ok := pos[id]; ok {
				if p < last {
					return false
				}
				last = p
			}
		}
	}
	return true
}

func TestReplan(t *testing.T) {
	req := PlanRequest{Pickups: grid(12), Vehicles: []PlanVehicle{truck("a", 700), truck("b", 700)}, TimeLimit: 200 * time.Millisecond}
	base, err := Plan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		ch         Change
		wantMoved  []string // pickups that must be reported as changed
		wantStable bool     // every other pickup keeps vehicle and order
	}{
		{"urgent pickup", Change{AddPickups: []PlanPickup{{ID: "urgent", At: LatLon{50.805, 4.305}, KG: 50}}}, []string{"urgent"}, true},
		{"vehicle removed", Change{RemoveVehicles: []string{"b"}}, order(base)["b"], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, next, changes, err := Replan(context.Background(), req, base, tc.ch)
			if err != nil {
				t.Fatal(err)
			}
			checkSchedule(t, res, next)
			got := map[string]StopChange{}
			for _, c := range changes {
				got[c.PickupID] = c
			}
			for _, id := range tc.wantMoved {
				if _, ok := got[id]; !ok {
					t.Errorf("pickup %s not reported as changed (changes %v)", id, changes)
				}
			}
			if len(changes) > len(tc.wantMoved) {
				t.Errorf("changes %v, want only %v", changes, tc.wantMoved)
			}
			if tc.wantStable && !keepsOrder(order(base), order(res)) {
				t.Errorf("order changed: %v -> %v", order(base), order(res))
			}
		})
	}
}

func TestGeoJSONAndSVG(t *testing.T) {
	req := PlanRequest{Pickups: append(grid(6), PlanPickup{ID: "heavy", At: LatLon{50.8, 4.3}, KG: 1e6}),
		Vehicles: []PlanVehicle{truck("a<&>", 400), truck("b", 400)}, TimeLimit: 100 * time.Millisecond}
	res, err := Plan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	fc := GeoJSON(res, req.Pickups)
	b, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry   struct{ Type string } `json:"geometry"`
			Properties map[string]any        `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, f := range back.Features {
		kinds[f.Properties["type"].(string)]++
	}
	stops := 0
	for _, r := range res.Routes {
		stops += len(r.Stops)
	}
	if back.Type != "FeatureCollection" || kinds["route"] != len(res.Routes) || kinds["stop"] != stops || kinds["unserved"] != 1 {
		t.Errorf("features by type %v, want %d routes, %d stops, 1 unserved", kinds, len(res.Routes), stops)
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, res, req.Pickups, 400, 300); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	polylines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != len(res.Routes) {
		t.Errorf("%d polylines, want %d", polylines, len(res.Routes))
	}
}

func TestGreatCircle(t *testing.T) {
	// Brussels to Antwerp is about 41 km in a straight line
	m, err := GreatCircle{Detour: 1, SpeedKMH: 36}.Matrix(context.Background(),
		[]orb.Point{{4.3517, 50.8503}, {4.4025, 51.2194}})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.D(0, 1); math.Abs(d-41200) > 800 {
		t.Errorf("distance %v m, want about 41 km", d)
	}
	if tt := m.T(0, 1); math.Abs(tt-m.D(0, 1)/10) > 1 {
		t.Errorf("time %v s, want distance / 10 m/s", tt)
	}
	if m.D(0, 0) != 0 || m.D(1, 0) != m.D(0, 1) {
		t.Errorf("matrix not symmetric with zero diagonal")
	}
}

func TestOSRM(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr bool
		wantD01 float64
	}{
		{"ok", 200, `{"code":"Ok","distances":[[0,1500],[1600,0]],"durations":[[0,120],[130,0]]}`, false, 1500},
		{"unreachable", 200, `{"code":"Ok","distances":[[0,null],[1600,0]],"durations":[[0,null],[130,0]]}`, false, math.Inf(1)},
		{"error code", 400, `{"code":"InvalidQuery","message":"bad"}`, true, 0},
		{"wrong size", 200, `{"code":"Ok","distances":[[0]],"durations":[[0]]}`, true, 0},
		{"garbage", 200, `not json`, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotPath string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath = r.URL.Path
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			o := &OSRM{BaseURL: srv.URL + "/", Client: srv.Client()}
			m, err := o.Matrix(context.Background(), []orb.Point{{4.35, 50.85}, {4.40, 51.22}})
			if tc.wantErr {
				if !errors.Is(err, ErrProvider) {
					t.Fatalf("got %v, want ErrProvider", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotPath != "/table/v1/driving/4.350000,50.850000;4.400000,51.220000" {
				t.Errorf("path %q", gotPath)
			}
			if m.D(0, 1) != tc.wantD01 || m.T(1, 0) != 130 {
				t.Errorf("d01 %v t10 %v", m.D(0, 1), m.T(1, 0))
			}
		})
	}
}

// BenchmarkFirstPlan1000 measures the first feasible plan of a 1,000-stop
// problem (construction plus one iteration).
func BenchmarkFirstPlan1000(b *testing.B) {
	var pickups []PlanPickup
	for i := range 1000 {
		pickups = append(pickups, PlanPickup{ID: fmt.Sprint(i),
			At: LatLon{50.7 + 0.3*float64((i*7919)%1000)/1000, 4.2 + 0.4*float64((i*104729)%997)/997}, KG: 50, M3: 0.5, Service: 3 * time.Minute})
	}
	var vehicles []PlanVehicle
	for k := range 40 {
		vehicles = append(vehicles, truck(fmt.Sprint("v", k), 2000))
	}
	for b.Loop() {
		b.StopTimer()
		req := PlanRequest{Pickups: pickups, Vehicles: vehicles}
		bb, err := req.build(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := Solve(context.Background(), bb.p, Options{Iterations: 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Unserved) != 0 {
			b.Fatalf("%d unserved", len(s.Unserved))
		}
	}
}

func FuzzDecodeOSRMTable(f *testing.F) {
	f.Add([]byte(`{"code":"Ok","distances":[[0,1500],[1600,0]],"durations":[[0,120],[130,0]]}`))
	f.Add([]byte(`{"code":"Ok","distances":[[0,null],[1,0]],"durations":[[0,-1],[1,0]]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeOSRMTable(2, http.StatusOK, body)
		if err == nil && (m.N != 2 || len(m.Dist) != 4 || len(m.Time) != 4) {
			t.Fatalf("matrix %+v", m)
		}
	})
}
