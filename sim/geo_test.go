package sim

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/geo"
)

type posFix struct {
	t time.Time
	p orb.Point
}

// decodeFixes extracts the positions of a gps payload in any of the
// simulator's formats.
func decodeFixes(t *testing.T, m Message) []posFix {
	t.Helper()
	if bytes.HasPrefix(m.Payload, []byte("$")) {
		for _, line := range strings.Split(strings.TrimSpace(string(m.Payload)), "\r\n") {
			f := strings.Split(strings.SplitN(line[1:], "*", 2)[0], ",")
			if f[0] != "GPRMC" {
				continue
			}
			ts, _ := time.Parse("150405.00 020106", f[1]+" "+f[9])
			coord := func(s string, degDigits int, hemi string) float64 {
				d, _ := strconv.ParseFloat(s[:degDigits], 64)
				mm, _ := strconv.ParseFloat(s[degDigits:], 64)
				v := d + mm/60
				if hemi == "S" || hemi == "W" {
					v = -v
				}
				return v
			}
			return []posFix{{ts, orb.Point{coord(f[5], 3, f[6]), coord(f[3], 2, f[4])}}}
		}
		t.Fatalf("no RMC in %q", m.Payload)
	}
	var v any
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	switch x := v.(type) {
	case map[string]any:
		objs = append(objs, x)
	case []any:
		for _, e := range x {
			objs = append(objs, e.(map[string]any))
		}
	}
	if _, senml := objs[0]["bn"]; senml {
		bt := objs[0]["bt"].(float64)
		var p orb.Point
		for _, o := range objs {
			switch o["n"] {
			case "lat":
				p[1] = o["v"].(float64)
			case "lon":
				p[0] = o["v"].(float64)
			}
		}
		return []posFix{{time.UnixMilli(int64(bt*1000 + 0.5)), p}}
	}
	var out []posFix
	for _, o := range objs {
		var ts time.Time
		switch x := o["ts"].(type) {
		case string:
			ts, _ = time.Parse(time.RFC3339Nano, x)
		case float64:
			ts = time.UnixMilli(int64(x))
		}
		out = append(out, posFix{ts, orb.Point{o["lon"].(float64), o["lat"].(float64)}})
	}
	return out
}

// TestFenceEventsMatchCollections runs a simulated day through the geofence
// engine twice, in arrival order (late backlogs, live fixes before
// backlogs) and in event-time order, and checks both give the same events
// and that every bin emptying happens during a visit of the truck to the
// bin's site.
func TestFenceEventsMatchCollections(t *testing.T) {
	w := NewWorld(6, 6, 120)
	var fences []*geo.Fence
	for _, s := range w.Sites {
		fences = append(fences, s.Fence)
	}
	vehicleOf := map[revloop.DeviceID]string{}
	for _, v := range w.Vehicles {
		vehicleOf[v.Tracker] = v.ID
	}
	g := NewGenerator(w, t0)
	type vfix struct {
		v string
		posFix
	}
	var arrival []vfix
	for m := range g.Until(t0.Add(12 * time.Hour)) {
		if m.Channel != revloop.ChannelGPS {
			continue
		}
		for _, f := range decodeFixes(t, m) {
			arrival = append(arrival, vfix{vehicleOf[m.Device], f})
		}
	}
	sorted := append([]vfix(nil), arrival...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].t.Before(sorted[j].t) })
	outOfOrder := 0
	for i := 1; i < len(arrival); i++ {
		if arrival[i].v == arrival[i-1].v && arrival[i].t.Before(arrival[i-1].t) {
			outOfOrder++
		}
	}
	if outOfOrder == 0 {
		t.Fatal("no out-of-order fix in 12 h: the test would prove nothing")
	}
	runEngine := func(fixes []vfix) map[string]geo.Event {
		e := geo.NewFenceEngine(fences, geo.EngineOptions{})
		active := map[string]geo.Event{}
		for _, f := range fixes {
			for _, ev := range e.Observe(f.v, f.t, f.p) {
				if ev.Retracted {
					delete(active, ev.ID)
				} else {
					active[ev.ID] = ev
				}
			}
		}
		return active
	}
	a, b := runEngine(arrival), runEngine(sorted)
	if len(a) != len(b) {
		t.Errorf("%d events in arrival order, %d in time order", len(a), len(b))
	}
	for id, ev := range b {
		if _, ok := a[id]; !ok {
			t.Errorf("event %s %s %s %s missing with arrival order", ev.Kind, ev.Vehicle, ev.Fence, ev.Time)
		}
	}
	// Visits per (vehicle, fence) from enter/exit pairs.
	type visit struct{ in, out time.Time }
	visits := map[string][]visit{}
	evs := make([]geo.Event, 0, len(b))
	for _, ev := range b {
		evs = append(evs, ev)
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	for _, ev := range evs {
		k := ev.Vehicle + "|" + ev.Fence
		switch ev.Kind {
		case geo.EventEnter:
			visits[k] = append(visits[k], visit{in: ev.Time, out: t0.Add(48 * time.Hour)})
		case geo.EventExit:
			if n := len(visits[k]); n > 0 {
				visits[k][n-1].out = ev.Time
			}
		}
	}
	binSite := map[string]string{}
	for _, bn := range w.Bins {
		binSite[bn.ID] = bn.Site
	}
	checked := 0
	for _, em := range g.Emptyings() {
		if em.Vehicle == "" || em.Time.After(t0.Add(11*time.Hour)) {
			continue
		}
		checked++
		ok := false
		for _, v := range visits[em.Vehicle+"|"+binSite[em.Bin]] {
			if !em.Time.Before(v.in) && !em.Time.After(v.out) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s emptied %s at %s outside any visit of %s", em.Vehicle, em.Bin, em.Time.Format("15:04:05"), binSite[em.Bin])
		}
	}
	if checked == 0 {
		t.Fatal("no emptying to check")
	}
	t.Logf("%d fixes (%d out of order), %d fence events, %d emptyings inside visits", len(arrival), outOfOrder, len(b), checked)
}
