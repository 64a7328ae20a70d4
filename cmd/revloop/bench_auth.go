package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/internal/mqttpub"
)

func init() {
	registerBench(&benchmark{name: "auth", summary: "CONNECT authentication rate on the embedded broker (cold and warm credential cache)", run: benchAuth})
	registerBench(&benchmark{name: "health", summary: "device health tracking cost per ingested record", run: benchHealth})
}

// benchRegistry provisions n devices in a fresh store and returns their
// secrets.
func benchRegistry(ctx context.Context, e *env, dataDir, dbURL string, n int, quiet bool) (*devices.Registry, []devices.Credential, func(), error) {
	db, done, err := benchDB(ctx, dbURL, dataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	// The embedded broker needs no Mosquitto hash; skipping it keeps the
	// set-up short without changing what is measured.
	reg := devices.NewRegistry(db, e.log, devices.Options{NoMosquittoHash: true})
	run := fmt.Sprintf("b%x", time.Now().UnixNano()&0xffffff)
	rows := make([]devices.Row, n)
	for i := range rows {
		rows[i] = devices.Row{Line: i + 2, Spec: devices.Spec{ID: fmt.Sprintf("%s-%05d", run, i), Kind: "bin_sensor"}}
	}
	bar := newProgress(e.stderr, "provisioning", quiet)
	creds, err := reg.Import(ctx, rows, bar.set)
	bar.done()
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return reg, creds, done, nil
}

func benchAuth(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench auth", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	n := fs.Int("devices", 10000, "registered devices")
	cold := fs.Int("cold", 1000, "devices connecting once with an empty credential cache (argon2 on every CONNECT)")
	warm := fs.Int("warm", 20000, "CONNECTs of already-verified devices (cache hits)")
	conc := fs.Int("concurrency", 32, "concurrent connecting clients")
	dataDir := fs.String("data-dir", "", "state store directory (default: a temporary one)")
	dbURL := fs.String("database-url", "", "PostgreSQL url instead of SQLite")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *cold <= 0 || *cold > *n || *warm <= 0 || *conc <= 0 {
		return errors.New("bench auth: want --devices > 0, 0 < --cold <= --devices, --warm > 0, --concurrency > 0")
	}
	t0 := time.Now()
	reg, creds, done, err := benchRegistry(ctx, e, *dataDir, *dbURL, *n, *quiet)
	if err != nil {
		return fmt.Errorf("bench auth: %w", err)
	}
	defer done()
	fmt.Fprintf(e.stdout, "provisioned %d devices in %s (argon2id m=%dKiB t=%d p=%d)\n", *n, time.Since(t0).Round(time.Millisecond),
		devices.DefaultArgon2.MemoryKiB, devices.DefaultArgon2.Time, devices.DefaultArgon2.Threads)

	auth := devices.NewMQTTAuth(reg)
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(auth, nil); err != nil {
		return err
	}
	ln := listeners.NewTCP(listeners.Config{ID: "bench", Address: "127.0.0.1:0"})
	if err := srv.AddListener(ln); err != nil {
		return err
	}
	go srv.Serve()
	defer srv.Close()
	addr := ln.Address()

	reg.ForgetVerified()
	coldCreds := creds[:*cold]
	idx := make([]int, *cold)
	for i := range idx {
		idx[i] = i
	}
	r, err := connectStorm(ctx, addr, coldCreds, idx, *conc)
	if err != nil {
		return fmt.Errorf("bench auth cold: %w", err)
	}
	r.print(e.stdout, "cold (argon2id verify on each CONNECT)")
	widx := make([]int, *warm)
	for i := range widx {
		widx[i] = rand.IntN(*cold)
	}
	r, err = connectStorm(ctx, addr, coldCreds, widx, *conc)
	if err != nil {
		return fmt.Errorf("bench auth warm: %w", err)
	}
	r.print(e.stdout, "warm (verified-credential cache)")
	// Wrong secrets always pay the full check and are refused.
	bad := make([]devices.Credential, len(coldCreds))
	for i, c := range coldCreds {
		bad[i] = devices.Credential{Device: c.Device, Secret: c.Secret[:len(c.Secret)-2] + "zz"}
	}
	r, err = connectStorm(ctx, addr, bad, idx[:min(len(idx), 500)], *conc)
	if err != nil {
		return fmt.Errorf("bench auth refused: %w", err)
	}
	r.print(e.stdout, "wrong secret (refused)")
	hits, misses := reg.CacheStats()
	st := auth.Stats()
	fmt.Fprintf(e.stdout, "hook: accepted %d, refused %d; credential cache hits %d, misses %d\n", st.Accepted, st.Refused, hits, misses)
	return nil
}

type stormResult struct {
	n, ok, refused int
	elapsed        time.Duration
	cpu            time.Duration // process CPU time (broker, hook, store and the clients), -1 if unknown
	lat            []time.Duration
}

// processCPU returns the CPU time this process used so far (Linux
// /proc/self/stat; -1 elsewhere). Dividing it among the connects gives a
// figure that does not depend on what else the machine is running.
func processCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

func (r stormResult) print(w io.Writer, label string) {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	q := func(p float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
	}
	fmt.Fprintf(w, "%-40s %6d connects in %8s = %8.0f connects/s (accepted %d, refused %d; p50 %s, p99 %s)\n",
		label, r.n, r.elapsed.Round(time.Millisecond), float64(r.n)/r.elapsed.Seconds(), r.ok, r.refused,
		q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond))
	if r.cpu > 0 {
		per := r.cpu / time.Duration(r.n)
		fmt.Fprintf(w, "%-40s CPU %s = %s per connect = %.0f connects per CPU-second (clients included)\n",
			"", r.cpu.Round(time.Millisecond), per.Round(time.Microsecond), float64(time.Second)/float64(per))
	}
}

// connectStorm opens one MQTT connection per index with conc workers: TCP
// connect, CONNECT, wait for CONNACK, DISCONNECT.
func connectStorm(ctx context.Context, addr string, creds []devices.Credential, idx []int, conc int) (stormResult, error) {
	var next atomic.Int64
	var mu sync.Mutex
	res := stormResult{n: len(idx), lat: make([]time.Duration, 0, len(idx))}
	var firstErr error
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(idx) || ctx.Err() != nil {
					return
				}
				c := creds[idx[i]]
				t := time.Now()
				ok, err := mqttConnect(addr, fmt.Sprintf("bench-%d", i), string(c.Device), c.Secret)
				d := time.Since(t)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if ok {
					res.ok++
				} else if err == nil {
					res.refused++
				}
				res.lat = append(res.lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = -1
	if cpu1 := processCPU(); cpu0 >= 0 && cpu1 >= 0 {
		res.cpu = cpu1 - cpu0
	}
	return res, firstErr
}

// mqttConnect performs one MQTT 3.1.1 CONNECT and reports whether the
// broker accepted it.
func mqttConnect(addr, clientID, user, pass string) (bool, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return false, err
	}
	c, err := mqttpub.Connect(nc, mqttpub.Options{ClientID: clientID, Username: user, Password: pass, KeepAlive: 60 * time.Second})
	if errors.Is(err, mqttpub.ErrRefused) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, c.Close()
}

func benchHealth(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench health", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	n := fs.Int("devices", 10000, "devices reporting")
	records := fs.Int("records", 2_000_000, "records observed")
	batch := fs.Int("batch", 500, "records per Observe call (an ingest batch)")
	rate := fs.Float64("ingest-rate", 20000, "records/s one ingest core sustains without health tracking, the budget the overhead is measured against")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *records <= 0 || *batch <= 0 || *rate <= 0 {
		return errors.New("bench health: all figures must be positive")
	}
	db, done, err := benchDB(ctx, "", "")
	if err != nil {
		return err
	}
	defer done()
	reg := devices.NewRegistry(db, e.log, devices.Options{})
	// The tracker's clock follows the simulated ingest rate, so flushes and
	// PersistEvery see the time the records would span.
	base := time.Now()
	var observed atomic.Int64
	clock := func() time.Time {
		return base.Add(time.Duration(float64(observed.Load()) / *rate * float64(time.Second)))
	}
	h := devices.NewHealth(reg, e.log, devices.HealthOptions{Now: clock})
	ids := make([]revloop.DeviceID, *n)
	for i := range ids {
		ids[i] = revloop.DeviceID(fmt.Sprintf("dev-%05d", i))
	}
	mk := func(i int) ingest.Record {
		id := ids[i%len(ids)]
		t := base.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
		switch (i / len(ids)) % 10 {
		case 0:
			return ingest.Record{Device: id, Channel: revloop.ChannelStatus, Received: t,
				Status: &revloop.DeviceStatus{Device: id, Time: t, BatteryV: 3.6, RSSIDbm: -80, Firmware: "1.0", UptimeS: float64(i), Online: true}}
		case 1, 2, 3:
			return ingest.Record{Device: id, Channel: revloop.ChannelFill, Received: t,
				Fills: []revloop.FillReading{{Device: id, Time: t, LevelPct: 50, BatteryV: 3.6}}}
		default:
			return ingest.Record{Device: id, Channel: revloop.ChannelGPS, Received: t,
				Positions: []revloop.Position{{Device: id, Time: t, Lat: 59.3, Lon: 18.0}}}
		}
	}
	recs := make([]ingest.Record, *batch)
	var observe, flush time.Duration
	cpu0 := processCPU()
	flushes := 0
	for done := 0; done < *records; {
		m := min(*batch, *records-done)
		for i := 0; i < m; i++ {
			recs[i] = mk(done + i)
		}
		t := time.Now()
		if err := h.Observe(ctx, recs[:m]); err != nil {
			return err
		}
		observe += time.Since(t)
		done += m
		observed.Store(int64(done))
		// Flush as Run would every 5 s at the budgeted ingest rate.
		if done%int(*rate*5) < m || done == *records {
			t = time.Now()
			if err := h.Flush(ctx); err != nil {
				return err
			}
			flush += time.Since(t)
			flushes++
		}
	}
	cpu := processCPU() - cpu0
	per := float64(observe.Nanoseconds()) / float64(*records)
	perFlush := float64(flush.Nanoseconds()) / float64(*records)
	budget := 1e9 / *rate
	fmt.Fprintf(e.stdout, "observe: %d records in %s = %.0f ns/record\n", *records, observe.Round(time.Millisecond), per)
	fmt.Fprintf(e.stdout, "flush:   %d flushes (every 5 s of simulated ingest, %d devices) in %s = %.0f ns/record amortised (SQLite, off the ingest path)\n",
		flushes, *n, flush.Round(time.Millisecond), perFlush)
	fmt.Fprintf(e.stdout, "overhead at %.0f records/s (budget %.0f ns/record): observe %.2f%%, observe+flush %.2f%%\n",
		*rate, budget, 100*per/budget, 100*(per+perFlush)/budget)
	if cpu0 >= 0 && cpu > 0 {
		fmt.Fprintf(e.stdout, "process CPU (observe, flush, record building, GC): %s = %.0f ns/record\n",
			cpu.Round(time.Millisecond), float64(cpu.Nanoseconds())/float64(*records))
	}
	return nil
}
