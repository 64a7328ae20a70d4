package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop/geo/vrp"
)

func init() {
	registerBench(&benchmark{name: "route", summary: "route planner: gap to best-known on CVRPLIB X and Solomon", run: runBenchRoute})
}

type routeResult struct {
	name, set string
	n         int
	cost, bks float64
	gap       float64
	secs      float64
	ok        bool
}

func runBenchRoute(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench route", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "../shared/benchmarks/vrp", "benchmark directory holding bks.csv, cvrp-x/ and solomon/")
	small := fs.Duration("time-limit-small", 10*time.Second, "time per instance with at most 200 customers")
	large := fs.Duration("time-limit-large", 60*time.Second, "time per instance with more than 200 customers")
	sets := fs.String("sets", "cvrp-x,solomon", "comma-separated sets to run")
	instances := fs.String("instances", "", "comma-separated instance names or globs (e.g. X-n1*); empty means all")
	maxN := fs.Int("max-customers", 0, "skip instances with more customers (0: no limit)")
	minN := fs.Int("min-customers", 0, "skip instances with fewer customers")
	threads := fs.Int("threads", runtime.NumCPU(), "parallel searches per instance")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fmt.Errorf("bench route: benchmark directory %q not found; pass --dir with the directory holding bks.csv, cvrp-x/ and solomon/", *dir)
	}
	bf, err := os.Open(filepath.Join(*dir, "bks.csv"))
	if err != nil {
		return fmt.Errorf("bench route: %w", err)
	}
	bks, err := vrp.ReadBKS(bf)
	bf.Close()
	if err != nil {
		return fmt.Errorf("bench route: %w", err)
	}
	var pats []string
	if *instances != "" {
		pats = strings.Split(*instances, ",")
	}
	match := func(name string) bool {
		if len(pats) == 0 {
			return true
		}
		for _, p := range pats {
			if ok, _ := filepath.Match(strings.TrimSpace(p), name); ok {
				return true
			}
		}
		return false
	}
	fmt.Fprintf(e.stdout, "%-14s %-8s %5s %12s %12s %8s %7s\n", "instance", "set", "n", "cost", "bks", "gap%", "time")
	var all []routeResult
	for _, set := range strings.Split(*sets, ",") {
		set = strings.TrimSpace(set)
		var files []string
		for _, ext := range []string{"*.vrp", "*.txt"} {
			m, _ := filepath.Glob(filepath.Join(*dir, set, ext))
			files = append(files, m...)
		}
		if len(files) == 0 {
			return fmt.Errorf("bench route: no instances in %s", filepath.Join(*dir, set))
		}
		sort.Slice(files, func(a, b int) bool { return natLess(filepath.Base(files[a]), filepath.Base(files[b])) })
		for _, f := range files {
			if ctx.Err() != nil {
				break
			}
			name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			b, ok := bks[name]
			if !ok || !match(name) || (*maxN > 0 && b.Customers > *maxN) || b.Customers < *minN {
				continue
			}
			p, err := vrp.LoadInstance(f)
			if err != nil {
				return fmt.Errorf("bench route: %w", err)
			}
			limit := *small
			if b.Customers > 200 {
				limit = *large
			}
			start := time.Now()
			sol, err := vrp.Solve(ctx, p, vrp.Options{TimeLimit: limit, Threads: *threads, Seed: *seed})
			if err != nil {
				return fmt.Errorf("bench route: %s: %w", name, err)
			}
			r := routeResult{name: name, set: set, n: b.Customers, bks: b.Value, secs: time.Since(start).Seconds()}
			rep, cerr := vrp.Check(p, sol, vrp.CheckOptions{RequireAll: true})
			r.cost, r.ok = rep.Cost, cerr == nil
			r.gap = 100 * (r.cost - r.bks) / r.bks
			if math.Abs(r.gap) < 0.005 {
				r.gap = 0
			}
			status := ""
			if !r.ok {
				status = "  INVALID: " + cerr.Error()
			}
			fmt.Fprintf(e.stdout, "%-14s %-8s %5d %12.2f %12.2f %8.2f %6.1fs%s\n", name, set, r.n, r.cost, r.bks, r.gap, r.secs, status)
			all = append(all, r)
		}
	}
	summary := func(label string, keep func(routeResult) bool) {
		var k, bad int
		var gap, secs float64
		for _, r := range all {
			if !keep(r) {
				continue
			}
			if !r.ok {
				bad++
				continue
			}
			k++
			gap += r.gap
			secs += r.secs
		}
		if k+bad == 0 {
			return
		}
		fmt.Fprintf(e.stdout, "summary %-24s instances %3d  mean gap %6.2f%%  mean time %6.1fs  invalid %d\n",
			label, k, gap/float64(max(k, 1)), secs/float64(max(k, 1)), bad)
	}
	for _, set := range strings.Split(*sets, ",") {
		set = strings.TrimSpace(set)
		summary(set, func(r routeResult) bool { return r.set == set })
		if set == "cvrp-x" {
			summary("cvrp-x n<=200", func(r routeResult) bool { return r.set == set && r.n <= 200 })
			summary("cvrp-x 255<=n<=1000", func(r routeResult) bool { return r.set == set && r.n >= 255 && r.n <= 1000 })
		}
	}
	return ctx.Err()
}

// natLess orders names with embedded numbers numerically (X-n101 before X-n1001).
func natLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		if da != "" && db != "" {
			if len(da) != len(db) {
				return len(da) < len(db)
			}
			if da != db {
				return da < db
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitsPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
