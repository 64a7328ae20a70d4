package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

// fakeTracks is an in-memory TrackReader.
type fakeTracks struct {
	mu sync.Mutex
	ps map[revloop.DeviceID][]revloop.Position
}

func (f *fakeTracks) Positions(_ context.Context, dev revloop.DeviceID, from, to time.Time) ([]revloop.Position, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []revloop.Position
	for _, p := range f.ps[dev] {
		if !p.Time.Before(from) && p.Time.Before(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeTracks) LatestPositions(_ context.Context, devs ...revloop.DeviceID) ([]revloop.Position, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []revloop.Position
	for d, ps := range f.ps {
		if len(ps) > 0 && (len(devs) == 0 || slices.Contains(devs, d)) {
			out = append(out, ps[len(ps)-1])
		}
	}
	return out, nil
}

func (f *fakeTracks) RFIDReads(context.Context, revloop.DeviceID, time.Time, time.Time) ([]revloop.RFIDRead, error) {
	return nil, nil
}

// testAPI is a server with every dispatch dependency on a fresh SQLite
// store, and one token per role.
type testAPI struct {
	t       testing.TB
	h       http.Handler
	srv     *api.Server
	db      *store.DB
	tokens  *accounts.Store
	store   *dispatch.Store
	live    *dispatch.Live
	tracks  *fakeTracks
	tok     map[api.Role]string
	tokenID map[api.Role]string
}

type apiOption func(*testAPI, *api.Deps)

func newTestAPI(t testing.TB, opts ...apiOption) *testAPI {
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ta := &testAPI{t: t, db: db, tokens: accounts.New(db, 0), store: dispatch.New(db),
		tracks: &fakeTracks{ps: map[revloop.DeviceID][]revloop.Position{}},
		tok:    map[api.Role]string{}, tokenID: map[api.Role]string{}}
	ta.live = dispatch.NewLive(log, dispatch.LiveOptions{StreamBuffer: 4}, ta.store, nil)
	for _, r := range []api.Role{api.RoleAdmin, api.RoleDispatcher, api.RoleYard, api.RoleAuditor} {
		tk, secret, err := ta.tokens.Create(ctx, r, "", string(r))
		if err != nil {
			t.Fatal(err)
		}
		ta.tok[r], ta.tokenID[r] = secret, tk.ID
	}
	deps := api.Deps{
		Auth:        ta.tokens,
		Idempotency: accounts.NewIdempotency(db, 0),
		Dispatch:    api.DispatchDeps{Store: ta.store, Live: ta.live, Tracks: ta.tracks, StreamKeepAlive: time.Hour},
	}
	for _, o := range opts {
		o(ta, &deps)
	}
	ta.srv = api.New(log, api.Options{MaxBodyBytes: 64 << 10}, deps)
	ta.h = ta.srv.Handler()
	return ta
}

// customerToken creates a customer and a token bound to it.
func (ta *testAPI) customerToken(id string) string {
	ta.t.Helper()
	ctx := context.Background()
	if _, err := ta.store.CreateCustomer(ctx, dispatch.Customer{ID: id, Name: "Customer " + id}); err != nil {
		ta.t.Fatal(err)
	}
	_, secret, err := ta.tokens.Create(ctx, api.RoleCustomer, id, id)
	if err != nil {
		ta.t.Fatal(err)
	}
	return secret
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (ta *testAPI) do(method, path, token string, body any, hdr ...string) resp {
	ta.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ta.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	ta.h.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// must asserts the status and returns the decoded object.
func (ta *testAPI) must(status int, r resp) map[string]any {
	ta.t.Helper()
	if r.status != status {
		ta.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if len(r.body) == 0 {
		return nil
	}
	return r.json(ta.t)
}

func circle(lon, lat, r float64) map[string]any {
	return map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Point", "coordinates": []float64{lon, lat}}, "properties": map[string]any{"radius_m": r}}
}

func square(lon, lat float64) map[string]any {
	d := 0.001
	return map[string]any{"type": "Feature", "properties": map[string]any{}, "geometry": map[string]any{"type": "Polygon", "coordinates": [][][]float64{{
		{lon, lat}, {lon + d, lat}, {lon + d, lat + d}, {lon, lat + d}, {lon, lat}}}}}
}

// seedCustomer creates a customer site, a bin, a pickup and a complaint for
// customer id and returns their ids.
func (ta *testAPI) seedCustomer(id string) map[string]string {
	ta.t.Helper()
	tok := ta.tok[api.RoleDispatcher]
	if _, err := ta.store.Customer(context.Background(), dispatch.All, id); err != nil {
		ta.must(201, ta.do("POST", "/api/v1/customers", tok, map[string]any{"id": id, "name": "Customer " + id}))
	}
	site := ta.must(201, ta.do("POST", "/api/v1/sites", tok, map[string]any{"name": "Site of " + id, "kind": "customer_site", "customer_id": id, "geofence": square(3.7, 51.05)}))
	bin := ta.must(201, ta.do("POST", "/api/v1/bins", tok, map[string]any{"site_id": site["id"], "material": "glass", "ewc_code": "150107", "volume_l": 1100, "fill_sensor_device_id": "fill-" + strings.ToLower(id)}))
	pck := ta.must(201, ta.do("POST", "/api/v1/pickups", tok, map[string]any{"customer_id": id, "site_id": site["id"], "material": "glass",
		"window_from": "2026-12-01T08:00:00Z", "window_to": "2026-12-01T12:00:00Z"}))
	cmp := ta.must(201, ta.do("POST", "/api/v1/complaints", tok, map[string]any{"customer_id": id, "subject_kind": "pickup", "subject_ref": pck["id"], "text": "late"}))
	return map[string]string{"customer": id, "site": site["id"].(string), "bin": bin["id"].(string), "pickup": pck["id"].(string), "complaint": cmp["id"].(string)}
}

func TestCreateValidation(t *testing.T) {
	ta := newTestAPI(t)
	ids := ta.seedCustomer("c1")
	tok := ta.tok[api.RoleDispatcher]
	openRing := square(3.7, 51)
	openRing["geometry"].(map[string]any)["coordinates"] = [][][]float64{{{3.7, 51}, {3.71, 51}, {3.71, 51.01}, {3.7, 51.01}}}
	cases := []struct {
		name, path string
		body       any
		status     int
		field      string
	}{
		{"customer without name", "/api/v1/customers", map[string]any{"kind": "retailer"}, 400, "name"},
		{"customer bad id", "/api/v1/customers", map[string]any{"id": "a b", "name": "x"}, 400, "id"},
		{"customer duplicate", "/api/v1/customers", map[string]any{"id": "c1", "name": "x"}, 409, ""},
		{"unknown field", "/api/v1/customers", map[string]any{"name": "x", "colour": "red"}, 400, ""},
		{"site open ring", "/api/v1/sites", map[string]any{"name": "s", "kind": "depot", "geofence": openRing}, 400, "geofence.geometry.coordinates"},
		{"site latitude out of range", "/api/v1/sites", map[string]any{"name": "s", "kind": "depot", "geofence": circle(3.7, 91, 50)}, 400, "geofence.geometry.coordinates"},
		{"site circle without radius", "/api/v1/sites", map[string]any{"name": "s", "kind": "depot", "geofence": map[string]any{"type": "Feature", "geometry": map[string]any{"type": "Point", "coordinates": []float64{3.7, 51}}}}, 400, "geofence.properties.radius_m"},
		{"site bad kind", "/api/v1/sites", map[string]any{"name": "s", "kind": "moon", "geofence": circle(3.7, 51, 50)}, 400, "kind"},
		{"customer site without customer", "/api/v1/sites", map[string]any{"name": "s", "kind": "customer_site", "geofence": circle(3.7, 51, 50)}, 400, "customer_id"},
		{"site unknown customer", "/api/v1/sites", map[string]any{"name": "s", "kind": "customer_site", "customer_id": "nobody", "geofence": circle(3.7, 51, 50)}, 400, "customer_id"},
		{"vehicle bad fuel", "/api/v1/vehicles", map[string]any{"plate": "1-ABC-123", "capacity_kg": 10000, "capacity_m3": 20, "fuel_type": "coal", "consumption_per_100km": 30}, 400, "fuel_type"},
		{"vehicle negative capacity", "/api/v1/vehicles", map[string]any{"plate": "1-ABC-123", "capacity_kg": -1, "capacity_m3": 20, "fuel_type": "diesel", "consumption_per_100km": 30}, 400, "capacity_kg"},
		{"vehicle bad tracker id", "/api/v1/vehicles", map[string]any{"plate": "1-ABC-123", "capacity_kg": 10000, "capacity_m3": 20, "fuel_type": "diesel", "consumption_per_100km": 30, "tracker_device_id": "Bad ID"}, 400, "tracker_device_id"},
		{"bin bad EWC", "/api/v1/bins", map[string]any{"site_id": ids["site"], "material": "glass", "ewc_code": "15-01-07", "volume_l": 1100}, 400, "ewc_code"},
		{"bin EWC chapter 21", "/api/v1/bins", map[string]any{"site_id": ids["site"], "material": "glass", "ewc_code": "21 01 01", "volume_l": 1100}, 400, "ewc_code"},
		{"bin unknown site", "/api/v1/bins", map[string]any{"site_id": "nowhere", "material": "glass", "ewc_code": "15 01 07", "volume_l": 1100}, 400, "site_id"},
		{"pickup window reversed", "/api/v1/pickups", map[string]any{"customer_id": "c1", "site_id": ids["site"], "material": "glass", "window_from": "2026-12-01T12:00:00Z", "window_to": "2026-12-01T08:00:00Z"}, 400, "window_to"},
		{"pickup bad time", "/api/v1/pickups", map[string]any{"customer_id": "c1", "site_id": ids["site"], "material": "glass", "window_from": "tomorrow", "window_to": "2026-12-01T08:00:00Z"}, 400, ""},
		{"pickup priority", "/api/v1/pickups", map[string]any{"customer_id": "c1", "site_id": ids["site"], "material": "glass", "priority": 9, "window_from": "2026-12-01T08:00:00Z", "window_to": "2026-12-01T12:00:00Z"}, 400, "priority"},
		{"complaint bad subject", "/api/v1/complaints", map[string]any{"customer_id": "c1", "subject_kind": "weather", "text": "rain"}, 400, "subject_kind"},
		{"complaint unknown pickup", "/api/v1/complaints", map[string]any{"customer_id": "c1", "subject_kind": "pickup", "subject_ref": "nope", "text": "x"}, 400, "subject_ref"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ta.do("POST", tc.path, tok, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			p := r.json(t)
			if tc.field != "" && p["field"] != tc.field {
				t.Fatalf("field %v, want %s: %s", p["field"], tc.field, r.body)
			}
			if !strings.HasPrefix(p["type"].(string), api.ProblemTypeBase) {
				t.Fatalf("type %v", p["type"])
			}
		})
	}
}

func TestResourceCRUD(t *testing.T) {
	ta := newTestAPI(t)
	tok := ta.tok[api.RoleDispatcher]
	depot := ta.must(201, ta.do("POST", "/api/v1/sites", tok, map[string]any{"id": "depot-1", "name": "Depot", "kind": "depot", "geofence": circle(3.70, 51.05, 120)}))
	if loc := depot["location"].([]any); loc[0].(float64) != 3.70 || loc[1].(float64) != 51.05 {
		t.Fatalf("location %v, want the circle's centre", loc)
	}
	v := ta.must(201, ta.do("POST", "/api/v1/vehicles", tok, map[string]any{"plate": "1-abc-123", "capacity_kg": 12000, "capacity_m3": 22, "depot_site_id": "depot-1",
		"fuel_type": "electric", "consumption_per_100km": 110, "tracker_device_id": "trk-1"}))
	if v["plate"] != "1-ABC-123" || v["consumption_unit"] != "kWh" {
		t.Fatalf("vehicle defaults not applied: %v", v)
	}
	id := v["id"].(string)
	ta.must(200, ta.do("GET", "/api/v1/vehicles/"+id, ta.tok[api.RoleYard], nil))
	v["capacity_kg"] = 13000.0
	got := ta.must(200, ta.do("PUT", "/api/v1/vehicles/"+id, tok, v))
	if got["capacity_kg"].(float64) != 13000 {
		t.Fatalf("update not applied: %v", got)
	}
	ta.must(400, ta.do("PUT", "/api/v1/vehicles/"+id, tok, map[string]any{"id": "other", "plate": "X", "capacity_kg": 1, "capacity_m3": 1, "fuel_type": "diesel", "consumption_per_100km": 1}))
	ids := ta.seedCustomer("c1")
	if r := ta.do("DELETE", "/api/v1/sites/"+ids["site"], tok, nil); r.status != 409 {
		t.Fatalf("deleting a site with bins: status %d, want 409: %s", r.status, r.body)
	}
	if r := ta.do("DELETE", "/api/v1/customers/c1", tok, nil); r.status != 409 {
		t.Fatalf("deleting a customer with sites: status %d, want 409: %s", r.status, r.body)
	}
	ta.must(204, ta.do("DELETE", "/api/v1/vehicles/"+id, tok, nil))
	ta.must(404, ta.do("GET", "/api/v1/vehicles/"+id, tok, nil))
	ta.must(404, ta.do("DELETE", "/api/v1/vehicles/"+id, tok, nil))
}

func TestPickupLifecycle(t *testing.T) {
	ta := newTestAPI(t)
	ids := ta.seedCustomer("c1")
	tok := ta.tok[api.RoleDispatcher]
	path := "/api/v1/pickups/" + ids["pickup"] + "/transitions"
	steps := []struct {
		to      string
		status  int
		allowed []string
	}{
		{"collected", 409, []string{"planned", "cancelled"}},
		{"planned", 200, nil},
		{"planned", 409, []string{"collected", "missed", "cancelled", "requested"}},
		{"collected", 200, nil},
		{"cancelled", 409, []string{"delivered"}},
		{"delivered", 200, nil},
		{"requested", 409, []string{}},
		{"lost", 400, nil},
	}
	for _, st := range steps {
		r := ta.do("POST", path, tok, map[string]any{"to": st.to, "note": "by test"})
		if r.status != st.status {
			t.Fatalf("to %s: status %d, want %d: %s", st.to, r.status, st.status, r.body)
		}
		if st.status == 409 {
			p := r.json(t)
			if p["type"] != api.ProblemTypeBase+"conflict" {
				t.Fatalf("type %v", p["type"])
			}
			got, _ := json.Marshal(p["allowed"])
			want, _ := json.Marshal(st.allowed)
			if string(got) != string(want) {
				t.Fatalf("to %s: allowed %s, want %s", st.to, got, want)
			}
		}
	}
	p := ta.must(200, ta.do("GET", "/api/v1/pickups/"+ids["pickup"], ta.tok[api.RoleAuditor], nil))
	if p["status"] != "delivered" {
		t.Fatalf("status %v", p["status"])
	}
	hist := p["history"].([]any)
	wantTo := []string{"requested", "planned", "collected", "delivered"}
	if len(hist) != len(wantTo) {
		t.Fatalf("history %v", hist)
	}
	for i, h := range hist {
		h := h.(map[string]any)
		if h["to"] != wantTo[i] || h["actor"] != "dispatcher:"+ta.tokenID[api.RoleDispatcher] || h["at"] == "" {
			t.Fatalf("history[%d] = %v", i, h)
		}
	}
	// Filters.
	list := ta.must(200, ta.do("GET", "/api/v1/pickups?status=delivered", tok, nil))
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("status filter: %d items", n)
	}
	ta.must(400, ta.do("GET", "/api/v1/pickups?status=lost", tok, nil))
}

func TestComplaintResolve(t *testing.T) {
	ta := newTestAPI(t)
	ids := ta.seedCustomer("c1")
	tok := ta.tok[api.RoleDispatcher]
	c := ta.must(200, ta.do("POST", "/api/v1/complaints/"+ids["complaint"]+"/resolve", tok, map[string]any{"outcome": "credited"}))
	if c["outcome"] != "credited" || c["resolved"] == nil || c["time_to_resolve_s"] == nil && c["resolved"] == "" {
		t.Fatalf("resolved complaint %v", c)
	}
	ta.must(409, ta.do("POST", "/api/v1/complaints/"+ids["complaint"]+"/resolve", tok, map[string]any{"outcome": "again"}))
	ta.must(400, ta.do("POST", "/api/v1/complaints/"+ids["complaint"]+"/resolve", tok, map[string]any{"outcome": ""}))
	open := ta.must(200, ta.do("GET", "/api/v1/complaints?open=true", tok, nil))
	if n := len(open["items"].([]any)); n != 0 {
		t.Fatalf("open complaints: %d", n)
	}
}

func TestPagination(t *testing.T) {
	ta := newTestAPI(t)
	tok := ta.tok[api.RoleDispatcher]
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		id := fmt.Sprintf("cust-%02d", i)
		want[id] = true
		ta.must(201, ta.do("POST", "/api/v1/customers", tok, map[string]any{"id": id, "name": id, "kind": "retailer"}))
	}
	ta.must(201, ta.do("POST", "/api/v1/customers", tok, map[string]any{"id": "other", "name": "other", "kind": "municipality"}))
	seen := map[string]bool{}
	next, pages := "/api/v1/customers?limit=3&kind=retailer", 0
	for next != "" {
		r := ta.must(200, ta.do("GET", next, tok, nil))
		pages++
		for _, it := range r["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] || !want[id] {
				t.Fatalf("page %d: unexpected or repeated %s", pages, id)
			}
			seen[id] = true
		}
		next, _ = r["next"].(string)
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("saw %d items in %d pages, want 7 in 3", len(seen), pages)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=!!", "cursor=" + "bm90LWEtY3Vyc29y"} {
		r := ta.do("GET", "/api/v1/customers?"+q, tok, nil)
		if r.status != 400 || r.json(t)["field"] == nil {
			t.Fatalf("%s: status %d: %s", q, r.status, r.body)
		}
	}
}

func TestLiveViews(t *testing.T) {
	ta := newTestAPI(t)
	ctx := context.Background()
	tok := ta.tok[api.RoleDispatcher]
	ids := ta.seedCustomer("c1")
	for i := 0; i < 3; i++ {
		ta.must(201, ta.do("POST", "/api/v1/vehicles", tok, map[string]any{"id": fmt.Sprintf("veh-%d", i), "plate": fmt.Sprintf("1-ABC-%03d", i),
			"capacity_kg": 10000, "capacity_m3": 20, "fuel_type": "diesel", "consumption_per_100km": 32, "tracker_device_id": fmt.Sprintf("trk-%d", i)}))
	}
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var recs []ingest.Record
	for i := 0; i < 2; i++ { // trk-2 has no fix; trk-x is no vehicle's
		dev := revloop.DeviceID(fmt.Sprintf("trk-%d", i))
		var ps []revloop.Position
		for k := 0; k < 5; k++ {
			ps = append(ps, revloop.Position{Device: dev, Time: t0.Add(time.Duration(k) * time.Minute), Lat: 51.05 + float64(k)*0.001, Lon: 3.7 + float64(i)*0.01, SpeedKmh: 30, Sats: 9})
		}
		ta.tracks.ps[dev] = ps
		recs = append(recs, ingest.Record{Device: dev, Channel: revloop.ChannelGPS, Positions: ps})
	}
	recs = append(recs, ingest.Record{Device: "trk-x", Channel: revloop.ChannelGPS, Positions: []revloop.Position{{Device: "trk-x", Time: t0, Lat: 1, Lon: 1}}})
	recs = append(recs, ingest.Record{Device: "fill-c1", Channel: revloop.ChannelFill, Fills: []revloop.FillReading{{Device: "fill-c1", Time: t0, LevelPct: 91}}})
	if err := ta.live.Observe(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// A late fix must not replace the newer one.
	ta.live.Observe(ctx, []ingest.Record{{Positions: []revloop.Position{{Device: "trk-0", Time: t0.Add(-time.Hour), Lat: 10, Lon: 10}}}})
	ta.live.Refresh(ctx)

	r := ta.do("GET", "/api/v1/fleet/positions", tok, nil)
	fc := ta.must(200, r)
	feats := fc["features"].([]any)
	if len(feats) != 2 {
		t.Fatalf("features: %d, want 2: %s", len(feats), r.body)
	}
	f0 := feats[0].(map[string]any)
	coords := f0["geometry"].(map[string]any)["coordinates"].([]any)
	if f0["id"] != "veh-0" || coords[1].(float64) != 51.054 || f0["properties"].(map[string]any)["plate"] != "1-ABC-000" {
		t.Fatalf("first feature %v", f0)
	}
	rg := ta.do("GET", "/api/v1/fleet/positions", tok, nil, "Accept-Encoding", "gzip")
	zr, err := gzip.NewReader(bytes.NewReader(rg.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, r.body) || rg.header.Get("Content-Encoding") != "gzip" {
		t.Fatal("gzip body differs from the plain one")
	}
	if nm := ta.do("GET", "/api/v1/fleet/positions", tok, nil, "If-None-Match", r.header.Get("ETag")); nm.status != 304 {
		t.Fatalf("If-None-Match: status %d", nm.status)
	}
	ta.must(403, ta.do("GET", "/api/v1/fleet/positions", ta.customerToken("c9"), nil))

	// Track.
	tr := ta.must(200, ta.do("GET", "/api/v1/vehicles/veh-1/track?from=2026-11-26T08:01:00Z&to=2026-11-26T08:04:00Z", tok, nil))
	geom := tr["geometry"].(map[string]any)
	if geom["type"] != "LineString" || len(geom["coordinates"].([]any)) != 3 {
		t.Fatalf("track %v", tr)
	}
	gpx := ta.do("GET", "/api/v1/vehicles/veh-1/track?from=2026-11-26T07:00:00Z&to=2026-11-26T09:00:00Z&format=gpx", tok, nil)
	var doc struct {
		Trk struct {
			Seg struct {
				Pts []struct {
					Lat  float64 `xml:"lat,attr"`
					Time string  `xml:"time"`
				} `xml:"trkpt"`
			} `xml:"trkseg"`
		} `xml:"trk"`
	}
	if err := xml.Unmarshal(gpx.body, &doc); err != nil || len(doc.Trk.Seg.Pts) != 5 || doc.Trk.Seg.Pts[4].Lat != 51.054 {
		t.Fatalf("gpx: %v %+v", err, doc)
	}
	for _, q := range []string{"from=yesterday", "from=2026-11-26T09:00:00Z&to=2026-11-26T08:00:00Z", "from=2026-01-01T00:00:00Z&to=2026-11-26T08:00:00Z", "format=kml"} {
		ta.must(400, ta.do("GET", "/api/v1/vehicles/veh-1/track?"+q, tok, nil))
	}
	ta.must(404, ta.do("GET", "/api/v1/vehicles/nope/track", tok, nil))

	// Bins with their current fill, in both spellings.
	for _, p := range []string{"/api/v1/bins.geojson", "/api/v1/bins?format=geojson"} {
		fc := ta.must(200, ta.do("GET", p, tok, nil))
		feats := fc["features"].([]any)
		if len(feats) != 1 {
			t.Fatalf("%s: %d features", p, len(feats))
		}
		props := feats[0].(map[string]any)["properties"].(map[string]any)
		if props["bin"] != ids["bin"] || props["level_pct"].(float64) != 91 || props["full"] != true {
			t.Fatalf("%s: %v", p, props)
		}
	}
}

func TestStream(t *testing.T) {
	ta := newTestAPI(t)
	srv := httptest.NewServer(ta.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream?types=position", nil)
	req.Header.Set("Authorization", "Bearer "+ta.tok[api.RoleDispatcher])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	buf := make([]byte, 4096)
	n, _ := res.Body.Read(buf) // the opening comment: the subscription exists now
	if !strings.HasPrefix(string(buf[:n]), ":") {
		t.Fatalf("opening %q", buf[:n])
	}
	ta.live.PublishEvent(map[string]any{"kind": "fence_enter"}) // filtered out by types
	ta.live.Observe(ctx, []ingest.Record{{Positions: []revloop.Position{{Device: "trk-9", Time: time.Now(), Lat: 51, Lon: 3.7}}}})
	var got strings.Builder
	for !strings.Contains(got.String(), "\n\n") {
		n, err := res.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, got.String())
		}
	}
	if !strings.HasPrefix(got.String(), "event: position\ndata: {\"type\":\"Feature\"") {
		t.Fatalf("stream sent %q", got.String())
	}
	ta.must(400, ta.do("GET", "/api/v1/stream?types=gossip", ta.tok[api.RoleDispatcher], nil))
}

// countingWriter is a ResponseWriter that only counts, so that the
// benchmark measures the handler rather than a recorder's copying.
type countingWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(code int)        { w.code = code }
func (w *countingWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkFleetPositions10k measures the server side of GET
// /api/v1/fleet/positions with 10,000 vehicles (gzip), without the network.
func BenchmarkFleetPositions10k(b *testing.B) {
	ta := newTestAPI(b)
	ctx := context.Background()
	vs := make([]dispatch.Vehicle, 10000)
	ps := make([]revloop.Position, len(vs))
	for i := range vs {
		vs[i] = dispatch.Vehicle{ID: fmt.Sprintf("veh-%05d", i), Plate: fmt.Sprintf("%d-ABC-%03d", 1+i/1000, i%1000), CapacityKg: 1e4, CapacityM3: 20,
			FuelType: "diesel", ConsumptionPer100Km: 30, TrackerDeviceID: fmt.Sprintf("trk-%05d", i)}
		ps[i] = revloop.Position{Device: revloop.DeviceID(vs[i].TrackerDeviceID), Time: time.Now(), Lat: 51 + float64(i)*1e-5, Lon: 3.7, SpeedKmh: 30}
	}
	if err := ta.store.ImportVehicles(ctx, vs); err != nil {
		b.Fatal(err)
	}
	ta.live.Observe(ctx, []ingest.Record{{Positions: ps}})
	ta.live.Refresh(ctx)
	tok := ta.tok[api.RoleDispatcher]
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/api/v1/fleet/positions", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept-Encoding", "gzip")
			w := &countingWriter{h: http.Header{}}
			ta.h.ServeHTTP(w, req)
			if w.code != 200 || w.n < 10000 {
				b.Fatalf("status %d, %d bytes", w.code, w.n)
			}
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(api.EncodeCursor("cust-01"))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, c string) {
		after, err := api.DecodeCursor(c)
		if err != nil {
			if !errors.Is(err, revloop.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if api.EncodeCursor(after) != c && c != "" {
			// Equivalent encodings are fine as long as they decode the same.
			if again, err := api.DecodeCursor(api.EncodeCursor(after)); err != nil || again != after {
				t.Fatalf("%q -> %q -> %q, %v", c, after, again, err)
			}
		}
	})
}
