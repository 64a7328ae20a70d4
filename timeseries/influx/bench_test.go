package influx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/internal/testenv"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/influx"
)

// BenchmarkWrite writes batches of 5,000 position points of 500 vehicles to
// the test InfluxDB and reports points/s.
func BenchmarkWrite(b *testing.B) {
	u, bucket := testenv.InfluxDatabase(b)
	s, err := influx.New(influx.Config{URL: u, Bucket: bucket})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 5000
	ign := true
	ps := make([]timeseries.Point, batch)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ps {
			v := j % 500
			ps[j] = timeseries.PositionPoint(revloop.Position{
				Device: revloop.DeviceID(fmt.Sprintf("trk-%04d", v)), Vehicle: fmt.Sprintf("veh-%04d", v),
				Time: start.Add(time.Duration(i*batch+j) / 500 * time.Second),
				Lat:  52.37 + float64(j)*1e-6, Lon: 4.89, SpeedKmh: 42.5, HeadingDeg: float64(j % 360),
				HDOP: 0.9, Sats: 11, OdometerKm: 12034.5 + float64(j)*0.01, Ignition: &ign,
			})
		}
		if err := s.Write(context.Background(), ps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}
