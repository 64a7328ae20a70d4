package geo_test

import (
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/sim"
)

type mixFix struct {
	vehicle string
	t       time.Time
	p       orb.Point
}

// mixFixes returns the fixes of n messages of the simulator's realistic mix
// in delivery order (dead-zone bursts arrive late), and its world's site
// fences as always existing, the way the fleet loads them.
func mixFixes(tb testing.TB, n int) ([]mixFix, []*geo.Fence) {
	tb.Helper()
	var fixes []mixFix
	for _, m := range sim.Messages(1, n, 0) {
		rec, err := ingest.Decode(m.Topic, m.Payload, m.SendTime)
		if err != nil {
			continue
		}
		for _, p := range rec.Positions {
			fixes = append(fixes, mixFix{string(p.Device), p.Time, orb.Point{p.Lon, p.Lat}})
		}
	}
	var fences []*geo.Fence
	for _, s := range sim.NewWorld(1, 20, 200).Sites {
		f := *s.Fence
		f.ID, f.CreatedAt = s.ID, time.Time{}
		fences = append(fences, &f)
	}
	return fixes, fences
}

// BenchmarkFenceEngineMix feeds the GPS fixes of 20,000 messages of the
// realistic mix (20 vehicles, their depots and customer sites; about 2 %
// of the fixes arrive late after dead zones) to a fresh engine.
func BenchmarkFenceEngineMix(b *testing.B) {
	fixes, fences := mixFixes(b, 20000)
	events := 0
	b.ReportAllocs()
	for b.Loop() {
		e := geo.NewFenceEngine(fences, geo.EngineOptions{})
		events = 0
		for _, f := range fixes {
			events += len(e.Observe(f.vehicle, f.t, f.p))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(fixes)), "ns/fix")
	b.ReportMetric(float64(events), "events")
}
