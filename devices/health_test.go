package devices_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/ingest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func status(id revloop.DeviceID, at time.Time, s revloop.DeviceStatus) ingest.Record {
	s.Device, s.Time = id, at
	return ingest.Record{Device: id, Channel: revloop.ChannelStatus, Received: at, Status: &s}
}

func kinds(evs []devices.Event) []revloop.EventKind {
	var out []revloop.EventKind
	for i := len(evs) - 1; i >= 0; i-- { // oldest first
		out = append(out, evs[i].Kind)
	}
	return out
}

func TestHealthLifecycle(t *testing.T) {
	ctx := context.Background()
	reg, _ := testRegistry(t)
	addDevice(t, reg, "trk-1", "tracker")
	addDevice(t, reg, "bin-1", "bin_sensor")
	clk := &fakeClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	h := devices.NewHealth(reg, nil, devices.HealthOptions{Now: clk.Now, LowBatteryV: 3.4,
		OfflineAfter: map[devices.Kind]time.Duration{devices.KindTracker: 10 * time.Minute}})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	recs := []ingest.Record{
		status("trk-1", t0, revloop.DeviceStatus{BatteryV: 3.9, RSSIDbm: -71, Firmware: "2.1", UptimeS: 60, Online: true, ConfigVersion: 4}),
		{Device: "bin-1", Channel: revloop.ChannelFill, Received: t0, Fills: []revloop.FillReading{{Device: "bin-1", Time: t0, LevelPct: 40, BatteryV: 3.2}}},
	}
	for i := 0; i < 2; i++ { // a redelivered batch changes nothing
		if err := h.Observe(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hi, err := reg.HealthOf(ctx, "trk-1")
	if err != nil {
		t.Fatal(err)
	}
	if hi.BatteryV != 3.9 || hi.RSSIDbm != -71 || hi.Firmware != "2.1" || hi.ConfigVersion != 4 || !hi.LastSeen.Equal(t0) || hi.Offline {
		t.Fatalf("stored health = %+v", hi)
	}
	ev, _ := reg.Events(ctx, "bin-1", 10)
	if got := kinds(ev); len(got) != 1 || got[0] != revloop.EventLowBattery {
		t.Fatalf("bin-1 events = %v, want one low_battery", got)
	}

	// Silence: the tracker goes offline after 10 min, the bin sensor not.
	clk.Add(11 * time.Minute)
	n, err := h.CheckSilence(ctx)
	if err != nil || n != 1 {
		t.Fatalf("CheckSilence = %d, %v; want the tracker only", n, err)
	}
	if n, _ := h.CheckSilence(ctx); n != 0 {
		t.Fatalf("second CheckSilence marked %d again", n)
	}
	// It comes back, then its last will arrives.
	t1 := clk.Now()
	if err := h.Observe(ctx, []ingest.Record{{Device: "trk-1", Channel: revloop.ChannelGPS, Received: t1,
		Positions: []revloop.Position{{Device: "trk-1", Time: t1, Lat: 1, Lon: 2}}}}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	will := status("trk-1", t0, revloop.DeviceStatus{Online: false}) // the will carries the connect-time ts
	will.Received = clk.Now()
	if err := h.Observe(ctx, []ingest.Record{will}); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ev, _ = reg.Events(ctx, "trk-1", 10)
	want := []revloop.EventKind{revloop.EventDeviceOffline, revloop.EventDeviceOnline, revloop.EventDeviceOffline}
	if got := kinds(ev); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("trk-1 events = %v, want %v", got, want)
	}
	off, err := reg.OfflineIDs(ctx)
	if err != nil || !off["trk-1"] || off["bin-1"] {
		t.Fatalf("OfflineIDs = %v, %v", off, err)
	}
	d, _ := reg.Get(ctx, "trk-1")
	if !d.LastSeen.Equal(clk.Now()) {
		t.Fatalf("device last seen %v, want %v", d.LastSeen, clk.Now())
	}

	// A fresh tracker (restart) loads the stored state: no duplicate events.
	h2 := devices.NewHealth(reg, nil, devices.HealthOptions{Now: clk.Now})
	if err := h2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if n, _ := h2.CheckSilence(ctx); n != 0 {
		t.Fatalf("after reload CheckSilence marked %d devices already offline", n)
	}
	if s, ok := h2.Snapshot("trk-1"); !ok || !s.Offline || s.ConfigVersion != 4 {
		t.Fatalf("reloaded snapshot = %+v, %v", s, ok)
	}
}

func TestHealthBatchesRoutineUpdates(t *testing.T) {
	ctx := context.Background()
	reg, db := testRegistry(t)
	addDevice(t, reg, "trk-1", "tracker")
	clk := &fakeClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	h := devices.NewHealth(reg, nil, devices.HealthOptions{Now: clk.Now, PersistEvery: 30 * time.Second})
	stored := func() int64 {
		var ms int64
		db.QueryRow(ctx, `SELECT last_seen_ms FROM device_health WHERE device_id = 'trk-1'`).Scan(&ms)
		return ms
	}
	gps := func() {
		at := clk.Now()
		h.Observe(ctx, []ingest.Record{{Device: "trk-1", Channel: revloop.ChannelGPS, Received: at,
			Positions: []revloop.Position{{Device: "trk-1", Time: at}}}})
	}
	gps()
	h.Flush(ctx)
	first := stored()
	if first == 0 {
		t.Fatal("first sighting not written at once")
	}
	clk.Add(10 * time.Second)
	gps()
	h.Flush(ctx)
	if stored() != first {
		t.Fatal("routine last-seen update written before PersistEvery")
	}
	clk.Add(25 * time.Second)
	h.Flush(ctx)
	if stored() == first {
		t.Fatal("routine update not written after PersistEvery")
	}
}

// TestHealthUrgentAfterRoutine checks that a state change following a
// routine update of the same device is written at the next flush, and
// that a failed flush leaves it to the following one.
func TestHealthUrgentAfterRoutine(t *testing.T) {
	ctx := context.Background()
	reg, db := testRegistry(t)
	addDevice(t, reg, "trk-1", "tracker")
	clk := &fakeClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	h := devices.NewHealth(reg, nil, devices.HealthOptions{Now: clk.Now, PersistEvery: time.Hour})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	storedFirmware := func() string {
		var fw string
		db.QueryRow(ctx, `SELECT firmware FROM device_health WHERE device_id = 'trk-1'`).Scan(&fw)
		return fw
	}
	gps := func() ingest.Record {
		at := clk.Now()
		return ingest.Record{Device: "trk-1", Channel: revloop.ChannelGPS, Received: at, Positions: []revloop.Position{{Device: "trk-1", Time: at}}}
	}
	steps := []struct {
		name      string
		records   func() []ingest.Record
		failFlush bool
		want      string
	}{
		{"first sighting", func() []ingest.Record {
			return []ingest.Record{status("trk-1", clk.Now(), revloop.DeviceStatus{Firmware: "1.0", Online: true})}
		}, false, "1.0"},
		{"routine update, then new firmware in the same batch", func() []ingest.Record {
			return []ingest.Record{gps(), status("trk-1", clk.Now(), revloop.DeviceStatus{Firmware: "2.0", Online: true})}
		}, false, "2.0"},
		{"routine update, then new firmware in the next batch", func() []ingest.Record {
			h.Observe(ctx, []ingest.Record{gps()})
			clk.Add(time.Second)
			return []ingest.Record{status("trk-1", clk.Now(), revloop.DeviceStatus{Firmware: "3.0", Online: true})}
		}, false, "3.0"},
		{"new firmware, flush fails", func() []ingest.Record {
			return []ingest.Record{status("trk-1", clk.Now(), revloop.DeviceStatus{Firmware: "4.0", Online: true})}
		}, true, "3.0"},
		{"routine update after the failed flush", func() []ingest.Record { return []ingest.Record{gps()} }, false, "4.0"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Add(10 * time.Second)
			if err := h.Observe(ctx, s.records()); err != nil {
				t.Fatal(err)
			}
			fctx := ctx
			if s.failFlush {
				c, cancel := context.WithCancel(ctx)
				cancel()
				fctx = c
			}
			if err := h.Flush(fctx); (err != nil) != s.failFlush {
				t.Fatalf("Flush = %v, want failure %v", err, s.failFlush)
			}
			if got := storedFirmware(); got != s.want {
				t.Errorf("stored firmware %q, want %q", got, s.want)
			}
		})
	}
}

func BenchmarkHealthObserve(b *testing.B) {
	reg, _ := testRegistry(b)
	h := devices.NewHealth(reg, nil, devices.HealthOptions{})
	ctx := context.Background()
	// 64 prepared batches of 500 records over 10,000 devices; building them
	// is outside the measured loop.
	const batch, nbatches, ndev = 500, 64, 10000
	batches := make([][]ingest.Record, nbatches)
	base := time.Now()
	for k := range batches {
		batches[k] = make([]ingest.Record, batch)
		for j := range batches[k] {
			i := k*batch + j
			id := revloop.DeviceID(fmt.Sprintf("dev-%05d", i%ndev))
			at := base.Add(time.Duration(i) * time.Millisecond)
			batches[k][j] = ingest.Record{Device: id, Channel: revloop.ChannelGPS, Received: at,
				Positions: []revloop.Position{{Device: id, Time: at}}}
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		bt := batches[n%nbatches]
		if n >= nbatches { // move replayed batches forward so they are news, not redeliveries
			for j := range bt {
				bt[j].Received = bt[j].Received.Add(nbatches * batch * time.Millisecond)
			}
		}
		if err := h.Observe(ctx, bt); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*batch), "ns/record")
}
