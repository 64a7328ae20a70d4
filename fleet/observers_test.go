package fleet_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

// TestObserversMatchParts feeds the realistic mix to the service's
// observer and, over another store, to Fences, Forecasts and Monitor one
// after the other: the stored fence events and alerts are the same, also
// when storing fails now and then and the batch is delivered again.
func TestObserversMatchParts(t *testing.T) {
	if testing.Short() {
		t.Skip("feeds 10,000 messages twice per case")
	}
	batches, _ := mixBatches(t, 10000, 500)
	ctx := context.Background()
	// Half of the sites open at 10:00 local time: earlier visits raise
	// outside_hours alerts.
	newSvc := func(t *testing.T) (*fleet.Service, *store.DB) {
		db := storetest.Migrated(t, storetest.SQLite)
		seedMixWorld(t, db, false)
		clk := &testClock{t: sim.MixStart}
		ts := &fakeSeries{}
		svc, err := fleet.New(ctx, fleet.Config{DB: db, Directory: dispatch.New(db), Positions: ts, Fills: ts,
			Alerts: alerts.New(db, nil, nil).WithClock(clk.now), Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range sim.NewWorld(1, 20, 200).Sites {
			if i%2 == 0 {
				h := fleet.SiteHours{SiteID: s.ID, Weekly: map[string][]fleet.Interval{"tue": {{Open: "10:00", Close: "24:00"}}}}
				if _, err := svc.Fences.PutSiteHours(ctx, h); err != nil {
					t.Fatal(err)
				}
			}
		}
		return svc, db
	}
	stored := func(t *testing.T, db *store.DB) string {
		t.Helper()
		var out []string
		for _, q := range []string{
			`SELECT id, kind, vehicle, site_id, customer_id, at_ms, since_ms, duration_s, lon, lat, recorded_ms FROM fleet_events ORDER BY id`,
			`SELECT id, kind, subject, site_id, customer_id, at_ms, detail, COALESCE(open_key, ''), resolved_ms, state, created_ms FROM alerts ORDER BY id`,
		} {
			rows, err := db.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				vals := make([]any, 11)
				ptrs := make([]any, len(vals))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprint(vals...))
			}
			rows.Close()
		}
		return strings.Join(out, "\n")
	}
	ref, refDB := newSvc(t)
	for _, b := range batches {
		for _, o := range []interface {
			Observe(context.Context, []ingest.Record) error
		}{ref.Fences, ref.Forecasts, ref.Monitor} {
			if err := o.Observe(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := stored(t, refDB)
	for _, kind := range []string{"fence_enter", "fence_exit", "fence_dwell", "outside_hours", "bin_full"} {
		if !strings.Contains(want, kind) {
			t.Fatalf("the reference run stored no %s", kind)
		}
	}
	cases := []struct {
		name string
		fail func(batch int) bool // the first delivery of the batch fails
	}{
		{"every batch stored at once", func(int) bool { return false }},
		{"every third batch delivered again", func(i int) bool { return i%3 == 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, db := newSvc(t)
			obs := svc.Observers()
			if len(obs) != 1 {
				t.Fatalf("%d observers, want 1", len(obs))
			}
			for i, b := range batches {
				if c.fail(i) {
					dead, cancel := context.WithCancel(ctx)
					cancel()
					if err := obs[0].Observe(dead, b); err == nil {
						t.Fatalf("batch %d: Observe with a cancelled context succeeded", i)
					}
				}
				if err := obs[0].Observe(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if got := stored(t, db); got != want {
				t.Errorf("stored rows differ from the parts one after the other\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
