package sim

import (
	"math"
	"time"

	"github.com/revloop/revloop"
)

// TracePoint is a sensor reading with the true level behind it.
type TracePoint struct {
	Reading      revloop.FillReading
	TrueLevelPct float64
}

// BinTrace simulates bin b alone from start to end with the Generator's
// fill model and sensor (noise, outliers, report interval), emptying it
// whenever the true level reaches emptyAtPct (a fixed collection policy;
// 0 uses 90). It is the ground truth for forecast tests.
func (w *World) BinTrace(b *Bin, start, end time.Time, emptyAtPct float64) ([]TracePoint, []Emptying) {
	if emptyAtPct <= 0 {
		emptyAtPct = 90
	}
	idx := 0
	for i, x := range w.Bins {
		if x == b {
			idx = i
		}
	}
	g := &Generator{start: start}
	r := rngFor(w.Seed, 1000+uint64(idx))
	s := &binState{g: g, b: b, rng: r, level: 5 + 65*r.Float64(), at: start, battery: 3.5}
	var out []TracePoint
	every := time.Duration(b.ReportEvery)
	for t := start; t.Before(end); t = t.Add(time.Duration(float64(every) * (0.97 + 0.06*r.Float64()))).Truncate(time.Millisecond) {
		// Empty at the moment the level crosses the threshold.
		if at, ok := b.Fill.TimeToReach(s.level, s.at, emptyAtPct, t.Sub(s.at)); ok && !at.After(t) {
			s.empty(at, "")
		}
		fs := s.sample(t)
		out = append(out, TracePoint{TrueLevelPct: s.level, Reading: revloop.FillReading{
			Device: b.Sensor, Bin: b.ID, Site: b.Site, Time: t, LevelPct: round(fs.levelPct, 1),
			DistanceMm: math.Round(fs.distanceMm), TempC: round(fs.tempC, 1), BatteryV: round(fs.batteryV, 2), TiltDeg: round(fs.tiltDeg, 1)}})
	}
	return out, g.emptyings
}
