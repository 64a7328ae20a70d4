package fleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

// mixBatches decodes n messages of the simulator's realistic mix (seed 1)
// into batches of about size records, as the ingest pipeline hands them to
// its observers; malformed messages are skipped.
func mixBatches(tb testing.TB, n, size int) ([][]ingest.Record, int) {
	tb.Helper()
	var out [][]ingest.Record
	var batch []ingest.Record
	total := 0
	for _, m := range sim.Messages(1, n, 0) {
		rec, err := ingest.Decode(m.Topic, m.Payload, m.SendTime)
		if err != nil {
			continue
		}
		if ingest.Validate(&rec, m.SendTime, ingest.Limits{}) != nil {
			continue
		}
		batch = append(batch, rec)
		total++
		if len(batch) == size {
			out, batch = append(out, batch), nil
		}
	}
	if len(batch) > 0 {
		out = append(out, batch)
	}
	return out, total
}

// seedMixWorld loads the world of sim.Messages into db: customers, sites,
// bins and vehicles through dispatch's seed, and with devices set the
// devices into the registry, as the seed command does.
func seedMixWorld(tb testing.TB, db *store.DB, devs bool) {
	tb.Helper()
	ctx := context.Background()
	w := sim.NewWorld(1, 20, 200)
	data, err := json.Marshal(w)
	if err != nil {
		tb.Fatal(err)
	}
	dw, err := dispatch.ReadWorld(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := dispatch.New(db).Seed(ctx, dw, nil); err != nil {
		tb.Fatal(err)
	}
	if !devs {
		return
	}
	kinds := map[string]devices.AttachedKind{"tracker": "vehicle", "bin_sensor": "bin", "gate_reader": "gate", "scale": "scale"}
	var rows []devices.Row
	for i, d := range w.Devices {
		rows = append(rows, devices.Row{Line: i + 1, Spec: devices.Spec{ID: string(d.ID), Kind: d.Kind, Firmware: d.Firmware,
			Attached: devices.Attachment{Kind: kinds[d.Kind], ID: d.AttachedTo}}})
	}
	reg := devices.NewRegistry(db, nil, devices.Options{NoMosquittoHash: true, Argon2: devices.Argon2Params{MemoryKiB: 64}})
	if _, err := reg.Import(ctx, rows, nil); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkObservers feeds 20,000 messages of the realistic mix, in
// batches of 1,000 records, to the observers serve wires after the write:
// device health, geofence events, forecasts and the alert monitor, over a
// seeded SQLite state store. Each iteration starts from fresh observer
// state and an empty alert and event history.
func BenchmarkObservers(b *testing.B) {
	batches, n := mixBatches(b, 20000, 1000)
	db := storetest.Migrated(b, storetest.SQLite)
	seedMixWorld(b, db, true)
	ctx := context.Background()
	dir := dispatch.New(db)
	ts := &fakeSeries{}
	reset := func() {
		for _, q := range []string{`DELETE FROM alert_deliveries`, `DELETE FROM alerts`, `DELETE FROM fleet_events`} {
			if _, err := db.Exec(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	}
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		reset()
		svc, err := fleet.New(ctx, fleet.Config{DB: db, Directory: dir, Positions: ts, Fills: ts, Alerts: alerts.New(db, nil, nil)})
		if err != nil {
			b.Fatal(err)
		}
		health := devices.NewHealth(devices.NewRegistry(db, nil, devices.Options{}), nil, devices.HealthOptions{})
		if err := health.Load(ctx); err != nil {
			b.Fatal(err)
		}
		obs := append([]ingest.Observer{health}, svc.Observers()...)
		c0 := processCPU()
		b.StartTimer()
		for _, recs := range batches {
			for _, o := range obs {
				if err := o.Observe(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		cpu += processCPU() - c0
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
	// The store's commits wait for the disk, which the wall time counts;
	// the process's CPU time per record is the steadier figure.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/record")
}

// processCPU is the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
