package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

// fakeDir is an in-memory registry.
type fakeDir struct {
	vehicles []dispatch.Vehicle
	sites    []dispatch.Site
	bins     []dispatch.Bin
}

func (d *fakeDir) AllVehicles(context.Context) ([]dispatch.Vehicle, error) { return d.vehicles, nil }
func (d *fakeDir) ListSites(context.Context, dispatch.Scope, dispatch.SiteFilter, dispatch.Page) ([]dispatch.Site, string, error) {
	return d.sites, "", nil
}
func (d *fakeDir) ListBins(context.Context, dispatch.Scope, dispatch.BinFilter, dispatch.Page) ([]dispatch.Bin, string, error) {
	return d.bins, "", nil
}

// fakeSeries serves readings from memory.
type fakeSeries struct {
	mu    sync.Mutex
	fills map[revloop.DeviceID][]revloop.FillReading // sorted by time
	fixes map[revloop.DeviceID][]revloop.Position    // sorted by time
}

func (s *fakeSeries) FillHistory(_ context.Context, dev revloop.DeviceID, from, to time.Time) ([]revloop.FillReading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.fills[dev]
	i := sort.Search(len(rs), func(i int) bool { return !rs[i].Time.Before(from) })
	j := sort.Search(len(rs), func(i int) bool { return !rs[i].Time.Before(to) })
	return append([]revloop.FillReading(nil), rs[i:j]...), nil
}

func (s *fakeSeries) Positions(_ context.Context, dev revloop.DeviceID, from, to time.Time) ([]revloop.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []revloop.Position
	for _, p := range s.fixes[dev] {
		if !p.Time.Before(from) && p.Time.Before(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newService(t *testing.T, db *store.DB, dir *fakeDir, ts *fakeSeries, clk *testClock) (*fleet.Service, *alerts.Service) {
	t.Helper()
	al := alerts.New(db, nil, nil).WithClock(clk.now)
	svc, err := fleet.New(context.Background(), fleet.Config{DB: db, Directory: dir, Positions: ts, Fills: ts, Alerts: al, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, al
}

// TestForecastAccuracy scores the service's predicted full times against
// the simulator's true fill process: bins traced for four weeks with their
// sensor noise and outliers, forecast every 12 hours of the last two weeks.
func TestForecastAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("traces 30 bins for four weeks")
	}
	start := time.Date(2026, 2, 2, 0, 0, 0, 0, sim.Loc)
	end := start.AddDate(0, 0, 28)
	w := sim.NewWorld(3, 1, 30)
	dir := &fakeDir{}
	ts := &fakeSeries{fills: map[revloop.DeviceID][]revloop.FillReading{}}
	truth := map[string][]sim.TracePoint{}
	for _, b := range w.Bins {
		trace, _ := w.BinTrace(b, start, end, 95)
		truth[b.ID] = trace
		for _, p := range trace {
			ts.fills[b.Sensor] = append(ts.fills[b.Sensor], p.Reading)
		}
		dir.bins = append(dir.bins, dispatch.Bin{ID: b.ID, SiteID: b.Site, Material: b.Material, VolumeL: b.VolumeM3 * 1000,
			FillSensorDeviceID: string(b.Sensor), ThresholdPct: 80})
	}
	clk := &testClock{t: start}
	svc, _ := newService(t, storetest.Migrated(t, storetest.SQLite), dir, ts, clk)
	ctx := context.Background()
	const threshold = 80.0
	var absErrH, horizonH []float64
	within := 0
	for asOf := start.AddDate(0, 0, 14); asOf.Before(end.AddDate(0, 0, -4)); asOf = asOf.Add(12 * time.Hour) {
		clk.set(asOf)
		for _, b := range w.Bins {
			// The sensor's newest reading at asOf, and the true level then.
			tr := truth[b.ID]
			k := sort.Search(len(tr), func(i int) bool { return tr[i].Reading.Time.After(asOf) }) - 1
			if k < 0 || tr[k].TrueLevelPct >= threshold-5 {
				continue // already (nearly) full: nothing to predict
			}
			at := tr[k].Reading.Time
			want, ok := b.Fill.TimeToReach(tr[k].TrueLevelPct, at, threshold, 30*24*time.Hour)
			if !ok || want.Sub(at) > 10*24*time.Hour {
				continue
			}
			// Readings up to asOf only: a new forecast.
			svc.Forecasts.Observe(ctx, []ingest.Record{{Device: b.Sensor, Fills: []revloop.FillReading{tr[k].Reading}}})
			got, err := svc.Forecasts.Bin(ctx, "", b.ID)
			if err != nil {
				t.Fatalf("%s at %s: %v", b.ID, asOf, err)
			}
			f := got.Forecast
			if f.FullAt.IsZero() {
				t.Errorf("%s at %s: no full time, truth %s", b.ID, asOf, want)
				continue
			}
			e := math.Abs(f.FullAt.Sub(want).Hours())
			absErrH = append(absErrH, e)
			horizonH = append(horizonH, want.Sub(at).Hours())
			if !want.Before(f.Low) && !want.After(f.High) {
				within++
			}
		}
	}
	if len(absErrH) < 200 {
		t.Fatalf("only %d forecasts scored", len(absErrH))
	}
	mae, meanH := mean(absErrH), mean(horizonH)
	sort.Float64s(absErrH)
	p90 := absErrH[len(absErrH)*9/10]
	t.Logf("forecasts scored: %d; MAE of full_at %.1f h (p90 %.1f h) for a mean time to full of %.1f h (%.0f %%); truth within the band: %.0f %%",
		len(absErrH), mae, p90, meanH, 100*mae/meanH, 100*float64(within)/float64(len(absErrH)))
	if mae > 0.25*meanH {
		t.Errorf("MAE %.1f h exceeds a quarter of the mean time to full (%.1f h)", mae, meanH)
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestMonitorAlerts checks the sensor limits: one alert per condition
// episode, however often it is reported, a new one after it cleared.
func TestMonitorAlerts(t *testing.T) {
	ctx := context.Background()
	db := storetest.Migrated(t, storetest.SQLite)
	dir := &fakeDir{
		sites: []dispatch.Site{{ID: "s1", CustomerID: "c1", Geofence: json.RawMessage(`{"type":"Feature","geometry":{"type":"Point","coordinates":[3.7,51]},"properties":{"radius_m":30}}`)}},
		bins:  []dispatch.Bin{{ID: "bin-1", SiteID: "s1", CustomerID: "c1", Material: "glass", VolumeL: 3000, FillSensorDeviceID: "fill-1", ThresholdPct: 80}},
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	clk := &testClock{t: t0}
	svc, al := newService(t, db, dir, &fakeSeries{}, clk)
	r := func(min int, level, temp, tilt float64) revloop.FillReading {
		return revloop.FillReading{Device: "fill-1", Time: t0.Add(time.Duration(min) * time.Minute), LevelPct: level, TempC: temp, TiltDeg: tilt}
	}
	steps := []struct {
		name    string
		reading revloop.FillReading
		want    map[string]int // alerts of each kind so far
	}{
		{"normal", r(0, 40, 15, 2), map[string]int{}},
		{"full", r(30, 82, 15, 2), map[string]int{"bin_full": 1}},
		{"still full", r(60, 90, 15, 2), map[string]int{"bin_full": 1}},
		{"late reading ignored", r(45, 10, 15, 2), map[string]int{"bin_full": 1}},
		{"just below: not cleared", r(90, 75, 15, 2), map[string]int{"bin_full": 1}},
		{"emptied", r(120, 5, 15, 2), map[string]int{"bin_full": 1}},
		{"full again", r(150, 85, 15, 2), map[string]int{"bin_full": 2}},
		{"fast rise", r(170, 85, 32, 2), map[string]int{"bin_full": 2, "fire_suspicion": 1}},
		{"hot", r(180, 85, 75, 2), map[string]int{"bin_full": 2, "fire_suspicion": 1}},
		{"tilted", r(190, 85, 75, 45), map[string]int{"bin_full": 2, "fire_suspicion": 1, "tilt": 1}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rec := ingest.Record{Device: "fill-1", Channel: revloop.ChannelFill, Fills: []revloop.FillReading{s.reading}}
			// Delivered twice, as after a redelivery.
			for i := 0; i < 2; i++ {
				if err := svc.Monitor.Observe(ctx, []ingest.Record{rec}); err != nil {
					t.Fatal(err)
				}
			}
			as, err := al.List(ctx, alerts.Filter{}, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, a := range as {
				got[a.Kind]++
				if a.Subject != "bin-1" || a.SiteID != "s1" || a.CustomerID != "c1" {
					t.Errorf("alert %+v", a)
				}
			}
			for k, n := range s.want {
				if got[k] != n {
					t.Errorf("%s: %d alerts, want %d (all: %v)", k, got[k], n, got)
				}
			}
			if len(got) != len(s.want) {
				t.Errorf("alerts %v, want %v", got, s.want)
			}
		})
	}
	// A restarted monitor knows which conditions are open.
	svc2, _ := newService(t, db, dir, &fakeSeries{}, clk)
	if err := svc2.Monitor.Observe(ctx, []ingest.Record{{Device: "fill-1", Fills: []revloop.FillReading{r(200, 88, 76, 50)}}}); err != nil {
		t.Fatal(err)
	}
	if as, _ := al.List(ctx, alerts.Filter{}, "", 100); len(as) != 4 {
		t.Errorf("after a restart: %d alerts, want still 4", len(as))
	}
}

func TestSiteHours(t *testing.T) {
	cases := []struct {
		name string
		h    fleet.SiteHours
		at   time.Time
		ok   bool
		open bool
	}{
		{"open monday morning", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"mon": {{Open: "07:00", Close: "12:00"}}}},
			time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), true, true}, // 10:00 in Brussels
		{"closed after hours", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"mon": {{Open: "07:00", Close: "12:00"}}}},
			time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC), true, false},
		{"closed on a missing day", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"mon": {{Open: "00:00", Close: "24:00"}}}},
			time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC), true, false},
		{"other zone", fleet.SiteHours{Timezone: "UTC", Weekly: map[string][]fleet.Interval{"mon": {{Open: "07:00", Close: "12:00"}}}},
			time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC), true, true},
		{"bad zone", fleet.SiteHours{Timezone: "Mars/Olympus"}, time.Time{}, false, false},
		{"bad day", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"monday": nil}}, time.Time{}, false, false},
		{"bad time", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"mon": {{Open: "7h", Close: "12:00"}}}}, time.Time{}, false, false},
		{"close before open", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"mon": {{Open: "12:00", Close: "07:00"}}}}, time.Time{}, false, false},
		{"25 o'clock", fleet.SiteHours{Weekly: map[string][]fleet.Interval{"mon": {{Open: "07:00", Close: "25:00"}}}}, time.Time{}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.h.Validate()
			if (err == nil) != c.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, c.ok)
			}
			if c.ok && c.h.Open(c.at) != c.open {
				t.Errorf("Open(%s) = %v, want %v", c.at, !c.open, c.open)
			}
		})
	}
}

// BenchmarkForecastsDue lists the due bins of 1,000 bins with two weeks of
// hourly readings each: "cold" recomputes every forecast, "cached" serves
// them from the per-bin cache.
func BenchmarkForecastsDue(b *testing.B) {
	start := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	dir := &fakeDir{}
	ts := &fakeSeries{fills: map[revloop.DeviceID][]revloop.FillReading{}}
	for i := 0; i < 1000; i++ {
		dev := revloop.DeviceID(fmt.Sprintf("fill-%04d", i))
		rate := 0.3 + float64(i%10)*0.1
		for h := 0; h < 14*24; h++ {
			lvl := math.Mod(float64(h)*rate, 90)
			ts.fills[dev] = append(ts.fills[dev], revloop.FillReading{Device: dev, Time: start.Add(time.Duration(h) * time.Hour), LevelPct: lvl})
		}
		dir.bins = append(dir.bins, dispatch.Bin{ID: fmt.Sprintf("bin-%04d", i), SiteID: "s", Material: "paper", VolumeL: 2500,
			FillSensorDeviceID: string(dev), ThresholdPct: 80})
	}
	clk := &testClock{t: start.Add(14 * 24 * time.Hour)}
	db := storetest.Migrated(b, storetest.SQLite)
	al := alerts.New(db, nil, nil)
	svc, err := fleet.New(context.Background(), fleet.Config{DB: db, Directory: dir, Positions: ts, Fills: ts, Alerts: al, Now: clk.now,
		Forecast: fleet.ForecastOptions{TTL: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			var recs []ingest.Record
			for dev := range ts.fills {
				recs = append(recs, ingest.Record{Device: dev, Fills: []revloop.FillReading{{}}})
			}
			svc.Forecasts.Observe(ctx, recs) // every forecast stale
			if _, err := svc.Forecasts.Due(ctx, "", 48*time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Forecasts.Due(ctx, "", 48*time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFencesRestart stops the fence engine in the middle of a vehicle's
// day and starts a new one over the same store, warmed from the stored
// fixes: the events are those of an uninterrupted run, none twice, whether
// the warm-up window begins outside or inside a site.
func TestFencesRestart(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	centre := orb.Point{3.72, 51.05}
	site := dispatch.Site{ID: "dp-1", CustomerID: "c1",
		Geofence: json.RawMessage(`{"type":"Feature","geometry":{"type":"Point","coordinates":[3.72,51.05]},"properties":{"radius_m":50}}`)}
	dir := &fakeDir{sites: []dispatch.Site{site}, vehicles: []dispatch.Vehicle{{ID: "veh-1", TrackerDeviceID: "trk-1"}}}
	// Two visits of 15 min, 30 min apart; a fix every 10 s.
	var fixes []revloop.Position
	for i := 0; i < 6*60*2; i++ {
		m := i / 6 // minute
		d := 1000.0
		if (m >= 10 && m < 25) || (m >= 55 && m < 70) {
			d = 5
		}
		p := geo.Destination(centre, 90, d)
		fixes = append(fixes, revloop.Position{Device: "trk-1", Time: t0.Add(time.Duration(i) * 10 * time.Second), Lon: p[0], Lat: p[1]})
	}
	ctx := context.Background()
	eventsOf := func(db *store.DB) []string {
		t.Helper()
		svc, _ := newService(t, db, dir, &fakeSeries{}, &testClock{t: t0})
		evs, err := svc.Fences.ListEvents(ctx, fleet.EventFilter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.Kind+"@"+e.Time.Format("15:04:05")+"#"+e.ID[:8])
		}
		return out
	}
	feed := func(svc *fleet.Service, ps []revloop.Position) {
		t.Helper()
		for i := 0; i < len(ps); i += 30 {
			if err := svc.Fences.Observe(ctx, []ingest.Record{{Device: "trk-1", Channel: revloop.ChannelGPS, Positions: ps[i:min(i+30, len(ps))]}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	refDB := storetest.Migrated(t, storetest.SQLite)
	ref, _ := newService(t, refDB, dir, &fakeSeries{}, &testClock{t: t0})
	feed(ref, fixes)
	want := eventsOf(refDB)
	if len(want) != 6 {
		t.Fatalf("uninterrupted run: %v, want 6 events", want)
	}
	cases := []struct {
		name          string
		stopAt, since int // fix index where the first engine stops; warm-up from fix index
	}{
		{"warm-up begins outside", 6 * 40, 6 * 5},
		{"warm-up begins inside a visit", 6 * 62, 6 * 57},
		{"stopped inside, warm-up from before the visit", 6 * 62, 6 * 45},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := storetest.Migrated(t, storetest.SQLite)
			clk := &testClock{t: t0}
			first, _ := newService(t, db, dir, &fakeSeries{}, clk)
			feed(first, fixes[:c.stopAt])
			series := &fakeSeries{fixes: map[revloop.DeviceID][]revloop.Position{"trk-1": fixes[:c.stopAt]}}
			clk.set(fixes[c.stopAt-1].Time)
			second, _ := newService(t, db, dir, series, clk)
			if err := second.Fences.Warm(ctx, series, fixes[c.since].Time, time.Minute); err != nil {
				t.Fatal(err)
			}
			feed(second, fixes[c.stopAt:])
			if got := eventsOf(db); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("events\n got %v\nwant %v", got, want)
			}
		})
	}
}
