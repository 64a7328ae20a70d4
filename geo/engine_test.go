package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

var (
	base   = time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	center = orb.Point{3.7197, 51.0546}
)

// square returns a square polygon fence of side sideM centred at c.
func square(t testing.TB, id string, c orb.Point, sideM float64) *Fence {
	t.Helper()
	h := sideM / 2
	lonM, latM := MetersPerDegree(c[1])
	dx, dy := h/lonM, h/latM
	f, err := NewPolygonFence(id, orb.Polygon{{{c[0] - dx, c[1] - dy}, {c[0] + dx, c[1] - dy}, {c[0] + dx, c[1] + dy}, {c[0] - dx, c[1] + dy}}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// east returns the point dx meters east of c.
func east(c orb.Point, dx float64) orb.Point { return Destination(c, 90, dx) }

type fixIn struct {
	t time.Time
	p orb.Point
}

// consumer applies events the way a store would: upsert by id, delete when
// retracted. It fails on an event emitted twice while active.
type consumer struct {
	t      testing.TB
	active map[string]Event
}

func newConsumer(t testing.TB) *consumer { return &consumer{t: t, active: map[string]Event{}} }

func (c *consumer) apply(evs []Event) {
	for _, ev := range evs {
		if ev.Retracted {
			if _, ok := c.active[ev.ID]; !ok {
				c.t.Fatalf("retraction of an unknown event %s", ev.ID)
			}
			delete(c.active, ev.ID)
			continue
		}
		if _, dup := c.active[ev.ID]; dup {
			c.t.Fatalf("event emitted twice: %+v", ev)
		}
		c.active[ev.ID] = ev
	}
}

// summary renders the active events in time order as "kind fence hh:mm:ss".
func (c *consumer) summary() string {
	evs := make([]Event, 0, len(c.active))
	for _, ev := range c.active {
		evs = append(evs, ev)
	}
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].Time.Equal(evs[j].Time) {
			return evs[i].Time.Before(evs[j].Time)
		}
		return evs[i].ID < evs[j].ID
	})
	var sb []string
	for _, ev := range evs {
		sb = append(sb, fmt.Sprintf("%s %s %s", strings.TrimPrefix(string(ev.Kind), "fence_"), ev.Fence, ev.Time.Format("15:04:05")))
	}
	return strings.Join(sb, ", ")
}

func run(t testing.TB, e *FenceEngine, fixes []fixIn) *consumer {
	c := newConsumer(t)
	for _, f := range fixes {
		c.apply(e.Observe("truck", f.t, f.p))
	}
	c.apply(e.Flush(base.Add(100 * 24 * time.Hour)))
	return c
}

// visit returns fixes every step: dBefore seconds approaching from 200 m
// west, inside for dIn, then leaving eastwards.
func visit(start time.Time, step, inside time.Duration) []fixIn {
	var out []fixIn
	t := start
	for x := -200.0; x < 0; x += 40 {
		out = append(out, fixIn{t, east(center, x)})
		t = t.Add(step)
	}
	end := t.Add(inside)
	for ; t.Before(end); t = t.Add(step) {
		out = append(out, fixIn{t, east(center, 5)})
	}
	for x := 80.0; x < 400; x += 40 {
		out = append(out, fixIn{t, east(center, x)})
		t = t.Add(step)
	}
	return out
}

func TestFenceEngineDrawnCases(t *testing.T) {
	tests := []struct {
		name   string
		fixes  func() []fixIn
		opts   EngineOptions
		circle bool
		want   string
	}{
		{
			name:  "visit longer than the minimum dwell",
			fixes: func() []fixIn { return visit(base, 10*time.Second, 8*time.Minute) },
			want:  "enter f 08:00:40, dwell f 08:05:40, exit f 08:08:50",
		},
		{
			name:  "dwell shorter than the minimum",
			fixes: func() []fixIn { return visit(base, 10*time.Second, 3*time.Minute) },
			want:  "enter f 08:00:40, exit f 08:03:50",
		},
		{
			name:   "circle fence",
			circle: true,
			fixes:  func() []fixIn { return visit(base, 10*time.Second, 8*time.Minute) },
			want:   "enter f 08:00:40, dwell f 08:05:40, exit f 08:08:50",
		},
		{
			name: "driving through one fix inside is no visit",
			fixes: func() []fixIn {
				var out []fixIn
				for i, x := range []float64{-300, -150, 0, 150, 300} {
					out = append(out, fixIn{base.Add(time.Duration(i) * 10 * time.Second), east(center, x)})
				}
				return out
			},
			want: "",
		},
		{
			name: "edge jitter does not flap",
			fixes: func() []fixIn {
				// Parked at the east edge (50 m) for 40 min with a few
				// meters of GPS noise across it, then driving away.
				jitter := []float64{-3, 2, 6, -1, -4, 5, 1, -2, 8, -6}
				var out []fixIn
				tt := base
				for i := 0; i < 240; i++ {
					out = append(out, fixIn{tt, east(center, 50+jitter[i%len(jitter)])})
					tt = tt.Add(10 * time.Second)
				}
				for x := 120.0; x < 500; x += 50 {
					out = append(out, fixIn{tt, east(center, x)})
					tt = tt.Add(10 * time.Second)
				}
				return out
			},
			want: "enter f 08:00:30, dwell f 08:05:30, exit f 08:40:00",
		},
		{
			name: "single fix beyond the buffer is jitter",
			opts: EngineOptions{MinDwell: time.Hour},
			fixes: func() []fixIn {
				out := []fixIn{{base, center}, {base.Add(10 * time.Second), center}, {base.Add(20 * time.Second), east(center, 120)}}
				for i := 3; i < 10; i++ {
					out = append(out, fixIn{base.Add(time.Duration(i) * 10 * time.Second), center})
				}
				return out
			},
			want: "enter f 08:00:00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := square(t, "f", center, 100)
			if tc.circle {
				var err error
				if f, err = NewCircleFence("f", center, 50); err != nil {
					t.Fatal(err)
				}
			}
			e := NewFenceEngine([]*Fence{f}, tc.opts)
			got := run(t, e, tc.fixes()).summary()
			if got != tc.want {
				t.Errorf("events\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// twoFenceDay is a drawn day: three visits to two fences with a parked
// period, fixes every 5 s while driving.
func twoFenceDay() []fixIn {
	var out []fixIn
	out = append(out, visit(base, 5*time.Second, 12*time.Minute)...)
	last := out[len(out)-1].t
	// Drive 2 km east to fence g and park there.
	g := east(center, 2000)
	tt := last
	for x := 400.0; x < 1950; x += 60 {
		tt = tt.Add(5 * time.Second)
		out = append(out, fixIn{tt, east(center, x)})
	}
	for i := 0; i < 60; i++ {
		tt = tt.Add(30 * time.Second)
		out = append(out, fixIn{tt, Destination(g, float64(i*37%360), 3)})
	}
	for x := 2100.0; x > 0; x -= 60 {
		tt = tt.Add(5 * time.Second)
		out = append(out, fixIn{tt, east(center, x)})
	}
	for i := 0; i < 20; i++ {
		tt = tt.Add(5 * time.Second)
		out = append(out, fixIn{tt, center})
	}
	for x := -60.0; x > -600; x -= 60 {
		tt = tt.Add(5 * time.Second)
		out = append(out, fixIn{tt, east(center, x)})
	}
	return out
}

func twoFences(t testing.TB) []*Fence {
	g, err := NewCircleFence("g", east(center, 2000), 40)
	if err != nil {
		t.Fatal(err)
	}
	return []*Fence{square(t, "f", center, 100), g}
}

func TestFenceEngineLateFixesGiveSameEvents(t *testing.T) {
	fixes := twoFenceDay()
	want := run(t, NewFenceEngine(twoFences(t), EngineOptions{}), fixes).summary()
	if strings.Count(want, "enter") != 3 || strings.Count(want, "exit") != 3 {
		t.Fatalf("in-order events unexpected: %s", want)
	}
	reorder := map[string]func([]fixIn) []fixIn{
		"dead zone burst after a live fix": func(in []fixIn) []fixIn {
			// Fixes 100..220 (10 min, including the exit from f and the
			// enter into g) arrive after fix 221, in a burst.
			out := append([]fixIn(nil), in[:100]...)
			out = append(out, in[221])
			out = append(out, in[100:221]...)
			return append(out, in[222:]...)
		},
		"burst delivered newest first": func(in []fixIn) []fixIn {
			out := append([]fixIn(nil), in[:50]...)
			for i := 180; i >= 50; i-- {
				out = append(out, in[i])
			}
			return append(out, in[181:]...)
		},
		"shuffled within two minutes": func(in []fixIn) []fixIn {
			out := append([]fixIn(nil), in...)
			r := rand.New(rand.NewPCG(7, 7))
			for i := range out {
				j := i + r.IntN(24)
				if j < len(out) {
					out[i], out[j] = out[j], out[i]
				}
			}
			return out
		},
		"random dead zones released late": func(in []fixIn) []fixIn {
			// Random windows of up to 80 fixes are held back and released
			// after up to 40 later fixes.
			r := rand.New(rand.NewPCG(3, 9))
			var out, held []fixIn
			release := -1
			for i, f := range in {
				if held == nil && r.IntN(40) == 0 {
					held = []fixIn{}
				}
				if held != nil && release < 0 {
					held = append(held, f)
					if len(held) >= 1+r.IntN(80) {
						release = i + 1 + r.IntN(40)
					}
					continue
				}
				out = append(out, f)
				if i == release {
					out = append(out, held...)
					held, release = nil, -1
				}
			}
			return append(out, held...)
		},
		"every fix delivered twice": func(in []fixIn) []fixIn {
			var out []fixIn
			for i, f := range in {
				out = append(out, f)
				if i > 3 {
					out = append(out, in[i-3])
				}
			}
			return out
		},
	}
	for name, fn := range reorder {
		for _, lateness := range []time.Duration{0, 2 * time.Minute} {
			t.Run(fmt.Sprintf("%s/lateness=%s", name, lateness), func(t *testing.T) {
				e := NewFenceEngine(twoFences(t), EngineOptions{Lateness: lateness})
				got := run(t, e, fn(fixes)).summary()
				if got != want {
					t.Errorf("events differ from in-order delivery\n got: %s\nwant: %s", got, want)
				}
			})
		}
	}
}

func TestFenceCreatedAroundParkedVehicle(t *testing.T) {
	e := NewFenceEngine(nil, EngineOptions{})
	c := newConsumer(t)
	// Parked at the centre, reporting every 15 minutes.
	for i := 0; i < 3; i++ {
		c.apply(e.Observe("truck", base.Add(time.Duration(i)*15*time.Minute), Destination(center, float64(i*90), 2)))
	}
	f := square(t, "new", center, 60)
	f.CreatedAt = base.Add(40 * time.Minute)
	evs, err := e.AddFence(f)
	if err != nil {
		t.Fatal(err)
	}
	c.apply(evs)
	if got := c.summary(); got != "enter new 08:40:00" {
		t.Fatalf("after AddFence: %s, want enter at creation time", got)
	}
	for i := 3; i < 5; i++ {
		c.apply(e.Observe("truck", base.Add(time.Duration(i)*15*time.Minute), center))
	}
	if got := c.summary(); got != "enter new 08:40:00, dwell new 08:45:00" {
		t.Fatalf("after more fixes: %s", got)
	}
	// A vehicle elsewhere is not reported.
	c2 := newConsumer(t)
	c2.apply(e.Observe("other", base, east(center, 900)))
	g := square(t, "g2", center, 60)
	g.CreatedAt = base.Add(time.Minute)
	evs, err = e.AddFence(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Vehicle == "other" {
			t.Errorf("vehicle outside the new fence got %+v", ev)
		}
	}
}

func TestFenceEngineRemoveFence(t *testing.T) {
	e := NewFenceEngine(twoFences(t), EngineOptions{})
	fixes := visit(base, 10*time.Second, 8*time.Minute)
	c := newConsumer(t)
	for _, f := range fixes[:15] {
		c.apply(e.Observe("truck", f.t, f.p))
	}
	if !e.RemoveFence("f") || e.RemoveFence("f") {
		t.Fatal("RemoveFence should report presence once")
	}
	for _, f := range fixes[15:] {
		c.apply(e.Observe("truck", f.t, f.p))
	}
	if got := c.summary(); got != "enter f 08:00:40" {
		t.Errorf("events: %s, want only the enter before removal", got)
	}
}

func TestFenceEngineRejectsBadInput(t *testing.T) {
	e := NewFenceEngine(twoFences(t), EngineOptions{})
	e.Observe("truck", base, orb.Point{200, 51})
	e.Observe("truck", time.Time{}, center)
	if st := e.Stats(); st.Invalid != 2 {
		t.Errorf("invalid = %d, want 2", st.Invalid)
	}
	if _, err := e.AddFence(&Fence{ID: "x", Kind: FenceCircle, Center: center}); err == nil {
		t.Error("AddFence accepted a circle without radius")
	}
}

func TestEventIDsAreDeterministic(t *testing.T) {
	a := run(t, NewFenceEngine(twoFences(t), EngineOptions{}), twoFenceDay())
	b := run(t, NewFenceEngine(twoFences(t), EngineOptions{Lateness: time.Minute}), twoFenceDay())
	if len(a.active) == 0 || len(a.active) != len(b.active) {
		t.Fatalf("%d vs %d events", len(a.active), len(b.active))
	}
	for id := range a.active {
		if _, ok := b.active[id]; !ok {
			t.Errorf("id %s missing in the second run", id)
		}
	}
}

func TestAddFenceWithoutCreationTimeUsesHistory(t *testing.T) {
	e := NewFenceEngine(nil, EngineOptions{})
	c := newConsumer(t)
	fixes := visit(base, 10*time.Second, 8*time.Minute)
	for _, f := range fixes[:30] { // up to 08:04:50, inside since 08:00:40
		c.apply(e.Observe("truck", f.t, f.p))
	}
	c.apply(e.Observe("far", base, east(center, 5000)))
	evs, err := e.AddFence(square(t, "f", center, 100))
	if err != nil {
		t.Fatal(err)
	}
	c.apply(evs)
	for _, f := range fixes[30:] {
		c.apply(e.Observe("truck", f.t, f.p))
	}
	if got, want := c.summary(), "enter f 08:00:40, dwell f 08:05:40, exit f 08:08:50"; got != want {
		t.Errorf("events\n got: %s\nwant: %s", got, want)
	}
}

func TestEventJSON(t *testing.T) {
	ev := Event{ID: "x", Kind: EventExit, Vehicle: "v", Fence: "f", Time: base, Point: center, Since: base.Add(-time.Minute), Duration: 90 * time.Second}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["duration_s"] != 90.0 || m["kind"] != "fence_exit" || m["ts"] != "2026-03-03T08:00:00Z" || m["retracted"] != nil {
		t.Errorf("json %s", b)
	}
}

func TestFenceEngineBoundsHistory(t *testing.T) {
	e := NewFenceEngine(twoFences(t), EngineOptions{History: time.Hour})
	c := newConsumer(t)
	var fixes []fixIn
	for d := time.Duration(0); d < 4*time.Hour; d += 5 * time.Second {
		fixes = append(fixes, fixIn{base.Add(d), east(center, 3000+float64(d/time.Second%100))})
	}
	for _, f := range fixes {
		c.apply(e.Observe("truck", f.t, f.p))
	}
	v := e.vehicles["truck"]
	if n := len(v.hist); n > int(time.Hour/(5*time.Second))+2*snapEvery {
		t.Errorf("%d fixes retained with one hour of history", n)
	}
	// A fix older than the retained history is counted, not applied.
	c.apply(e.Observe("truck", base.Add(10*time.Minute), center))
	c.apply(e.Observe("truck", base.Add(10*time.Minute+5*time.Second), center))
	if st := e.Stats(); st.TooLate != 2 {
		t.Errorf("too late = %d, want 2", st.TooLate)
	}
	if len(c.active) != 0 {
		t.Errorf("events from fixes older than the history: %s", c.summary())
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"engine defaults", EngineOptions{}.Validate()},
		{"trip defaults", TripOptions{}.Validate()},
	}
	for _, tc := range tests {
		if tc.err != nil {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	bad := []struct {
		name string
		err  error
	}{
		{"negative dwell", EngineOptions{MinDwell: -1}.Validate()},
		{"negative exit fixes", EngineOptions{ExitFixes: -2}.Validate()},
		{"NaN buffer", EngineOptions{BufferM: math.NaN()}.Validate()},
		{"negative stop", TripOptions{MinStop: -time.Second}.Validate()},
		{"NaN radius", TripOptions{StopRadiusM: math.NaN()}.Validate()},
	}
	for _, tc := range bad {
		if !errors.Is(tc.err, ErrBadOptions) {
			t.Errorf("%s: err = %v, want ErrBadOptions", tc.name, tc.err)
		}
	}
}
