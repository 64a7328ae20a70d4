package geo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func TestDistanceM(t *testing.T) {
	tests := []struct {
		name string
		a, b orb.Point
		want float64
		tol  float64
	}{
		{"same point", center, center, 0, 1e-9},
		{"Ghent to Brussels", orb.Point{3.7174, 51.0543}, orb.Point{4.3517, 50.8503}, 49_500, 500},
		{"one degree of latitude", orb.Point{0, 0}, orb.Point{0, 1}, 111_195, 5},
		{"antipodes", orb.Point{0, 0}, orb.Point{180, 0}, 20_015_087, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DistanceM(tc.a, tc.b); got < tc.want-tc.tol || got > tc.want+tc.tol {
				t.Errorf("DistanceM = %.1f, want %.1f ± %.1f", got, tc.want, tc.tol)
			}
		})
	}
}

func TestDestinationRoundTrip(t *testing.T) {
	for _, brg := range []float64{0, 45, 90, 180, 270, 333} {
		for _, d := range []float64{1, 100, 5000} {
			p := Destination(center, brg, d)
			if got := DistanceM(center, p); got < d-0.01*d-0.01 || got > d+0.01*d+0.01 {
				t.Errorf("bearing %v distance %v: came back %v", brg, d, got)
			}
			if d > 10 {
				b := BearingDeg(center, p)
				if diff := math.Abs(math.Mod(b-brg+540, 360) - 180); diff > 0.5 {
					t.Errorf("bearing %v: BearingDeg %v", brg, b)
				}
			}
		}
	}
}

func TestFenceContains(t *testing.T) {
	sq := square(t, "sq", center, 100)
	donut := square(t, "donut", center, 100)
	hole := square(t, "hole", center, 40).Polygon[0]
	donut.Polygon = append(donut.Polygon, hole)
	circ, err := NewCircleFence("c", center, 50)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		f       *Fence
		p       orb.Point
		in      bool
		outside float64 // expected OutsideDistanceM, ±1 m
	}{
		{"square centre", sq, center, true, 0},
		{"square 45 m east", sq, east(center, 45), true, 0},
		{"square 60 m east", sq, east(center, 60), false, 10},
		{"square 150 m north", sq, Destination(center, 0, 150), false, 100},
		{"donut hole", donut, center, false, 20},
		{"donut ring", donut, east(center, 35), true, 0},
		{"circle 49 m", circ, Destination(center, 200, 49), true, 0},
		{"circle 80 m", circ, Destination(center, 10, 80), false, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Contains(tc.p); got != tc.in {
				t.Errorf("Contains = %v, want %v", got, tc.in)
			}
			if got := tc.f.OutsideDistanceM(tc.p); got < tc.outside-1 || got > tc.outside+1 {
				t.Errorf("OutsideDistanceM = %.2f, want %.0f", got, tc.outside)
			}
		})
	}
}

func TestParseFence(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    FenceKind
		id      string
		wantErr bool
	}{
		{name: "polygon feature", in: `{"type":"Feature","id":"dp-1","geometry":{"type":"Polygon","coordinates":[[[3.71,51.05],[3.72,51.05],[3.72,51.06],[3.71,51.05]]]},"properties":{"min_dwell_s":120,"buffer_m":10}}`, kind: FencePolygon, id: "dp-1"},
		{name: "circle feature", in: `{"type":"Feature","geometry":{"type":"Point","coordinates":[3.71,51.05]},"properties":{"radius_m":40}}`, kind: FenceCircle, id: "default"},
		{name: "bare polygon", in: `{"type":"Polygon","coordinates":[[[3.71,51.05],[3.72,51.05],[3.72,51.06]]]}`, kind: FencePolygon, id: "default"},
		{name: "point without radius", in: `{"type":"Feature","geometry":{"type":"Point","coordinates":[3.71,51.05]},"properties":{}}`, wantErr: true},
		{name: "negative radius", in: `{"type":"Feature","geometry":{"type":"Point","coordinates":[3.71,51.05]},"properties":{"radius_m":-1}}`, wantErr: true},
		{name: "two-point ring", in: `{"type":"Polygon","coordinates":[[[3.71,51.05],[3.72,51.05]]]}`, wantErr: true},
		{name: "latitude out of range", in: `{"type":"Polygon","coordinates":[[[3.71,95],[3.72,51.05],[3.72,51.06]]]}`, wantErr: true},
		{name: "line string", in: `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[3.71,51.05],[3.72,51.05]]}}`, wantErr: true},
		{name: "not json", in: `{"type":`, wantErr: true},
		{name: "bad created_at", in: `{"type":"Feature","geometry":{"type":"Point","coordinates":[3.71,51.05]},"properties":{"radius_m":4,"created_at":"noon"}}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFence([]byte(tc.in), "default")
			if tc.wantErr {
				if !errors.Is(err, ErrBadFence) {
					t.Fatalf("err = %v, want ErrBadFence", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != tc.kind || f.ID != tc.id {
				t.Errorf("got kind %s id %s, want %s %s", f.Kind, f.ID, tc.kind, tc.id)
			}
			// Round trip through MarshalJSON.
			b, err := f.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			g, err := ParseFence(b, "")
			if err != nil {
				t.Fatalf("round trip: %v (%s)", err, b)
			}
			if g.Kind != f.Kind || g.ID != f.ID || g.RadiusM != f.RadiusM || g.MinDwell != f.MinDwell || g.BufferM != f.BufferM {
				t.Errorf("round trip changed the fence: %+v vs %+v", g, f)
			}
		})
	}
}

func FuzzParseFence(f *testing.F) {
	f.Add([]byte(`{"type":"Feature","id":"x","geometry":{"type":"Polygon","coordinates":[[[3.71,51.05],[3.72,51.05],[3.72,51.06]]]},"properties":{"buffer_m":3}}`))
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[3.71,51.05]},"properties":{"radius_m":40,"min_dwell_s":60}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fe, err := ParseFence(data, "fuzz")
		if err != nil {
			return
		}
		// A parsed fence must be usable.
		fe.Contains(center)
		fe.OutsideDistanceM(center)
		if _, err := fe.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

// randomFences returns n fences (half circles, half rotated-free squares)
// spread over a disc of radiusM around the centre.
func randomFences(t testing.TB, n int, radiusM float64, seed uint64) []*Fence {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]*Fence, n)
	for i := range out {
		c := Destination(center, r.Float64()*360, radiusM*r.Float64())
		id := fmt.Sprintf("f%05d", i)
		if i%2 == 0 {
			f, err := NewCircleFence(id, c, 20+r.Float64()*60)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = f
		} else {
			out[i] = square(t, id, c, 40+r.Float64()*110)
		}
	}
	return out
}

func TestIndexMatchesBruteForce(t *testing.T) {
	fences := randomFences(t, 2000, 5000, 1)
	big := square(t, "big", center, 30000) // spans many cells
	fences = append(fences, big)
	ix := NewIndex(0)
	for _, f := range fences {
		ix.Add(f)
	}
	for _, id := range []string{"f00010", "f00011"} {
		if !ix.Remove(id) {
			t.Fatalf("Remove(%s) = false", id)
		}
	}
	r := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 20000; i++ {
		p := Destination(center, r.Float64()*360, 5200*r.Float64())
		var want []string
		for _, f := range fences {
			if f.ID != "f00010" && f.ID != "f00011" && f.Contains(p) {
				want = append(want, f.ID)
			}
		}
		var got []string
		for _, f := range ix.Containing(p, nil) {
			got = append(got, f.ID)
		}
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("point %v: index %v, brute force %v", p, got, want)
		}
	}
}

// BenchmarkFenceEval measures point-in-fence evaluation of fixes against
// 10,000 fences spread over a 20 km disc around Ghent through the grid
// index. It reports fixes/s, candidate fences actually tested per fix, and
// two rates: candidate-checks/s (fixes/s x candidates tested) and
// fix-fence-checks/s (fixes/s x all 10,000 fences, the brute-force
// equivalent the index answers).
func BenchmarkFenceEval(b *testing.B) {
	const nFences = 10000
	fences := randomFences(b, nFences, 20000, 3)
	ix := NewIndex(0)
	for _, f := range fences {
		ix.Add(f)
	}
	r := rand.New(rand.NewPCG(4, 4))
	pts := make([]orb.Point, 4096)
	for i := range pts {
		// Half the fixes near a fence (as trucks are), half anywhere.
		if i%2 == 0 {
			f := fences[r.IntN(nFences)]
			pts[i] = Destination(f.Bound().Center(), r.Float64()*360, 60*r.Float64())
		} else {
			pts[i] = Destination(center, r.Float64()*360, 20000*r.Float64())
		}
	}
	var cands, hits int64
	buf := make([]*Fence, 0, 16)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p := pts[i&4095]
		cs := ix.Candidates(p, buf[:0])
		cands += int64(len(cs))
		for _, f := range cs {
			if f.Contains(p) {
				hits++
			}
		}
	}
	el := time.Since(start).Seconds()
	fixesPerS := float64(b.N) / el
	b.ReportMetric(fixesPerS, "fixes/s")
	b.ReportMetric(float64(cands)/float64(b.N), "candidates/fix")
	b.ReportMetric(fixesPerS*float64(cands)/float64(b.N), "candidate-checks/s")
	b.ReportMetric(fixesPerS*nFences, "fix-fence-checks/s")
}

// BenchmarkFenceEngineObserve measures the full engine per fix (index,
// state machine, event ids) with 10,000 fences and 100 vehicles.
func BenchmarkFenceEngineObserve(b *testing.B) {
	const nFences = 10000
	fences := randomFences(b, nFences, 20000, 3)
	e := NewFenceEngine(fences, EngineOptions{})
	r := rand.New(rand.NewPCG(5, 5))
	type veh struct {
		id  string
		pos orb.Point
		brg float64
	}
	vs := make([]veh, 100)
	for i := range vs {
		vs[i] = veh{fmt.Sprintf("v%03d", i), Destination(center, r.Float64()*360, 15000*r.Float64()), r.Float64() * 360}
	}
	t := base
	events := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := &vs[i%len(vs)]
		if i%len(vs) == 0 {
			t = t.Add(5 * time.Second)
		}
		v.pos = Destination(v.pos, v.brg, 60)
		if r.IntN(20) == 0 {
			v.brg = r.Float64() * 360
		}
		if DistanceM(center, v.pos) > 20000 {
			v.brg = BearingDeg(v.pos, center)
		}
		events += len(e.Observe(v.id, t, v.pos))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fixes/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/fix")
}
