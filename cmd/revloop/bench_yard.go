package main

import (
	"context"
	"flag"
	"fmt"
	"syscall"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
	"github.com/revloop/revloop/yard/yardtest"
)

func init() {
	registerBench(&benchmark{name: "yard", summary: "gate passage detection (reads/s) and custody log verification (1M entries)", run: runBenchYard})
}

func runBenchYard(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench yard", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	visits := fs.Int("visits", 2500, "simulated truck visits for passage detection (about 400 raw reads each)")
	batch := fs.Int("batch", 100, "reads per batch handed to the detector")
	entries := fs.Int("entries", 1_000_000, "custody log entries to generate and verify (0 skips)")
	dir := fs.String("data-dir", "", "directory for the temporary SQLite database (default: a new temporary directory)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}

	// Passage detection on one goroutine.
	sim := yardtest.New("gate-1", "scale-1", 7)
	t0 := time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	for i := 0; i < *visits; i++ {
		sim.Visit(yardtest.Visit{VehicleEPC: fmt.Sprintf("E2801170000002%010X", i), Containers: []string{fmt.Sprintf("E2003412B8020118%08X", i)},
			Arrive: t0.Add(time.Duration(i) * 20 * time.Second), GrossKg: 14000, TareKg: 8000, Stay: 3 * time.Minute})
	}
	var batches [][]revloop.RFIDRead
	n := 0
	for _, r := range sim.Records(*batch) {
		if len(r.Reads) > 0 {
			batches = append(batches, r.Reads)
			n += len(r.Reads)
		}
	}
	det := yard.NewDetector(yard.DetectorOptions{})
	det.SetGate(yard.Gate{Reader: "gate-1", Yard: "y1", Outside: yardtest.Outside, Inside: yardtest.Inside})
	buf := make([]revloop.RFIDRead, 0, *batch)
	var out []yard.Passage
	passages := 0
	cpu0 := cpuTime()
	start := time.Now()
	for _, b := range batches {
		buf = append(buf[:0], b...)
		out = det.Process(buf, out[:0])
		passages += len(out)
	}
	passages += len(det.Flush(out[:0]))
	el, cpu := time.Since(start), cpuTime()-cpu0
	rate := float64(n) / el.Seconds()
	fmt.Fprintf(e.stdout, "passage detection: %d raw reads -> %d passages in %s (CPU %s) on one goroutine: %.0f reads/s wall, %.0f reads/s per CPU second (target >= 200000: %s)\n",
		n, passages, el.Round(time.Millisecond), cpu.Round(time.Millisecond), rate, float64(n)/cpu.Seconds(), yardVerdict(rate >= 200000))

	if *entries <= 0 {
		return nil
	}
	db, done, err := benchDB(ctx, "", *dir)
	if err != nil {
		return fmt.Errorf("bench yard: %w", err)
	}
	defer done()
	var have int64
	if err := db.QueryRow(ctx, `SELECT seq FROM custody_head WHERE id = 1`).Scan(&have); err != nil {
		return fmt.Errorf("bench yard: %w", err)
	}
	bar := newProgress(e.stderr, "generating", *quiet)
	l := custody.New(nil)
	const chunk = 20000
	rs := make([]custody.Record, 0, chunk)
	gstart := time.Now()
	for done := int(have); done < *entries; {
		rs = rs[:0]
		for i := 0; i < chunk && done+i < *entries; i++ {
			k := done + i
			rs = append(rs, custody.Record{Kind: "lot.sort", Subject: fmt.Sprintf("TR-%08d", k),
				Payload: map[string]any{"inputs_kg": 1000 + k%700, "outputs_kg": 995, "loss_kg": 3, "rd_code": "R12", "operator": "op-7", "station": "sort-1"}})
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := l.AppendBatch(ctx, tx, rs); return err }); err != nil {
			return fmt.Errorf("bench yard: generate: %w", err)
		}
		done += len(rs)
		bar.set(done, *entries)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	bar.done()
	if have >= int64(*entries) {
		fmt.Fprintf(e.stdout, "custody log: reusing the %d entries already in %s\n", have, *dir)
	} else {
		fmt.Fprintf(e.stdout, "custody log: %d entries generated in %s\n", int64(*entries)-have, time.Since(gstart).Round(time.Millisecond))
	}
	bar = newProgress(e.stderr, "verifying", *quiet)
	cpu0 = cpuTime()
	rep, err := custody.Verify(ctx, db, func(done, total int64) { bar.set(int(done), int(total)) })
	cpu = cpuTime() - cpu0
	bar.done()
	if err != nil {
		return fmt.Errorf("bench yard: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("bench yard: generated log does not verify: %+v", rep.FirstBad)
	}
	fmt.Fprintf(e.stdout, "custody verification: %d entries in %s (CPU %s): %.0f entries/s (target <= 10s: %s)\n",
		rep.Entries, rep.Elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(rep.Entries)/rep.Elapsed.Seconds(), yardVerdict(rep.Elapsed <= 10*time.Second))
	return nil
}

// cpuTime is the CPU time (user and system) the process has used, so that
// figures taken on a busy machine can be told apart from slow code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func yardVerdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
