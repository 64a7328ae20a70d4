package fleet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store/storetest"
)

// TestMonitorBatch checks that a batch whose readings raise and resolve
// the same conditions stores what the readings one by one store, and that
// a batch whose alerts cannot be stored leaves the monitor as it was, so
// that its redelivery raises them.
func TestMonitorBatch(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	dir := &fakeDir{bins: []dispatch.Bin{
		{ID: "bin-1", SiteID: "s1", CustomerID: "c1", FillSensorDeviceID: "fill-1", ThresholdPct: 80},
		{ID: "bin-2", SiteID: "s1", CustomerID: "c1", FillSensorDeviceID: "fill-2", ThresholdPct: 70},
	}}
	r := func(dev string, min int, level, temp, tilt float64) ingest.Record {
		return ingest.Record{Device: revloop.DeviceID(dev), Channel: revloop.ChannelFill, Fills: []revloop.FillReading{
			{Device: revloop.DeviceID(dev), Time: t0.Add(time.Duration(min) * time.Minute), LevelPct: level, TempC: temp, TiltDeg: tilt}}}
	}
	prime := []ingest.Record{r("fill-1", 0, 40, 15, 2), r("fill-2", 0, 75, 15, 2)} // bin-2 full already
	batch := []ingest.Record{
		r("fill-1", 30, 82, 15, 2),  // full
		r("fill-2", 30, 20, 25, 2),  // emptied, warmer but no fast rise
		r("fill-1", 60, 5, 15, 2),   // emptied
		r("fill-1", 50, 90, 15, 2),  // late: ignored
		r("fill-1", 90, 85, 40, 2),  // full again, fast rise
		r("fill-2", 95, 20, 25, 50), // tilted
		r("fill-2", 100, 20, 5, 50), // cold: not in the rise window of 30 min
		r("fill-1", 120, 85, 20, 2), // cooled down
	}
	ctx := context.Background()
	summary := func(t *testing.T, al *alerts.Service) string {
		t.Helper()
		as, err := al.List(ctx, alerts.Filter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			s := a.Kind + "/" + a.Subject + "@" + a.Time.Sub(t0).String() + " " + string(a.Detail)
			if !a.Resolved.IsZero() {
				s += " resolved@" + a.Resolved.Sub(t0).String()
			}
			out = append(out, s)
		}
		return strings.Join(out, "\n")
	}
	// The reference: each reading in its own call.
	refSvc, refAl := newService(t, storetest.Migrated(t, storetest.SQLite), dir, &fakeSeries{}, &testClock{t: t0})
	for _, rec := range append(append([]ingest.Record(nil), prime...), batch...) {
		if err := refSvc.Monitor.Observe(ctx, []ingest.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	want := summary(t, refAl)
	if n := strings.Count(want, "\n") + 1; n != 5 {
		t.Fatalf("reference run: %d alerts, want 5:\n%s", n, want)
	}
	if !strings.Contains(want, `"device":"fill-1"`) {
		t.Fatalf("reference run: alerts without their detail:\n%s", want)
	}

	cases := []struct {
		name     string
		failures int // deliveries of the batch that fail before one succeeds
	}{
		{"stored at once", 0},
		{"stored at the first redelivery", 1},
		{"stored at the second redelivery", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, al := newService(t, storetest.Migrated(t, storetest.SQLite), dir, &fakeSeries{}, &testClock{t: t0})
			if err := svc.Monitor.Observe(ctx, prime); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < c.failures; i++ {
				dead, cancel := context.WithCancel(ctx)
				cancel()
				if err := svc.Monitor.Observe(dead, batch); err == nil {
					t.Fatal("Observe with a cancelled context succeeded")
				}
				if got, primed := summary(t, al), "bin_full/bin-2@0s"; !strings.HasPrefix(got, primed) || strings.Contains(got, "\n") {
					t.Fatalf("after a failed delivery:\n%s\nwant only the primed alert", got)
				}
			}
			for i := 0; i < 2; i++ { // delivered, then delivered again
				if err := svc.Monitor.Observe(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			if got := summary(t, al); got != want {
				t.Errorf("alerts\n%s\nwant\n%s", got, want)
			}
		})
	}
}
