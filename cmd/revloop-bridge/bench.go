package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	bridge "github.com/revloop/revloop/firmware-bridge"
)

func cmdBench(ctx context.Context, out io.Writer, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("bench: want idle or drain")
	}
	fs := flag.NewFlagSet("bench "+args[0], flag.ContinueOnError)
	url := fs.String("mqtt-url", "tcp://127.0.0.1:1883", "broker `url` (e.g. mosquitto or `revloop serve` on loopback)")
	switch args[0] {
	case "idle":
		secs := fs.Int("seconds", 60, "how long to run")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		fmt.Fprintf(out, "bench idle: five simulated sensors at 1 Hz for %ds, broker %s\n", *secs, *url)
		r, err := bridge.BenchIdle(ctx, *url, time.Duration(*secs)*time.Second, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "elapsed %v  cpu %.2f%% of one core (target < 2%%)  peak rss %.1f MB (target < 30 MB)  readings %d  published %d\n",
			r.Elapsed.Round(time.Millisecond), r.CPUPercent, r.PeakRSSMB, r.Readings, r.Published)
		return nil
	case "drain":
		n := fs.Int("n", 100000, "backlog size in readings")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "revloop-bridge-drain-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(out, "bench drain: %d queued readings to %s\n", *n, *url)
		r, err := bridge.BenchDrain(ctx, *url, dir, *n, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "drained %d readings in %d messages in %v: %.0f readings/s (target >= 5000)\n",
			r.Readings, r.Messages, r.Elapsed.Round(time.Millisecond), r.PerSecond())
		return nil
	}
	return fmt.Errorf("bench: unknown benchmark %q: want idle or drain", args[0])
}
