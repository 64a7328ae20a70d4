package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
)

type fakeVehicles []Vehicle

func (f fakeVehicles) AllVehicles(context.Context) ([]Vehicle, error) { return f, nil }

func (f fakeVehicles) FillSensors(context.Context) ([]revloop.DeviceID, error) {
	return []revloop.DeviceID{"fill-1", "fill-2"}, nil
}

type fakeLatest []revloop.Position

func (f fakeLatest) FillHistory(_ context.Context, dev revloop.DeviceID, from, to time.Time) ([]revloop.FillReading, error) {
	if dev != "fill-1" {
		return nil, nil
	}
	return []revloop.FillReading{{Device: dev, Time: to.Add(-2 * time.Hour), LevelPct: 40}, {Device: dev, Time: to.Add(-time.Hour), LevelPct: 55}}, nil
}

func (f fakeLatest) LatestPositions(context.Context, ...revloop.DeviceID) ([]revloop.Position, error) {
	return f, nil
}

func TestLiveSnapshot(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	vs := fakeVehicles{{ID: "v1", Plate: "P1", TrackerDeviceID: "t1"}, {ID: "v2", Plate: "P2", TrackerDeviceID: "t2"}, {ID: "v3"}}
	on := true
	l := NewLive(slog.New(slog.NewTextHandler(io.Discard, nil)), LiveOptions{}, vs,
		fakeLatest{{Device: "t2", Time: t0, Lat: 51, Lon: 3, SpeedKmh: math.NaN(), HeadingDeg: 90}})
	l.Load(ctx)
	if f, ok := l.Fill("fill-1"); !ok || f.LevelPct != 55 {
		t.Fatalf("fill seeded from history: %+v %v", f, ok)
	}
	if _, ok := l.Fill("fill-2"); ok {
		t.Fatal("fill-2 has no reading")
	}
	l.Observe(ctx, []ingest.Record{{Positions: []revloop.Position{
		{Device: "t1", Time: t0.Add(time.Minute), Lat: 51.1, Lon: 3.1, SpeedKmh: 42, Ignition: &on},
		{Device: "t1", Time: t0, Lat: 0, Lon: 0}, // older, ignored
	}}})
	l.Refresh(ctx)
	var fc struct {
		Features []struct {
			ID       string `json:"id"`
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	snap := l.Positions()
	if err := json.Unmarshal(snap.JSON, &fc); err != nil {
		t.Fatalf("snapshot is not JSON: %v: %s", err, snap.JSON)
	}
	if len(fc.Features) != 2 || snap.Count != 2 {
		t.Fatalf("features %+v", fc.Features)
	}
	f1, f2 := fc.Features[0], fc.Features[1]
	if f1.ID != "v1" || f1.Geometry.Coordinates[1] != 51.1 || f1.Properties["ignition"] != true || f1.Properties["speed_kmh"] != 42.0 {
		t.Fatalf("v1 %+v", f1)
	}
	if _, has := f2.Properties["speed_kmh"]; has || f2.ID != "v2" {
		t.Fatalf("v2 %+v: a NaN speed must be left out", f2)
	}
}

func TestHubDropsSlowSubscriber(t *testing.T) {
	h := NewHub(2)
	slow := h.Subscribe()
	fast := h.Subscribe("position")
	onlyEvents := h.Subscribe("event")
	for i := 0; i < 5; i++ {
		h.Publish(Message{Type: "position", Data: []byte(fmt.Sprint(i))})
		<-fast.C // keeps up
	}
	n := 0
	for range slow.C { // closed once dropped
		n++
	}
	if n != 2 || h.Dropped() != 1 {
		t.Fatalf("slow got %d before being dropped (%d dropped)", n, h.Dropped())
	}
	if len(onlyEvents.C) != 0 {
		t.Fatal("event subscriber got positions")
	}
	if h.Subscribers() != 2 {
		t.Fatalf("subscribers %d", h.Subscribers())
	}
	h.Unsubscribe(slow) // already dropped: no panic
	h.Unsubscribe(fast)
	if _, ok := <-fast.C; ok {
		t.Fatal("unsubscribed channel open")
	}
}

func BenchmarkLiveRebuild10k(b *testing.B) {
	vs := make(fakeVehicles, 10000)
	var ps []revloop.Position
	for i := range vs {
		dev := fmt.Sprintf("trk-%05d", i)
		vs[i] = Vehicle{ID: fmt.Sprintf("veh-%05d", i), Plate: fmt.Sprintf("1-ABC-%03d", i%1000), TrackerDeviceID: dev}
		ps = append(ps, revloop.Position{Device: revloop.DeviceID(dev), Time: time.Now(), Lat: 51 + float64(i)*1e-5, Lon: 3.7, SpeedKmh: 30, HeadingDeg: 180})
	}
	l := NewLive(slog.New(slog.NewTextHandler(io.Discard, nil)), LiveOptions{}, vs, nil)
	l.loadVehicles(context.Background())
	l.Observe(context.Background(), []ingest.Record{{Positions: ps}})
	b.ResetTimer()
	for b.Loop() {
		l.Rebuild()
	}
	b.ReportMetric(float64(len(l.Positions().JSON)), "bytes")
	b.ReportMetric(float64(len(l.Positions().Gzip)), "gzip-bytes")
}
