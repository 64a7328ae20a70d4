package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/revloop/revloop/geo/vrp"
)

func init() {
	register(&command{name: "route", summary: "plan routes: solve CVRPLIB .vrp and Solomon .txt instances", run: runRoute})
}

func runRoute(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "solve" {
		fmt.Fprintln(e.stderr, "usage: revloop route solve [flags] FILE...\n\nsubcommands:\n  solve   solve .vrp (CVRPLIB) and .txt (Solomon) instances and write .sol files")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return errUsage
	}
	return runRouteSolve(ctx, e, args[1:])
}

func runRouteSolve(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("route solve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	limit := fs.Duration("time-limit", 10*time.Second, "search time per instance")
	seed := fs.Uint64("seed", 1, "random seed")
	threads := fs.Int("threads", runtime.NumCPU(), "independent searches run in parallel")
	iters := fs.Int("iterations", 0, "iterations per thread (makes the result depend only on the seed; the time limit still caps the run)")
	out := fs.String("out", "", "directory for .sol files (none when empty)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: revloop route solve [flags] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("route solve: %w", err)
		}
	}
	var errs []error // each is printed when it happens
	for _, path := range fs.Args() {
		if ctx.Err() != nil {
			break
		}
		if err := solveFile(ctx, e, path, *limit, *seed, *threads, *iters, *out, *quiet); err != nil {
			errs = append(errs, err)
			fmt.Fprintf(e.stderr, "route solve: %v\n", err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("route solve: %d of %d instances failed", len(errs), fs.NArg())
	}
	return nil
}

func solveFile(ctx context.Context, e *env, path string, limit time.Duration, seed uint64, threads, iters int, out string, quiet bool) error {
	p, err := vrp.LoadInstance(path)
	if err != nil {
		return err
	}
	opt := vrp.Options{TimeLimit: limit, Seed: seed, Threads: threads, Iterations: iters}
	if !quiet && limit >= 2*time.Second {
		opt.Progress = progressBar(e.stderr, p.Name)
	}
	start := time.Now()
	sol, err := vrp.Solve(ctx, p, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	elapsed := time.Since(start)
	if opt.Progress != nil {
		fmt.Fprintln(e.stderr)
	}
	if _, err := vrp.Check(p, sol, vrp.CheckOptions{}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "%s: cost %s, %d routes, %d unserved, %.1fs\n", p.Name, fmtCost(sol.Cost), len(sol.Routes), len(sol.Unserved), elapsed.Seconds())
	for i, r := range sol.Routes {
		fmt.Fprintf(e.stdout, "  Route #%d:%s\n", i+1, stopsString(r.Stops))
	}
	for _, u := range sol.Unserved {
		fmt.Fprintf(e.stdout, "  unserved %s: %s\n", p.Nodes[u.Node].ID, u.Reason)
	}
	if out != "" {
		name := filepath.Join(out, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".sol")
		f, err := os.Create(name)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		err = vrp.WriteSol(f, sol)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

func stopsString(stops []int) string {
	var sb strings.Builder
	for _, s := range stops {
		fmt.Fprintf(&sb, " %d", s)
	}
	return sb.String()
}

func fmtCost(c float64) string {
	if c == float64(int64(c)) {
		return fmt.Sprintf("%d", int64(c))
	}
	return fmt.Sprintf("%.2f", c)
}

// progressBar draws a one-line bar on w, redrawn in place.
func progressBar(w io.Writer, name string) func(vrp.Progress) {
	return func(p vrp.Progress) {
		const width = 30
		f := min(max(p.Fraction, 0), 1)
		k := int(f * width)
		fmt.Fprintf(w, "\r%-14s [%s%s] %3.0f%% best %s  %5.1fs", name, strings.Repeat("#", k), strings.Repeat(".", width-k),
			f*100, fmtCost(p.Best), p.Elapsed.Seconds())
	}
}
