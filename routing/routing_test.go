package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/store"
)

type world struct {
	db   *store.DB
	d    *dispatch.Store
	svc  *Service
	day  string
	pick []string
}

func circle(lon, lat float64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,%g]},"properties":{"radius_m":60}}`, lon, lat))
}

// newWorld makes a yard, a depot, three vehicles and n pickup requests for
// tomorrow around Ghent.
func newWorld(t *testing.T, n int, cands Candidates) *world {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(db)
	w := &world{db: db, d: d}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = d.CreateCustomer(ctx, dispatch.Customer{ID: "cust", Name: "Customer"})
	must(err)
	_, err = d.CreateSite(ctx, dispatch.Site{ID: "yard", Name: "Yard", Kind: "yard", Location: [2]float64{3.73, 51.09}, Geofence: circle(3.73, 51.09)})
	must(err)
	_, err = d.CreateSite(ctx, dispatch.Site{ID: "depot", Name: "Depot", Kind: "depot", Location: [2]float64{3.70, 51.05}, Geofence: circle(3.70, 51.05)})
	must(err)
	for i, cap := range []float64{3000, 3000, 2000} {
		_, err = d.CreateVehicle(ctx, dispatch.Vehicle{ID: fmt.Sprintf("v%d", i+1), Plate: fmt.Sprintf("1-TST-00%d", i+1), CapacityKg: cap, CapacityM3: 20,
			DepotSiteID: "depot", FuelType: "diesel", ConsumptionPer100Km: 30})
		must(err)
	}
	loc, _ := time.LoadLocation("Europe/Brussels")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, loc)
	day := now.AddDate(0, 0, 1)
	w.day = day.Format("2006-01-02")
	for i := 0; i < n; i++ {
		lon, lat := 3.65+0.01*float64(i%10), 51.00+0.01*float64(i/10)
		_, err = d.CreateSite(ctx, dispatch.Site{ID: fmt.Sprintf("s%02d", i), Name: "site", Kind: "customer_site", CustomerID: "cust", Location: [2]float64{lon, lat}, Geofence: circle(lon, lat)})
		must(err)
		from := time.Date(day.Year(), day.Month(), day.Day(), 7, 0, 0, 0, loc)
		p, err := d.CreatePickup(ctx, dispatch.All, dispatch.Pickup{CustomerID: "cust", SiteID: fmt.Sprintf("s%02d", i), Material: "paper",
			EstimatedKg: 400, WindowFrom: from, WindowTo: from.Add(10 * time.Hour)}, "test")
		must(err)
		w.pick = append(w.pick, p.ID)
	}
	w.svc = New(db, d, cands, nil, Options{Location: loc, TimeLimit: 300 * time.Millisecond, Now: func() time.Time { return now }})
	return w
}

// served returns every pickup on a plan's routes and its unserved list.
func served(v PlanView) (map[string]string, map[string]string) {
	on, off := map[string]string{}, map[string]string{}
	for _, r := range v.Routes {
		for _, s := range r.Stops {
			if s.PickupID != "" {
				on[s.PickupID] = r.VehicleID
			}
		}
	}
	for _, u := range v.Unserved {
		off[u.PickupID] = u.Reason
	}
	return on, off
}

func TestPlanCommitReplan(t *testing.T) {
	w := newWorld(t, 12, nil)
	ctx := context.Background()
	plan, err := w.svc.Plan(ctx, PlanInput{Date: w.day})
	if err != nil {
		t.Fatal(err)
	}
	on, off := served(plan)
	if len(on) != 12 || len(off) != 0 {
		t.Fatalf("served %d, unserved %v", len(on), off)
	}
	// 12 x 400 kg = 4800 kg fits two vehicles; unloads are planned when needed.
	for _, r := range plan.Routes {
		for _, s := range r.Stops {
			if s.LoadKg > 3000+1e-9 {
				t.Fatalf("route %s carries %v kg", r.VehicleID, s.LoadKg)
			}
			if s.Kind == "pickup" && (s.ETA.IsZero() || s.SiteID == "") {
				t.Fatalf("stop without ETA or site: %+v", s)
			}
		}
	}
	if !json.Valid(plan.GeoJSON) || !strings.Contains(string(plan.GeoJSON), "FeatureCollection") {
		t.Fatal("plan has no GeoJSON")
	}
	var svg strings.Builder
	if err := w.svc.WriteSVG(ctx, plan.ID, &svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") && !strings.HasPrefix(svg.String(), "<?xml") {
		t.Fatalf("svg: %v %.60s", err, svg.String())
	}
	committed, err := w.svc.Commit(ctx, plan.ID, "dispatcher:t")
	if err != nil {
		t.Fatal(err)
	}
	if committed.Status != StatusCommitted || len(committed.Planned) != 12 {
		t.Fatalf("commit: %s, %d planned", committed.Status, len(committed.Planned))
	}
	for _, id := range w.pick {
		p, _ := w.d.Pickup(ctx, dispatch.All, id)
		if p.Status != dispatch.PickupPlanned {
			t.Fatalf("pickup %s is %s after commit", id, p.Status)
		}
	}
	if _, err := w.svc.Commit(ctx, plan.ID, "x"); !errors.Is(err, revloop.ErrConflict) {
		t.Fatalf("second commit: %v", err)
	}
	// A vehicle breaks down: its stops move, nothing is lost.
	broken := plan.Routes[0].VehicleID
	re, err := w.svc.Replan(ctx, ReplanInput{PlanID: plan.ID, RemoveVehicles: []string{broken}})
	if err != nil {
		t.Fatal(err)
	}
	on2, off2 := served(re)
	if len(on2)+len(off2) != 12 {
		t.Fatalf("re-plan lost pickups: %d served + %d unserved", len(on2), len(off2))
	}
	for id, v := range on2 {
		if v == broken {
			t.Fatalf("pickup %s still on the broken vehicle", id)
		}
	}
	moved := map[string]bool{}
	for _, c := range re.Changes {
		moved[c.PickupID] = true
	}
	for id, v := range on {
		if v == broken && !moved[id] {
			t.Fatalf("pickup %s moved off %s but is not reported changed (changes %+v)", id, broken, re.Changes)
		}
	}
	if re.ParentID != plan.ID || re.Status != StatusProposed {
		t.Fatalf("re-plan %+v", re)
	}
	if _, err := w.svc.Commit(ctx, re.ID, "dispatcher:t"); err != nil {
		t.Fatal(err)
	}
	old, _ := w.svc.Get(ctx, plan.ID)
	if old.Status != StatusSuperseded {
		t.Fatalf("old plan is %s after the re-plan's commit", old.Status)
	}
}

func TestPlanReportsInfeasibleStops(t *testing.T) {
	w := newWorld(t, 3, nil)
	ctx := context.Background()
	loc := w.svc.opts.Location
	day, _ := time.ParseInLocation("2006-01-02", w.day, loc)
	heavy, err := w.d.CreatePickup(ctx, dispatch.All, dispatch.Pickup{CustomerID: "cust", SiteID: "s00", Material: "metal", EstimatedKg: 9000,
		WindowFrom: day.Add(8 * time.Hour), WindowTo: day.Add(12 * time.Hour)}, "t")
	if err != nil {
		t.Fatal(err)
	}
	night, err := w.d.CreatePickup(ctx, dispatch.All, dispatch.Pickup{CustomerID: "cust", SiteID: "s01", Material: "glass", EstimatedKg: 100,
		WindowFrom: day.Add(2 * time.Hour), WindowTo: day.Add(6*time.Hour + time.Minute)}, "t")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := w.svc.Plan(ctx, PlanInput{Date: w.day})
	if err != nil {
		t.Fatal(err)
	}
	on, off := served(plan)
	if len(on) != 3 || off[heavy.ID] == "" || off[night.ID] == "" {
		t.Fatalf("served %v, unserved %v; want the 3 normal pickups served and reasons for %s and %s", on, off, heavy.ID, night.ID)
	}
	for _, c := range []struct {
		name string
		in   PlanInput
	}{{"bad date", PlanInput{Date: "tomorrow"}}, {"long budget", PlanInput{Date: w.day, TimeLimitS: 1000}}, {"unknown vehicle", PlanInput{Date: w.day, Vehicles: []string{"nope"}}}} {
		if _, err := w.svc.Plan(ctx, c.in); !errors.Is(err, revloop.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", c.name, err)
		}
	}
	if _, err := w.svc.Replan(ctx, ReplanInput{PlanID: plan.ID, RemoveVehicles: []string{"v9"}}); !errors.Is(err, revloop.ErrInvalid) {
		t.Errorf("replan unknown vehicle: %v", err)
	}
	if _, err := w.svc.Replan(ctx, ReplanInput{PlanID: "plan-x"}); !errors.Is(err, revloop.ErrInvalid) {
		t.Errorf("empty replan: %v", err)
	}
}

type fakeCandidates []Candidate

func (f fakeCandidates) Due(context.Context, time.Duration) ([]Candidate, error) { return f, nil }

func TestForecastCandidatesBecomePickupsOnCommit(t *testing.T) {
	w := newWorld(t, 2, nil)
	ctx := context.Background()
	if _, err := w.d.CreateBin(ctx, dispatch.Bin{ID: "bin-1", SiteID: "s01", Material: "plastic", EWCCode: "15 01 02", VolumeL: 1100}); err != nil {
		t.Fatal(err)
	}
	w.svc.candidates = fakeCandidates{{BinID: "bin-1", SiteID: "s01", Material: "plastic", Kg: 120, FullAt: w.svc.opts.Now().Add(30 * time.Hour)}}
	plan, err := w.svc.Plan(ctx, PlanInput{Date: w.day, IncludeForecast: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range plan.Routes {
		for _, s := range r.Stops {
			if s.Kind == "candidate" && s.BinID == "bin-1" {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("the forecast bin next to a planned pickup was not taken: %+v", plan.Routes)
	}
	c, err := w.svc.Commit(ctx, plan.ID, "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Planned) != 3 {
		t.Fatalf("planned %v, want the 2 requests and the bin's new pickup", c.Planned)
	}
}
