package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store/storetest"
)

// TestFencesOutsideHours checks the outside_hours alerts of the visits of
// one batch: a site closed at the visit raises one per visit, an open site
// and a site without hours none.
func TestFencesOutsideHours(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) // Monday 09:00 in Brussels
	centres := map[string]orb.Point{"closed": {3.72, 51.05}, "open": {3.73, 51.05}, "none": {3.74, 51.05}}
	dir := &fakeDir{vehicles: []dispatch.Vehicle{{ID: "veh-1", TrackerDeviceID: "trk-1"}}}
	for id, c := range centres {
		dir.sites = append(dir.sites, dispatch.Site{ID: id, CustomerID: "c1", Geofence: json.RawMessage(fmt.Sprintf(
			`{"type":"Feature","geometry":{"type":"Point","coordinates":[%v,%v]},"properties":{"radius_m":50}}`, c[0], c[1]))})
	}
	away := geo.Destination(centres["open"], 180, 1500)
	// The visits, in minutes since t0; a fix every 10 s, away in between.
	visits := []struct {
		site       string
		from, till int
	}{{"closed", 5, 15}, {"open", 20, 30}, {"none", 35, 45}, {"closed", 50, 60}}
	var fixes []revloop.Position
	for i := 0; i < 6*65; i++ {
		p := away
		for _, v := range visits {
			if i >= 6*v.from && i < 6*v.till {
				p = centres[v.site]
			}
		}
		fixes = append(fixes, revloop.Position{Device: "trk-1", Time: t0.Add(time.Duration(i) * 10 * time.Second), Lon: p[0], Lat: p[1]})
	}
	cases := []struct {
		name  string
		batch int // fixes per Observe call
	}{{"one batch", len(fixes)}, {"a fix per batch", 1}, {"batches of 50", 50}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Migrated(t, storetest.SQLite)
			svc, al := newService(t, db, dir, &fakeSeries{}, &testClock{t: t0})
			for site, weekly := range map[string]map[string][]fleet.Interval{
				"closed": {"mon": {{Open: "07:00", Close: "08:00"}}},
				"open":   {"mon": {{Open: "00:00", Close: "24:00"}}},
			} {
				if _, err := svc.Fences.PutSiteHours(ctx, fleet.SiteHours{SiteID: site, Weekly: weekly}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < len(fixes); i += c.batch {
				rec := ingest.Record{Device: "trk-1", Channel: revloop.ChannelGPS, Positions: fixes[i:min(i+c.batch, len(fixes))]}
				if err := svc.Fences.Observe(ctx, []ingest.Record{rec}); err != nil {
					t.Fatal(err)
				}
			}
			as, err := al.List(ctx, alerts.Filter{Kind: alerts.KindOutsideHours}, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range as {
				var d map[string]any
				json.Unmarshal(a.Detail, &d)
				got = append(got, fmt.Sprintf("%s@%s %s %v", a.SiteID, a.Time.Sub(t0), a.Subject, d["local_time"]))
			}
			sort.Strings(got)
			want := "closed@50m0s veh-1 Mon 09:50 closed@5m0s veh-1 Mon 09:05"
			if strings.Join(got, " ") != want {
				t.Errorf("outside_hours alerts %v, want %s", got, want)
			}
		})
	}
}
