package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Publisher sends one simulated message to a broker. Implementations may
// acknowledge asynchronously; see Flusher.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// Flusher is implemented by publishers that acknowledge asynchronously:
// Flush waits until every message handed to Publish is acknowledged or has
// failed.
type Flusher interface {
	Flush(ctx context.Context) error
}

// FailureCounter is implemented by publishers that count asynchronous
// failures (for example QoS 1 acknowledgements that timed out).
type FailureCounter interface {
	Failed() int64
}

// Config configures Run. The zero value of each field means its default.
type Config struct {
	// World is the world to run; nil builds NewWorld(Seed, Vehicles, Bins).
	World    *World
	Seed     int64
	Vehicles int // default 10
	Bins     int // default 100
	// Start is the simulated start time; zero means now.
	Start time.Time
	// Duration is how much simulated time to run; 0 runs until ctx ends.
	Duration time.Duration
	// Speedup is simulated seconds per wall-clock second (default 1, real
	// time); a negative value runs as fast as the publisher allows.
	Speedup float64
	// Rate caps the wall-clock publishing rate in messages per second; 0 is
	// no cap.
	Rate float64
	// AllowFuture lets simulated time run ahead of the wall clock. By
	// default a message is never published before its send time, so a
	// backfill from a past Start with a large Speedup catches up with the
	// present and then continues in real time (receivers reject
	// future-dated messages).
	AllowFuture bool
	// MaxMessages stops after that many messages; 0 is no limit.
	MaxMessages int64
	// StatsEvery is the wall-clock interval of progress lines (default 5s).
	StatsEvery time.Duration
	// Progress receives human-readable progress lines (usually stderr);
	// nil discards them.
	Progress io.Writer
	// Log receives publishing errors; nil discards them.
	Log *slog.Logger
}

// ErrBadConfig is returned by Config.Validate.
var ErrBadConfig = errors.New("invalid simulator config")

func (c *Config) defaults() {
	if c.Vehicles == 0 {
		c.Vehicles = 10
	}
	if c.Bins == 0 {
		c.Bins = 100
	}
	if c.Speedup == 0 {
		c.Speedup = 1
	}
	if c.StatsEvery == 0 {
		c.StatsEvery = 5 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the config after defaults are applied.
func (c *Config) Validate() error {
	switch {
	case c.Vehicles < 0 || c.Vehicles > 10000:
		return fmt.Errorf("%w: vehicles %d not in [1, 10000]", ErrBadConfig, c.Vehicles)
	case c.Bins < 0 || c.Bins > 100000:
		return fmt.Errorf("%w: bins %d not in [1, 100000]", ErrBadConfig, c.Bins)
	case c.Duration < 0:
		return fmt.Errorf("%w: negative duration", ErrBadConfig)
	case c.Rate < 0:
		return fmt.Errorf("%w: negative rate", ErrBadConfig)
	case c.StatsEvery < 0:
		return fmt.Errorf("%w: negative stats interval", ErrBadConfig)
	}
	return nil
}

// Stats summarises a run.
type Stats struct {
	Sent      int64
	Failed    int64
	ByChannel map[string]int64
	Bytes     int64
	SimStart  time.Time
	SimEnd    time.Time
	Elapsed   time.Duration
}

// Run generates the world's messages from cfg.Start and hands them to pub,
// paced by cfg.Speedup and cfg.Rate, until cfg.Duration of simulated time
// has passed, cfg.MaxMessages were sent or ctx ends (which is not an error).
// Publishing errors are logged, counted and skipped.
func Run(ctx context.Context, cfg Config, pub Publisher) (Stats, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return Stats{}, fmt.Errorf("simulate: %w", err)
	}
	w := cfg.World
	if w == nil {
		w = NewWorld(cfg.Seed, cfg.Vehicles, cfg.Bins)
	}
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	g := NewGenerator(w, start)
	g.DiscardTruth()
	st := Stats{ByChannel: map[string]int64{}, SimStart: g.start}
	var end time.Time
	if cfg.Duration > 0 {
		end = g.start.Add(cfg.Duration)
	}
	wallStart := time.Now()
	var lastSend time.Time
	lastStats, lastSent := wallStart, int64(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(until time.Time) bool {
		d := time.Until(until)
		if d <= 0 {
			return ctx.Err() == nil
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	progress := func(final bool) {
		now := time.Now()
		failed := st.Failed
		if fc, ok := pub.(FailureCounter); ok {
			failed += fc.Failed()
		}
		rate := float64(st.Sent-lastSent) / now.Sub(lastStats).Seconds()
		label := "progress"
		if final {
			label = "done"
			rate = float64(st.Sent) / now.Sub(wallStart).Seconds()
		}
		fmt.Fprintf(cfg.Progress, "simulate %s: sim %s sent %d (%.0f/s) failed %d gps %d fill %d rfid %d weight %d status %d, %.1f MB\n",
			label, st.SimEnd.UTC().Format(time.RFC3339), st.Sent, rate, failed, st.ByChannel["gps"], st.ByChannel["fill"],
			st.ByChannel["rfid"], st.ByChannel["weight"], st.ByChannel["status"], float64(st.Bytes)/1e6)
		lastStats, lastSent = now, st.Sent
	}
	loggedErrs := 0
	for ctx.Err() == nil {
		if cfg.MaxMessages > 0 && st.Sent+st.Failed >= cfg.MaxMessages {
			break
		}
		next := g.Peek()
		if !end.IsZero() && !next.Before(end) {
			break
		}
		var due time.Time
		if cfg.Speedup > 0 {
			due = wallStart.Add(time.Duration(float64(next.Sub(g.start)) / cfg.Speedup))
		}
		if !cfg.AllowFuture && next.After(due) {
			due = next
		}
		if !wait(due) {
			break
		}
		if cfg.Rate > 0 && !lastSend.IsZero() {
			if !wait(lastSend.Add(time.Duration(float64(time.Second) / cfg.Rate))) {
				break
			}
		}
		m := g.Next()
		lastSend = time.Now()
		if err := pub.Publish(ctx, m); err != nil {
			if ctx.Err() != nil {
				break
			}
			st.Failed++
			if loggedErrs < 20 {
				cfg.Log.Warn("simulate: publish failed", "topic", m.Topic, "err", err)
				loggedErrs++
			}
		} else {
			st.Sent++
			st.ByChannel[string(m.Channel)]++
			st.Bytes += int64(len(m.Payload))
		}
		st.SimEnd = m.SendTime
		if time.Since(lastStats) >= cfg.StatsEvery {
			progress(false)
		}
	}
	if f, ok := pub.(Flusher); ok {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := f.Flush(fctx); err != nil {
			cfg.Log.Warn("simulate: flush", "err", err)
		}
		cancel()
	}
	if fc, ok := pub.(FailureCounter); ok {
		st.Failed += fc.Failed()
	}
	st.Elapsed = time.Since(wallStart)
	progress(true)
	return st, nil
}
