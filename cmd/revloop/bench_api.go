package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	dsp "github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/ingest"
)

func init() {
	registerBench(&benchmark{name: "api-latest", summary: "GET /api/v1/fleet/positions: p50/p99 at a fixed request rate with 10,000 vehicles (load from a child process)", run: runBenchAPILatest})
}

// loadResult is what the load-generating child reports as JSON.
type loadResult struct {
	Sent      int       `json:"sent"`
	OK        int       `json:"ok"`
	Errors    int       `json:"errors"`
	FirstErr  string    `json:"first_error,omitempty"`
	Bytes     int64     `json:"bytes"`
	ElapsedS  float64   `json:"elapsed_s"`
	LatencyMs []float64 `json:"latency_ms"` // sorted
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func runBenchAPILatest(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench api-latest", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	vehicles := fs.Int("vehicles", 10000, "vehicles in the fleet, each with a tracker and a fix")
	rate := fs.Float64("rate", 500, "requests per second, open loop (scheduled, not waiting for answers)")
	duration := fs.Duration("duration", 20*time.Second, "measured load time")
	warmup := fs.Duration("warmup", 2*time.Second, "load time before measuring")
	fixRate := fs.Float64("fix-rate", 2000, "new GPS fixes per second fed to the live view during the run")
	refresh := fs.Duration("refresh", time.Second, "live view rebuild interval")
	gz := fs.Bool("gzip", true, "ask for gzip (Accept-Encoding: gzip), as browsers do")
	load := fs.String("load", "", "internal: run as the load generator against this URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *load != "" {
		return benchLoadChild(ctx, e, *load, os.Getenv("REVLOOP_BENCH_TOKEN"), *rate, *warmup, *duration, *gz)
	}
	if *vehicles < 1 || *rate <= 0 || *duration <= 0 {
		return errors.New("bench api-latest: --vehicles, --rate and --duration must be positive")
	}

	db, done, err := benchDB(ctx, "", "")
	if err != nil {
		return err
	}
	defer done()
	st := dsp.New(db)
	fmt.Fprintf(e.stderr, "setting up %d vehicles...\n", *vehicles)
	vs := make([]dsp.Vehicle, *vehicles)
	for i := range vs {
		vs[i] = dsp.Vehicle{ID: fmt.Sprintf("veh-%05d", i), Plate: fmt.Sprintf("%d-ABC-%03d", 1+i/1000, i%1000), CapacityKg: 12000, CapacityM3: 22,
			FuelType: "diesel", ConsumptionPer100Km: 34, TrackerDeviceID: fmt.Sprintf("trk-%05d", i)}
	}
	if err := st.ImportVehicles(ctx, vs); err != nil {
		return err
	}
	tokens := accounts.New(db, time.Hour)
	_, secret, err := tokens.Create(ctx, api.RoleDispatcher, "", "bench")
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	live := dsp.NewLive(log, dsp.LiveOptions{Refresh: *refresh}, st, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	fix := func(i int, t time.Time) revloop.Position {
		return revloop.Position{Device: revloop.DeviceID(vs[i].TrackerDeviceID), Time: t,
			Lat: 50.95 + rng.Float64()*0.2, Lon: 3.6 + rng.Float64()*0.3, SpeedKmh: rng.Float64() * 80, HeadingDeg: rng.Float64() * 360, Sats: 9, OdometerKm: 1000}
	}
	first := make([]revloop.Position, len(vs))
	for i := range vs {
		first[i] = fix(i, now.Add(-time.Minute))
	}
	live.Observe(ctx, []ingest.Record{{Channel: revloop.ChannelGPS, Positions: first}})
	live.Load(ctx)
	snap := live.Positions()
	fmt.Fprintf(e.stderr, "snapshot: %d features, %d bytes, %d gzipped\n", snap.Count, len(snap.JSON), len(snap.Gzip))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); live.Run(runCtx) }()
	var fed atomic.Int64
	go func() { // ingest keeps delivering fixes in batches every 100 ms
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		per := int(*fixRate / 10)
		for {
			select {
			case <-runCtx.Done():
				return
			case t := <-tick.C:
				batch := make([]revloop.Position, per)
				for k := range batch {
					batch[k] = fix(rng.IntN(len(vs)), t)
				}
				live.Observe(runCtx, []ingest.Record{{Channel: revloop.ChannelGPS, Positions: batch}})
				fed.Add(int64(per))
			}
		}
	}()

	srv := api.New(log, api.Options{}, api.Deps{Auth: tokens, Dispatch: api.DispatchDeps{Store: st, Live: live, Tracks: noTracks{}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(runCtx, ln)
	url := "http://" + ln.Addr().String() + "/api/v1/fleet/positions"

	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "bench", "api-latest", "--load", url, "--rate", fmt.Sprint(*rate),
		"--duration", duration.String(), "--warmup", warmup.String(), fmt.Sprintf("--gzip=%t", *gz))
	cmd.Env = append(os.Environ(), "REVLOOP_BENCH_TOKEN="+secret)
	cmd.Stderr = e.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "load: %.0f req/s open loop for %s (+%s warm-up) from pid-separate child, GOMAXPROCS=%d\n", *rate, *duration, *warmup, runtime.GOMAXPROCS(0))
	cpu0 := benchAPICPU()
	if err := cmd.Start(); err != nil {
		return err
	}
	var res loadResult
	decErr := json.NewDecoder(bufio.NewReader(out)).Decode(&res)
	waitErr := cmd.Wait()
	cpu := benchAPICPU() - cpu0
	cancel()
	wg.Wait()
	if decErr != nil {
		return fmt.Errorf("bench api-latest: reading the load generator's result: %v (child: %v)", decErr, waitErr)
	}
	l := res.LatencyMs
	fmt.Fprintf(e.stdout, "api-latest vehicles=%d features=%d rate=%.0f/s achieved=%.0f/s sent=%d ok=%d errors=%d gzip=%t body_kb=%.0f fixes_fed=%d\n",
		*vehicles, live.Positions().Count, *rate, float64(res.Sent)/res.ElapsedS, res.Sent, res.OK, res.Errors, *gz,
		float64(res.Bytes)/float64(max(1, res.OK))/1024, fed.Load())
	fmt.Fprintf(e.stdout, "api-latest latency_ms p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f max=%.2f (target p99 <= 10)\n",
		percentile(l, 50), percentile(l, 90), percentile(l, 99), percentile(l, 99.9), percentile(l, 100))
	total := *rate * (*warmup + *duration).Seconds()
	loadavg, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(e.stdout, "api-latest server_cpu_ms_per_req=%.3f (whole server process incl. live rebuilds and fix feeding; %d CPUs; loadavg %s)\n",
		float64(cpu.Microseconds())/1000/total, runtime.NumCPU(), strings.Join(strings.Fields(string(loadavg))[:min(3, len(strings.Fields(string(loadavg))))], " "))
	if res.FirstErr != "" {
		fmt.Fprintf(e.stdout, "first error: %s\n", res.FirstErr)
	}
	return nil
}

// benchAPICPU is the user+system CPU time this process used so far.
func benchAPICPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type noTracks struct{}

func (noTracks) Positions(context.Context, revloop.DeviceID, time.Time, time.Time) ([]revloop.Position, error) {
	return nil, nil
}

// benchLoadChild sends GET requests at a fixed rate, each at its scheduled
// time whether or not earlier ones returned, and measures each latency from
// its scheduled start (so a stalled server is not hidden by a waiting
// client).
func benchLoadChild(ctx context.Context, e *env, url, token string, rate float64, warmup, duration time.Duration, gz bool) error {
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0, DisableCompression: true, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	interval := time.Duration(float64(time.Second) / rate)
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.After(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		measured := !at.Before(measureFrom)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := client.Do(req)
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			lat := time.Since(at)
			if !measured {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			res.Sent++
			if err != nil {
				res.Errors++
				if res.FirstErr == "" {
					res.FirstErr = err.Error()
				}
				return
			}
			res.OK++
			res.Bytes += n
			res.LatencyMs = append(res.LatencyMs, float64(lat.Microseconds())/1000)
		}()
	}
	wg.Wait()
	res.ElapsedS = duration.Seconds()
	sort.Float64s(res.LatencyMs)
	return json.NewEncoder(e.stdout).Encode(res)
}
