package embedded_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/embedded"
)

// positionBatch returns n realistic position points of 500 vehicles, one fix
// per vehicle every second from start.
func positionBatch(n int, start time.Time) []timeseries.Point {
	ps := make([]timeseries.Point, n)
	ign := true
	for i := range ps {
		v := i % 500
		ps[i] = timeseries.PositionPoint(revloop.Position{
			Device:     revloop.DeviceID(fmt.Sprintf("trk-%04d", v)),
			Vehicle:    fmt.Sprintf("veh-%04d", v),
			Time:       start.Add(time.Duration(i/500) * time.Second),
			Lat:        52.37 + float64(v)*1e-3 + float64(i)*1e-6,
			Lon:        4.89 + math.Sin(float64(i))*1e-3,
			SpeedKmh:   42.5,
			HeadingDeg: float64(i % 360),
			HDOP:       0.9,
			Sats:       11,
			OdometerKm: 12034.5 + float64(i)*0.01,
			Ignition:   &ign,
		})
	}
	return ps
}

// BenchmarkWrite writes batches of 5,000 position points of 500 vehicles
// with fresh timestamps; points/s is the figure that matters (ingest needs
// 40,000 messages/s end to end, so the store should do well over 100,000).
func BenchmarkWrite(b *testing.B) {
	for _, batch := range []int{500, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			s, err := embedded.Open(ctx, b.TempDir(), embedded.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			ps := positionBatch(batch, start)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				base := start.Add(time.Duration(i*batch/500+1) * time.Second)
				for j := range ps {
					ps[j].Time = base.Add(time.Duration(j/500) * time.Second)
				}
				if err := s.Write(ctx, ps); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(); err != nil { // includes the final flush
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// BenchmarkRead measures the queries the API serves most: the latest fix of
// 500 vehicles, and one vehicle's hour of 1 Hz fixes (3,600 points).
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := embedded.Open(ctx, dir, embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 360 { // 3,600 s of 500 vehicles
		if err := s.Write(ctx, positionBatch(5000, start.Add(time.Duration(i)*10*time.Second))); err != nil {
			b.Fatal(err)
		}
	}
	// Reopen so that every point is in the tables and no flush runs.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = embedded.Open(ctx, dir, embedded.Options{}); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("LatestPositions/500", func(b *testing.B) {
		for b.Loop() {
			ps, err := s.LatestPositions(ctx)
			if err != nil || len(ps) != 500 {
				b.Fatal(len(ps), err)
			}
		}
	})
	b.Run("Positions/1h", func(b *testing.B) {
		for b.Loop() {
			ps, err := s.Positions(ctx, "trk-0007", start, start.Add(time.Hour))
			if err != nil || len(ps) != 3600 {
				b.Fatal(len(ps), err)
			}
		}
	})
}

// BenchmarkWriteConcurrent writes from several goroutines at once, as ingest
// does with --ingest-writers; each op is one batch.
func BenchmarkWriteConcurrent(b *testing.B) {
	for _, tc := range []struct{ writers, batch int }{{2, 5000}, {8, 500}} {
		b.Run(fmt.Sprintf("writers=%d/batch=%d", tc.writers, tc.batch), func(b *testing.B) {
			ctx := context.Background()
			s, err := embedded.Open(ctx, b.TempDir(), embedded.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var next atomic.Int64
			b.SetParallelism(tc.writers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ps := positionBatch(tc.batch, start)
				for pb.Next() {
					base := start.Add(time.Duration(next.Add(1)*int64(tc.batch/500)) * time.Second)
					for j := range ps {
						ps[j].Time = base.Add(time.Duration(j/500) * time.Second)
					}
					if err := s.Write(ctx, ps); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*tc.batch)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
