package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/embedded"
)

// fleetEnv is an API with the dispatch and fleet areas over one state
// store and an embedded time-series store, fed by simulated devices.
type fleetEnv struct {
	t       *testing.T
	db      *store.DB
	ts      timeseries.Store
	h       http.Handler
	disp    *dispatch.Store
	fleet   *fleet.Service
	alerts  *alerts.Service
	deliver *alerts.Deliverer
	live    *dispatch.Live
	tok     map[api.Role]string
	now     time.Time
	mu      sync.Mutex
}

func (e *fleetEnv) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

func (e *fleetEnv) setClock(t time.Time) { e.mu.Lock(); e.now = t; e.mu.Unlock() }

func (e *fleetEnv) get(path, token string) (int, []byte) {
	e.t.Helper()
	return e.send("GET", path, token, nil)
}

func (e *fleetEnv) send(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// getJSON asserts a 200 and decodes the body into v.
func (e *fleetEnv) getJSON(path, token string, v any) {
	e.t.Helper()
	code, body := e.get(path, token)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
}

// allPages follows next links and returns every item.
func allItems[T any](e *fleetEnv, path, token string) []T {
	e.t.Helper()
	var out []T
	for path != "" {
		var page struct {
			Items []T    `json:"items"`
			Next  string `json:"next"`
		}
		e.getJSON(path, token, &page)
		out = append(out, page.Items...)
		path = page.Next
	}
	return out
}

func newFleetEnv(t *testing.T, db *store.DB, start time.Time) *fleetEnv {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ts, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &fleetEnv{t: t, db: db, ts: ts, disp: dispatch.New(db), tok: map[api.Role]string{}, now: start}
	tokens := accounts.New(db, 0)
	for _, r := range []api.Role{api.RoleAdmin, api.RoleDispatcher, api.RoleYard, api.RoleAuditor} {
		_, secret, err := tokens.Create(ctx, r, "", string(r))
		if err != nil {
			t.Fatal(err)
		}
		e.tok[r] = secret
	}
	live := dispatch.NewLive(log, dispatch.LiveOptions{StreamBuffer: 1 << 16}, e.disp, nil)
	e.live = live
	e.alerts = alerts.New(db, live, nil).WithClock(e.clock)
	e.deliver = alerts.NewDeliverer(log, db, nil, alerts.DeliverOptions{Now: e.clock, Backoff: time.Second, MaxAttempts: 3})
	svc, err := fleet.New(ctx, fleet.Config{Log: log, DB: db, Directory: e.disp, Positions: ts, Fills: ts, Alerts: e.alerts,
		Live: live, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.fleet = svc
	srv := api.New(log, api.Options{}, api.Deps{
		Auth:     tokens,
		Dispatch: api.DispatchDeps{Store: e.disp, Live: live, Tracks: ts},
		Fleet:    api.FleetDeps{Events: svc.Fences, Trips: svc.Trips, Forecasts: svc.Forecasts, Alerts: e.alerts},
	})
	e.h = srv.Handler()
	return e
}

// seed registers the simulated world with dispatch.
func (e *fleetEnv) seed(w *sim.World) {
	e.t.Helper()
	ctx := context.Background()
	for _, c := range w.Customers {
		if _, err := e.disp.CreateCustomer(ctx, dispatch.Customer{ID: c.ID, Name: c.Name, Kind: c.Kind}); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, s := range w.Sites {
		fence, err := json.Marshal(s.Fence)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.disp.CreateSite(ctx, dispatch.Site{ID: s.ID, Name: s.Name, Kind: s.Kind, CustomerID: s.Customer,
			Address: s.Address, Geofence: fence}); err != nil {
			e.t.Fatalf("site %s: %v", s.ID, err)
		}
	}
	for _, v := range w.Vehicles {
		if _, err := e.disp.CreateVehicle(ctx, dispatch.Vehicle{ID: v.ID, Plate: v.Plate, CapacityKg: v.CapacityKg, CapacityM3: v.CapacityM3,
			DepotSiteID: v.Depot, FuelType: v.FuelType, ConsumptionPer100Km: v.ConsumptionPer100Km, ConsumptionUnit: v.ConsumptionUnit,
			TrackerDeviceID: string(v.Tracker)}); err != nil {
			e.t.Fatalf("vehicle %s: %v", v.ID, err)
		}
	}
	for _, b := range w.Bins {
		if _, err := e.disp.CreateBin(ctx, dispatch.Bin{ID: b.ID, SiteID: b.Site, Material: b.Material, EWCCode: b.EWC,
			VolumeL: b.VolumeM3 * 1000, FillSensorDeviceID: string(b.Sensor), ThresholdPct: 80}); err != nil {
			e.t.Fatalf("bin %s: %v", b.ID, err)
		}
	}
	if err := e.fleet.Refresh(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// feed writes records to the time-series store, then hands them to the
// fleet's observers, as the ingest pipeline does.
func (e *fleetEnv) feed(recs []ingest.Record) {
	e.t.Helper()
	ctx := context.Background()
	var pts []timeseries.Point
	for i := range recs {
		pts = ingest.AppendPoints(pts, &recs[i])
	}
	if err := e.ts.Write(ctx, pts); err != nil {
		e.t.Fatal(err)
	}
	for _, o := range e.fleet.Observers() {
		if err := o.Observe(ctx, recs); err != nil {
			e.t.Fatal(err)
		}
	}
}

// run plays the generator until end in batches; it returns the number of
// records fed.
func (e *fleetEnv) run(g *sim.Generator, end time.Time) int {
	e.t.Helper()
	var batch []ingest.Record
	n := 0
	for m := range g.Until(end) {
		if m.Malformed || m.Channel == revloop.ChannelStatus {
			continue
		}
		rec, err := ingest.Decode(m.Topic, m.Payload, m.SendTime)
		if err != nil {
			continue
		}
		batch = append(batch, rec)
		if len(batch) == 500 {
			e.setClock(m.SendTime)
			e.feed(batch)
			n += len(batch)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		e.feed(batch)
		n += len(batch)
	}
	e.setClock(end)
	return n
}

// webhookSink records signed deliveries.
type webhookSink struct {
	mu      sync.Mutex
	secret  string
	fail    int // answer 500 to this many requests first
	got     []alerts.Payload
	badSigs int
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if alerts.Verify(s.secret, r.Header.Get(alerts.SignatureHeader), body, time.Time{}, 0) != nil {
		s.badSigs++
	}
	if s.fail > 0 {
		s.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var p alerts.Payload
	json.Unmarshal(body, &p)
	s.got = append(s.got, p)
}

func TestFleetEndToEndSQLite(t *testing.T) { testFleetEndToEnd(t, storetest.SQLite(t)) }

func TestFleetEndToEndPostgres(t *testing.T) { testFleetEndToEnd(t, storetest.Postgres(t)) }

func testFleetEndToEnd(t *testing.T, db *store.DB) {
	if testing.Short() {
		t.Skip("simulates a day and a half of a fleet")
	}
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 5, 30, 0, 0, sim.Loc) // a Monday
	end := time.Date(2026, 3, 3, 14, 0, 0, 0, sim.Loc)
	w := sim.NewWorld(11, 4, 14)
	e := newFleetEnv(t, db, start)
	e.seed(w)
	admin, disp := e.tok[api.RoleAdmin], e.tok[api.RoleDispatcher]

	// A webhook for every alert; the receiver fails twice first.
	sink := &webhookSink{fail: 2}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	code, body := e.send("POST", "/api/v1/webhooks", admin, map[string]any{"url": hook.URL})
	if code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	var wh alerts.Webhook
	json.Unmarshal(body, &wh)
	sink.secret = wh.Secret
	// The yard opens at 08:00 and is closed on Tuesdays: the early
	// deliveries raise outside_hours alerts.
	weekdays := map[string][]fleet.Interval{}
	for _, d := range []string{"mon", "wed", "thu", "fri", "sat"} {
		weekdays[d] = []fleet.Interval{{Open: "08:00", Close: "18:00"}}
	}
	if code, body := e.send("PUT", "/api/v1/sites/yard-1/hours", admin, map[string]any{"timezone": "Europe/Brussels", "weekly": weekdays}); code != 200 {
		t.Fatalf("put hours: %d %s", code, body)
	}
	// Depots take vehicles back only in the morning: the return at the end
	// of the shift is outside their hours.
	for _, id := range []string{"depot-1", "depot-2"} {
		morning := map[string][]fleet.Interval{"mon": {{Open: "04:00", Close: "12:00"}}, "tue": {{Open: "04:00", Close: "12:00"}}}
		if code, body := e.send("PUT", "/api/v1/sites/"+id+"/hours", admin, map[string]any{"weekly": morning}); code != 200 {
			t.Fatalf("put hours: %d %s", code, body)
		}
	}
	var hours fleet.SiteHours
	e.getJSON("/api/v1/sites/depot-1/hours", disp, &hours)
	if hours.Timezone != "Europe/Brussels" || len(hours.Weekly["mon"]) != 1 {
		t.Errorf("hours read back: %+v", hours)
	}
	if code, _ := e.send("PUT", "/api/v1/sites/depot-1/hours", admin, map[string]any{"weekly": map[string]any{"mon": []any{map[string]string{"open": "18:00", "close": "07:00"}}}}); code != 400 {
		t.Errorf("close before open: %d, want 400", code)
	}
	if code, _ := e.send("PUT", "/api/v1/sites/no-such-site/hours", admin, map[string]any{}); code != 404 {
		t.Errorf("unknown site: %d, want 404", code)
	}
	if code, _ := e.send("PUT", "/api/v1/sites/yard-1/hours", disp, map[string]any{}); code != http.StatusForbidden {
		t.Errorf("dispatcher set hours: %d, want 403", code)
	}

	// Listen to the live stream's derived events.
	sub := e.live.Hub().Subscribe("event")
	streamed := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.C {
			var v struct {
				Type string `json:"type"`
			}
			json.Unmarshal(m.Data, &v)
			streamed[v.Type]++
		}
	}()

	g := sim.NewGenerator(w, start)
	n := e.run(g, end)
	// A fire in one bin and a knocked-over one, late in the run.
	hot := w.Bins[0]
	tilted := w.Bins[1]
	at := end.Add(-time.Minute)
	e.feed([]ingest.Record{
		{Device: hot.Sensor, Channel: revloop.ChannelFill, Fills: []revloop.FillReading{{Device: hot.Sensor, Time: at, LevelPct: 40, TempC: 84, TiltDeg: 1, BatteryV: 3.6}}},
		{Device: tilted.Sensor, Channel: revloop.ChannelFill, Fills: []revloop.FillReading{{Device: tilted.Sensor, Time: at, LevelPct: 40, TempC: 12, TiltDeg: 75, BatteryV: 3.6}}},
	})
	// A tracker went offline (as recorded by device health).
	if _, err := db.Exec(ctx, `INSERT INTO device_events (device_id, kind, at_ms, detail) VALUES (?, ?, ?, ?)`,
		string(w.Vehicles[0].Tracker), "device_offline", store.Millis(at), `{"silence_s":600}`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fleet.Monitor.PollOffline(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records fed", n)
	e.live.Hub().Unsubscribe(sub)
	<-done
	t.Logf("live stream: %v", streamed)
	if streamed["fence"] == 0 || streamed["alert"] == 0 {
		t.Errorf("live stream carried %v, want fence events and alerts", streamed)
	}

	// Geofence events match the simulated stops at sites.
	events := allItems[fleet.Event](e, "/api/v1/events?limit=500", disp)
	if len(events) == 0 {
		t.Fatal("no geofence events")
	}
	vehicleIDs := map[string]bool{}
	for _, v := range w.Vehicles {
		vehicleIDs[v.ID] = true
	}
	// Visits per vehicle and site: enter to exit (or the end of the run).
	type visit struct{ from, to time.Time }
	visits := map[string][]visit{} // vehicle|site
	for _, ev := range events {
		if !vehicleIDs[ev.Vehicle] {
			t.Errorf("event %s names vehicle %q, not a registered vehicle", ev.ID, ev.Vehicle)
		}
		k := ev.Vehicle + "|" + ev.SiteID
		switch ev.Kind {
		case "fence_enter":
			visits[k] = append(visits[k], visit{ev.Time, end.Add(time.Hour)})
		case "fence_exit":
			if vs := visits[k]; len(vs) > 0 && vs[len(vs)-1].from.Equal(ev.Since) {
				vs[len(vs)-1].to = ev.Time
			} else {
				t.Errorf("exit %s without its enter", ev.ID)
			}
		}
	}
	fences := map[string]*geo.Fence{}
	for _, s := range w.Sites {
		fences[s.ID] = s.Fence
	}
	// Every simulated halt of 3 min+ inside a site's fence lies within a
	// visit of that site.
	matched, atSites := 0, 0
	for _, st := range g.VehicleStops() {
		if st.End.Sub(st.Start) < 3*time.Minute || st.End.After(end) {
			continue
		}
		site := ""
		for id, f := range fences {
			if f.Contains([2]float64{st.Lon, st.Lat}) {
				site = id
			}
		}
		if site == "" {
			continue
		}
		atSites++
		mid := st.Start.Add(st.End.Sub(st.Start) / 2)
		for _, v := range visits[st.Vehicle+"|"+site] {
			if !mid.Before(v.from) && mid.Before(v.to) {
				matched++
				break
			}
		}
	}
	t.Logf("%d events; %d of %d simulated halts at sites lie within a visit", len(events), matched, atSites)
	if atSites == 0 || float64(matched) < 0.95*float64(atSites) {
		t.Errorf("only %d of %d halts at sites lie within a visit", matched, atSites)
	}
	// Pagination and filters.
	var page struct {
		Items []fleet.Event `json:"items"`
		Next  string        `json:"next"`
	}
	e.getJSON("/api/v1/events?limit=2&kind=fence_exit&vehicle="+w.Vehicles[0].ID, disp, &page)
	for _, ev := range page.Items {
		if ev.Kind != "fence_exit" || ev.Vehicle != w.Vehicles[0].ID {
			t.Errorf("filtered list returned %+v", ev)
		}
	}
	// A customer sees only events at its own sites.
	custTok := e.customerToken("cust-city")
	for _, ev := range allItems[fleet.Event](e, "/api/v1/events?limit=500", custTok) {
		if s := siteOf(w, ev.SiteID); s == nil || s.Customer != "cust-city" {
			t.Errorf("customer cust-city sees event at site %s", ev.SiteID)
		}
	}

	// Trips and stops of the first full day agree with the simulation.
	var day fleet.VehicleDay
	v := w.Vehicles[0]
	e.getJSON("/api/v1/vehicles/"+v.ID+"/trips?date=2026-03-02&min_stop=3m&min_trip_m=300", disp, &day)
	if len(day.Trips) == 0 || day.Summary.DistanceKm <= 0 || day.Summary.DrivingS <= 0 {
		t.Fatalf("trips of %s: %+v", v.ID, day.Summary)
	}
	truth := 0
	found := 0
	for _, st := range g.VehicleStops() {
		if st.Vehicle != v.ID || st.End.Sub(st.Start) < 5*time.Minute || st.Start.In(sim.Loc).Day() != 2 {
			continue
		}
		truth++
		for _, s := range day.Stops {
			if s.Start.Before(st.End) && s.End.After(st.Start) {
				found++
				break
			}
		}
	}
	t.Logf("%s on 2026-03-02: %d trips, %.1f km, %d stops; %d of %d simulated stops of 5 min+ detected",
		v.ID, len(day.Trips), day.Summary.DistanceKm, len(day.Stops), found, truth)
	if truth > 0 && float64(found) < 0.8*float64(truth) {
		t.Errorf("detected %d of %d stops", found, truth)
	}
	code, body = e.get("/api/v1/reports/trips?from=2026-03-02&to=2026-03-03&format=csv", disp)
	if code != 200 {
		t.Fatalf("csv report: %d %s", code, body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) < 1+len(w.Vehicles) || strings.Join(rows[0], ",") != strings.Join(geo.SummaryCSVHeader, ",") {
		t.Errorf("csv report: %v %q", err, rows)
	}

	// Forecasts: bins with history have one; the due list respects the
	// horizon; a customer sees only its bins.
	var due struct {
		Items []fleet.BinForecast `json:"items"`
	}
	e.getJSON("/api/v1/bins/forecast?horizon=720h", disp, &due)
	if len(due.Items) == 0 {
		t.Fatal("no bin is due within 30 days")
	}
	for i, f := range due.Items {
		if !f.AlreadyFull && f.FullAt.After(end.Add(720*time.Hour)) {
			t.Errorf("bin %s full at %s, beyond the horizon", f.BinID, f.FullAt)
		}
		if i > 0 && f.FullAt.Before(due.Items[i-1].FullAt) {
			t.Errorf("due list not sorted by full_at")
		}
	}
	var short struct {
		Items []fleet.BinForecast `json:"items"`
	}
	e.getJSON("/api/v1/bins/forecast?horizon=1h", disp, &short)
	if len(short.Items) > len(due.Items) {
		t.Errorf("a shorter horizon lists more bins")
	}
	var one fleet.BinHistory
	e.getJSON("/api/v1/bins/"+due.Items[0].BinID+"/forecast", disp, &one)
	if len(one.History) < 3 || one.Forecast.BinID != due.Items[0].BinID {
		t.Errorf("bin forecast: %d history points, %+v", len(one.History), one.Forecast)
	}
	if code, _ := e.get("/api/v1/bins/no-such-bin/forecast", disp); code != 404 {
		t.Errorf("unknown bin: %d", code)
	}
	for _, f := range allItems[fleet.BinForecast](e, "/api/v1/bins/forecast?horizon=1440h", custTok) {
		if f.CustomerID != "cust-city" {
			t.Errorf("customer sees bin %s of %s", f.BinID, f.CustomerID)
		}
	}

	// Alerts: fire, tilt, device offline, a yard visit outside its hours.
	kinds := map[string]int{}
	injected := map[string]int{}
	for _, a := range allItems[alerts.Alert](e, "/api/v1/alerts?limit=500", disp) {
		kinds[a.Kind]++
		if a.Time.Equal(at) {
			injected[a.Kind+"|"+a.Subject]++
		}
	}
	t.Logf("alerts by kind: %v", kinds)
	for _, k := range []string{alerts.KindFireSuspicion, alerts.KindTilt, alerts.KindDeviceOffline, alerts.KindOutsideHours} {
		if kinds[k] == 0 {
			t.Errorf("no %s alert", k)
		}
	}
	if injected[alerts.KindFireSuspicion+"|"+hot.ID] != 1 || injected[alerts.KindTilt+"|"+tilted.ID] != 1 {
		t.Errorf("the injected fire and tilt raised %v", injected)
	}
	// Delivery: two 500s, then everything arrives signed.
	total := 0
	for _, c := range kinds {
		total += c
	}
	for i := 0; i < 10; i++ {
		e.setClock(e.clock().Add(time.Minute))
		if _, err := e.deliver.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sink.mu.Lock()
	if len(sink.got) != total || sink.badSigs != 0 {
		t.Errorf("webhook received %d of %d alerts, %d bad signatures", len(sink.got), total, sink.badSigs)
	}
	sink.mu.Unlock()
	if pending := allItems[alerts.Alert](e, "/api/v1/alerts?state=pending&limit=500", disp); len(pending) != 0 {
		t.Errorf("%d alerts still pending", len(pending))
	}
	if code, body := e.get("/api/v1/alerts?state=nope", disp); code != 400 {
		t.Errorf("bad state: %d %s", code, body)
	}
}

func siteOf(w *sim.World, id string) *sim.Site {
	for _, s := range w.Sites {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (e *fleetEnv) customerToken(id string) string {
	e.t.Helper()
	_, secret, err := accounts.New(e.db, 0).Create(context.Background(), api.RoleCustomer, id, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// TestFleetLateBurst delivers a vehicle's visit out of order (a dead zone
// released as one burst after later fixes) and expects the same events as
// in order, with no duplicates.
func TestFleetLateBurst(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e := newFleetEnv(t, storetest.SQLite(t), start)
	if _, err := e.disp.CreateCustomer(ctx, dispatch.Customer{ID: "c1", Name: "C1"}); err != nil {
		t.Fatal(err)
	}
	fence := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[3.72,51.05]},"properties":{"radius_m":50}}`)
	if _, err := e.disp.CreateSite(ctx, dispatch.Site{ID: "dp-1", Name: "Drop point", Kind: "drop_point", CustomerID: "c1", Geofence: json.RawMessage(fence)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.disp.CreateVehicle(ctx, dispatch.Vehicle{ID: "veh-1", Plate: "1-ABC-123", CapacityKg: 8000, CapacityM3: 16, FuelType: "diesel",
		ConsumptionPer100Km: 35, TrackerDeviceID: "trk-1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.fleet.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// 40 min: approach, 15 min inside, leave. One fix every 10 s.
	var fixes []revloop.Position
	centre := [2]float64{3.72, 51.05}
	for i := 0; i < 240; i++ {
		at := start.Add(time.Duration(i) * 10 * time.Second)
		var d float64
		switch {
		case i < 60:
			d = float64(60-i) * 20 // approach from 1200 m
		case i < 150:
			d = 5
		default:
			d = float64(i-150) * 20
		}
		p := geo.Destination(centre, 90, d)
		fixes = append(fixes, revloop.Position{Device: "trk-1", Time: at, Lat: p[1], Lon: p[0], SpeedKmh: math.NaN(), OdometerKm: math.NaN()})
	}
	rec := func(ps []revloop.Position) ingest.Record {
		return ingest.Record{Device: "trk-1", Channel: revloop.ChannelGPS, Positions: ps}
	}
	// The visit (fixes 50..170) arrives last, as one burst; everything is
	// delivered twice.
	order := [][]revloop.Position{fixes[:50], fixes[170:], fixes[50:170], fixes[:50], fixes[50:170]}
	for _, ps := range order {
		e.feed([]ingest.Record{rec(ps)})
	}
	evs := allItems[fleet.Event](e, "/api/v1/events", e.tok[api.RoleDispatcher])
	got := map[string]time.Time{}
	for _, ev := range evs {
		if _, dup := got[ev.Kind]; dup {
			t.Errorf("two %s events", ev.Kind)
		}
		got[ev.Kind] = ev.Time
	}
	cases := []struct {
		kind string
		want time.Time
	}{
		{"fence_enter", start.Add(58 * 10 * time.Second)}, // first fix within 50 m
		{"fence_dwell", start.Add(58*10*time.Second + 5*time.Minute)},
		{"fence_exit", start.Add(154 * 10 * time.Second)}, // first fix beyond 50 m + 25 m buffer
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			at, ok := got[c.kind]
			if !ok {
				t.Fatalf("no %s event in %+v", c.kind, evs)
			}
			if d := at.Sub(c.want); d < -10*time.Second || d > 10*time.Second {
				t.Errorf("%s at %s, want about %s", c.kind, at, c.want)
			}
		})
	}
	if len(evs) != 3 {
		t.Errorf("%d events, want 3: %+v", len(evs), evs)
	}
	if code, body := e.get("/api/v1/events?kind=bogus", e.tok[api.RoleDispatcher]); code != 400 {
		t.Errorf("bogus kind: %d %s", code, body)
	}
	if code, body := e.get("/api/v1/events?from="+url.QueryEscape("not a time"), e.tok[api.RoleDispatcher]); code != 400 {
		t.Errorf("bogus from: %d %s", code, body)
	}
}

// testFleetDeps builds the fleet area for a newTestAPI server: fleet and
// alert services over its state store and dispatch registry, with an empty
// embedded time-series store. allAreas mounts it with
// d.Fleet = testFleetDeps(t, ta).
func testFleetDeps(t testing.TB, ta *testAPI) api.FleetDeps {
	ctx := context.Background()
	ts, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	al := alerts.New(ta.db, ta.live, nil)
	svc, err := fleet.New(ctx, fleet.Config{DB: ta.db, Directory: ta.store, Positions: ts, Fills: ts, Alerts: al, Live: ta.live})
	if err != nil {
		t.Fatal(err)
	}
	return api.FleetDeps{Events: svc.Fences, Trips: svc.Trips, Forecasts: svc.Forecasts, Alerts: al}
}
