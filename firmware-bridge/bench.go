package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/firmware-bridge/queue"
)

// DrainResult is what BenchDrain measured.
type DrainResult struct {
	Readings int
	Messages uint64
	Elapsed  time.Duration
}

// PerSecond is the drain rate in readings per second.
func (r DrainResult) PerSecond() float64 { return float64(r.Readings) / r.Elapsed.Seconds() }

// BenchDrain fills a fresh queue under dir with n fill readings (a backlog
// after an outage), then starts the uplink against the broker at url and
// measures the time until every reading is acknowledged.
func BenchDrain(ctx context.Context, url, dir string, n int, log *slog.Logger) (DrainResult, error) {
	cfg := &Config{DeviceID: "bench-gw", DataDir: dir, MQTT: MQTTConfig{URL: url, StatusInterval: time.Hour},
		Queue: QueueConfig{MaxReadings: n + 1, Fsync: queue.SyncNever}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return DrainResult{}, err
	}
	q, err := queue.Open(cfg.QueueOptions())
	if err != nil {
		return DrainResult{}, err
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const chunk = 1000
	batch := make([][]byte, 0, chunk)
	for i := 0; i < n; i++ {
		dev := revloop.DeviceID(fmt.Sprintf("bin-%d", i%50))
		obj, err := EncodeFill(revloop.FillReading{Device: dev, Bin: string(dev), Time: t0.Add(time.Duration(i) * time.Second),
			LevelPct: float64(i % 100), DistanceMm: float64(1200 - i%1000), TempC: 21.5})
		if err != nil {
			return DrainResult{}, err
		}
		batch = append(batch, MarshalRecord(revloop.Topic(dev, revloop.ChannelFill), obj))
		if len(batch) == chunk || i == n-1 {
			if err := q.Append(batch...); err != nil {
				return DrainResult{}, err
			}
			batch = batch[:0]
		}
	}
	if err := q.Close(); err != nil {
		return DrainResult{}, err
	}
	b, err := New(cfg, Options{Hardware: &Sim{}, Logger: log})
	if err != nil {
		return DrainResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- b.Run(ctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for b.Queue().Len() > 0 {
		select {
		case <-ctx.Done():
			return DrainResult{}, ctx.Err()
		case err := <-done:
			return DrainResult{}, fmt.Errorf("bridge stopped: %v", err)
		case <-tick.C:
		}
	}
	res := DrainResult{Readings: n, Messages: b.messages.Load(), Elapsed: time.Since(start)}
	cancel()
	<-done
	return res, nil
}

// IdleResult is what BenchIdle measured.
type IdleResult struct {
	Elapsed    time.Duration
	CPUPercent float64 // of one core
	PeakRSSMB  float64
	Readings   uint64
	Published  uint64
}

// BenchIdle runs the bridge with five simulated sensors at 1 Hz (fill level,
// bin temperature, GNSS, RFID gate, scale) against the broker at url for d
// and reports the process's CPU use and peak RSS.
func BenchIdle(ctx context.Context, url string, d time.Duration, log *slog.Logger) (IdleResult, error) {
	dir, err := os.MkdirTemp("", "revloop-bridge-idle-")
	if err != nil {
		return IdleResult{}, err
	}
	defer os.RemoveAll(dir)
	y := fmt.Sprintf(`
device_id: bench-gw
data_dir: %s
mqtt: {url: %q}
buses:
  - {name: i2c, type: sim}
  - {name: gnss, type: sim}
  - {name: gate, type: sim}
  - {name: gpio, type: sim}
devices:
  - {name: bin, driver: srf02, bus: i2c, depth_mm: 1200, interval: 1s}
  - {name: bin-temp, driver: mcp9808, bus: i2c, interval: 1s}
  - {name: tracker, driver: nmea, bus: gnss, interval: 1s}
  - {name: gate, driver: chafon, bus: gate, interval: 1s}
  - {name: scale, driver: hx711, bus: gpio, offset: 8000, counts_per_kg: 10000, interval: 1s}
`, filepath.Join(dir, "data"), url)
	cfg, err := ParseConfig([]byte(y))
	if err != nil {
		return IdleResult{}, err
	}
	var readings atomic.Uint64
	b, err := New(cfg, Options{Hardware: &Sim{}, Logger: log, Tap: func(string, []byte) { readings.Add(1) }})
	if err != nil {
		return IdleResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	u0, s0, err := cpuTime()
	if err != nil {
		return IdleResult{}, err
	}
	start := time.Now()
	if err := b.Run(ctx); err != nil {
		return IdleResult{}, err
	}
	el := time.Since(start)
	u1, s1, err := cpuTime()
	if err != nil {
		return IdleResult{}, err
	}
	rss, err := peakRSSMB()
	if err != nil {
		return IdleResult{}, err
	}
	return IdleResult{Elapsed: el, CPUPercent: 100 * float64((u1-u0)+(s1-s0)) / float64(el), PeakRSSMB: rss,
		Readings: readings.Load(), Published: b.published.Load()}, nil
}
