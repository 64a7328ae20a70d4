package timeseries

import (
	"math"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

func benchPoints() []Point {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	on := true
	return []Point{
		PositionPoint(revloop.Position{Device: "trk-0001", Vehicle: "veh-01", Time: t0, Lat: 51.05, Lon: 3.72,
			SpeedKmh: 31.5, HeadingDeg: 270, HDOP: 0.9, Sats: 9, OdometerKm: 10234.5, Ignition: &on}),
		FillPoint(revloop.FillReading{Device: "fill-0001", Bin: "bin-0001", Site: "site-01", Time: t0,
			LevelPct: 63.2, DistanceMm: 420, TempC: 11.5, BatteryV: 3.61, TiltDeg: math.NaN()}),
	}
}

// BenchmarkValidate measures the per-point check both stores run on every
// write.
func BenchmarkValidate(b *testing.B) {
	pts := benchPoints()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := Validate(pts[i%len(pts)]); err != nil {
			b.Fatal(err)
		}
	}
}
