package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/paulmach/orb"

	"github.com/revloop/revloop/geo"
)

func init() {
	registerBench(&benchmark{name: "fences", summary: "geofence engine: fixes checked per second and per CPU second against 10,000 fences", run: runBenchFences})
}

// fencesCPU is the process's user+system CPU time.
func fencesCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchFenceSet builds n fences (two thirds circles of 20-80 m, one third
// rotated rectangles of 40-200 m) spread over a square of side km around
// Ghent.
func benchFenceSet(r *rand.Rand, n int, km float64) []*geo.Fence {
	centre := orb.Point{3.7174, 51.0543}
	fs := make([]*geo.Fence, 0, n)
	for i := 0; i < n; i++ {
		c := geo.Destination(geo.Destination(centre, 90, (r.Float64()-0.5)*km*1000), 0, (r.Float64()-0.5)*km*1000)
		id := fmt.Sprintf("f%05d", i)
		if i%3 == 2 {
			w, h, rot := 40+r.Float64()*160, 40+r.Float64()*160, r.Float64()*180
			ring := orb.Ring{}
			for _, k := range [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}, {-1, -1}} {
				dx, dy := k[0]*w/2, k[1]*h/2
				ring = append(ring, geo.Destination(c, rot+math.Atan2(dx, dy)*180/math.Pi, math.Hypot(dx, dy)))
			}
			f, err := geo.NewPolygonFence(id, orb.Polygon{ring})
			if err == nil {
				fs = append(fs, f)
			}
			continue
		}
		f, err := geo.NewCircleFence(id, c, 20+r.Float64()*60)
		if err == nil {
			fs = append(fs, f)
		}
	}
	return fs
}

// benchTrack is one vehicle's fixes: a random walk at 30-50 km/h with a
// fix every 5 s, stopping now and then (inside fences when it happens to
// be in one), so that enters, dwells and exits occur.
func benchTrack(r *rand.Rand, vehicle string, start time.Time, n int, km float64) []benchFix {
	centre := orb.Point{3.7174, 51.0543}
	p := geo.Destination(geo.Destination(centre, 90, (r.Float64()-0.5)*km*1000), 0, (r.Float64()-0.5)*km*1000)
	heading := r.Float64() * 360
	out := make([]benchFix, n)
	stopLeft := 0
	for i := range out {
		switch {
		case stopLeft > 0:
			stopLeft--
		case r.IntN(200) == 0:
			stopLeft = 20 + r.IntN(100)
		default:
			heading += r.NormFloat64() * 15
			p = geo.Destination(p, heading, (30+r.Float64()*20)/3.6*5)
			if geo.DistanceM(p, centre) > km*500 {
				heading += 180
			}
		}
		out[i] = benchFix{vehicle, start.Add(time.Duration(i) * 5 * time.Second), p}
	}
	return out
}

type benchFix struct {
	vehicle string
	t       time.Time
	p       orb.Point
}

func runBenchFences(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench fences", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	nFences := fs.Int("fences", 10000, "number of fences")
	vehicles := fs.Int("vehicles", 1000, "number of vehicles")
	fixes := fs.Int("fixes", 400, "fixes per vehicle")
	km := fs.Float64("area-km", 30, "side of the square the fences and vehicles are spread over")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "engines run in parallel, each with its share of the vehicles (as ingest replicas would)")
	lateness := fs.Duration("lateness", 0, "reorder buffer of the engine (0: process at once)")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nFences <= 0 || *vehicles <= 0 || *fixes <= 0 || *workers <= 0 || !(*km > 0) {
		return fmt.Errorf("bench fences: --fences, --vehicles, --fixes, --workers and --area-km must be positive")
	}
	r := rand.New(rand.NewPCG(*seed, 7))
	fmt.Fprintf(e.stderr, "building %d fences and %d vehicles × %d fixes over %.0f km × %.0f km...\n", *nFences, *vehicles, *fixes, *km, *km)
	fences := benchFenceSet(r, *nFences, *km)
	start := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	tracks := make([][]benchFix, *vehicles)
	for i := range tracks {
		tracks[i] = benchTrack(r, fmt.Sprintf("veh-%04d", i), start, *fixes, *km)
	}
	// Candidate fences per fix from the grid index, for the checks figure.
	ix := geo.NewIndex(0)
	for _, f := range fences {
		ix.Add(f)
	}
	var cands, sampled int
	var buf []*geo.Fence
	for i := 0; i < len(tracks); i += max(1, len(tracks)/50) {
		for _, fx := range tracks[i] {
			buf = ix.Candidates(fx.p, buf[:0])
			cands += len(buf)
			sampled++
		}
	}

	run := func(nw int) (wall, cpu time.Duration, events int64) {
		engines := make([]*geo.FenceEngine, nw)
		for i := range engines {
			engines[i] = geo.NewFenceEngine(fences, geo.EngineOptions{Lateness: *lateness})
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		runtime.GC()
		c0, t0 := fencesCPU(), time.Now()
		for w := 0; w < nw; w++ {
			wg.Go(func() {
				var n int64
				// Interleave the worker's vehicles in time, as a live feed
				// would deliver them.
				for k := 0; k < *fixes; k++ {
					for v := w; v < len(tracks); v += nw {
						fx := tracks[v][k]
						n += int64(len(engines[w].Observe(fx.vehicle, fx.t, fx.p)))
					}
				}
				n += int64(len(engines[w].Flush(start.Add(24 * time.Hour))))
				mu.Lock()
				events += n
				mu.Unlock()
			})
		}
		wg.Wait()
		return time.Since(t0), fencesCPU() - c0, events
	}
	total := float64(*vehicles * *fixes)
	report := func(label string, nw int) {
		if ctx.Err() != nil {
			return
		}
		wall, cpu, events := run(nw)
		perSec := total / wall.Seconds()
		perCPU := total / cpu.Seconds()
		fmt.Fprintf(e.stdout, "%-22s workers=%-2d fixes=%.0f events=%d wall=%s cpu=%s\n", label, nw, total, events, wall.Round(time.Millisecond), cpu.Round(time.Millisecond))
		fmt.Fprintf(e.stdout, "  fixes/s (wall)            %12.0f\n", perSec)
		fmt.Fprintf(e.stdout, "  fixes per CPU-second      %12.0f   (%.2f µs CPU per fix)\n", perCPU, cpu.Seconds()/total*1e6)
		fmt.Fprintf(e.stdout, "  fix-fence checks/s per core %10.3g   (each fix against all %d fences, CPU time)\n", perCPU*float64(len(fences)), len(fences))
	}
	fmt.Fprintf(e.stdout, "fences=%d (grid index: %.2f candidate fences per fix on average)\n", len(fences), float64(cands)/float64(max(sampled, 1)))
	report("one engine, one core", 1)
	if *workers > 1 {
		report("one engine per core", *workers)
	}
	return nil
}
