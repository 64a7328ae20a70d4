package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/revloop/revloop/sim"
)

func init() {
	register(&command{name: "simulate", summary: "publish a realistic synthetic operation (Ghent) over MQTT", run: runSimulate})
}

func runSimulate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	defURL := "tcp://127.0.0.1:1883"
	if v := os.Getenv("REVLOOP_MQTT_URL"); v != "" {
		defURL = v
	}
	var (
		url       = fs.String("mqtt-url", defURL, "broker URL (env REVLOOP_MQTT_URL)")
		seed      = fs.Int64("seed", 1, "seed: the same seed gives the same world and messages")
		vehicles  = fs.Int("vehicles", 10, "number of vehicles")
		bins      = fs.Int("bins", 100, "number of bins")
		duration  = fs.Duration("duration", 0, "simulated time to run (0 = until interrupted)")
		startS    = fs.String("start", "", "simulated start: RFC 3339 time, or a negative duration relative to now (e.g. -168h); empty = now")
		speedup   = fs.Float64("speedup", 1, "simulated seconds per wall-clock second (1 = real time, 3600 = an hour per second); negative = as fast as the broker takes. Simulated time never passes the wall clock unless --allow-future: --start -168h --speedup 3600 backfills a week in about 3 minutes, then runs live")
		future    = fs.Bool("allow-future", false, "let simulated time run ahead of the wall clock (messages then carry future timestamps)")
		rate      = fs.Float64("rate", 0, "cap on published messages per wall-clock second (0 = no cap)")
		creds     = fs.String("credentials", "", "CSV file device_id,secret: one MQTT connection per device (username = device id)")
		username  = fs.String("username", "", "username of the single connection (password from env REVLOOP_MQTT_PASSWORD or --password-file)")
		passFile  = fs.String("password-file", "", "file holding the password of the single connection")
		worldOut  = fs.String("world-out", "", "write the world (sites with GeoJSON fences, bins, vehicles, gates, devices) as JSON to this file and continue")
		worldOnly = fs.Bool("world-only", false, "with --world-out: write the world and exit without publishing")
		qos       = fs.Int("qos", 1, "MQTT QoS of publications (0, 1 or 2)")
		inflight  = fs.Int("max-inflight", 64, "publications awaiting acknowledgement at most")
		maxMsgs   = fs.Int64("max-messages", 0, "stop after this many messages (0 = no limit)")
		statsIvl  = fs.Duration("stats-every", 5*time.Second, "interval of progress lines on stderr")
	)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: revloop simulate [flags]\n\nPublishes trackers, bin sensors, a gate reader, a weighbridge and status messages of a\nsimulated recycling operation around Ghent on revloop/v1/<device-id>/<channel>.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("simulate: unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	start, err := parseStart(*startS, time.Now())
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if *vehicles < 1 || *bins < 1 {
		return fmt.Errorf("simulate: --vehicles and --bins must be at least 1")
	}
	if *qos < 0 || *qos > 2 {
		return fmt.Errorf("simulate: --qos %d not in 0..2", *qos)
	}
	w := sim.NewWorld(*seed, *vehicles, *bins)
	if *worldOut != "" {
		if err := writeWorld(*worldOut, w); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "simulate: world written to %s (%d sites, %d bins, %d vehicles, %d devices)\n",
			*worldOut, len(w.Sites), len(w.Bins), len(w.Vehicles), len(w.Devices))
		if *worldOnly {
			return nil
		}
	}
	mc := sim.MQTTConfig{URL: *url, QoS: byte(*qos), MaxInflight: *inflight, Log: e.log,
		ClientID: fmt.Sprintf("revloop-sim-%d", *seed)}
	if *creds != "" {
		f, err := os.Open(*creds)
		if err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		mc.Credentials, err = sim.ReadCredentials(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("simulate: %s: %w", *creds, err)
		}
	} else {
		mc.Username = *username
		mc.Password = os.Getenv("REVLOOP_MQTT_PASSWORD")
		if *passFile != "" {
			b, err := os.ReadFile(*passFile)
			if err != nil {
				return fmt.Errorf("simulate: password file: %w", err)
			}
			mc.Password = strings.TrimRight(string(b), "\r\n")
		}
	}
	pub, err := sim.NewMQTTPublisher(ctx, mc)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	defer pub.Close()
	fmt.Fprintf(e.stderr, "simulate: %s seed %d, %d vehicles, %d bins, start %s, speedup %g\n",
		*url, *seed, *vehicles, *bins, start.UTC().Format(time.RFC3339), *speedup)
	st, err := sim.Run(ctx, sim.Config{World: w, Start: start, Duration: *duration, Speedup: *speedup, Rate: *rate, AllowFuture: *future,
		MaxMessages: *maxMsgs, StatsEvery: *statsIvl, Progress: e.stderr, Log: e.log}, pub)
	if err != nil {
		return err
	}
	if st.Failed > 0 && st.Sent == 0 {
		return errors.New("simulate: no message was published")
	}
	return nil
}

// parseStart reads --start: empty = now, RFC 3339, or a duration relative
// to now.
func parseStart(s string, now time.Time) (time.Time, error) {
	if s == "" || s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("--start %q: want RFC 3339 time or a duration like -168h", s)
}

func writeWorld(path string, w *sim.World) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("simulate: world-out: %w", err)
	}
	if err := w.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("simulate: world-out: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("simulate: world-out: %w", err)
	}
	return nil
}
