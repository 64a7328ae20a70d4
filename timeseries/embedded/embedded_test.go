package embedded_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/embedded"
	"github.com/revloop/revloop/timeseries/timeseriestest"
)

func open(t *testing.T, dir string, r timeseries.Retention) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(context.Background(), dir, embedded.Options{Retention: r})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

type dirStore struct {
	*embedded.Store
	dir string
	r   timeseries.Retention
}

func TestContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts embedded.Options
	}{
		{"defaults", embedded.Options{}},
		// Tiny flush thresholds: most reads then cross memtable and tables.
		{"eager flush", embedded.Options{FlushPoints: 3, FlushInterval: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeseriestest.Suite{
				Open: func(t *testing.T, r timeseries.Retention) timeseries.Store {
					dir := t.TempDir()
					o := tc.opts
					o.Retention = r
					s, err := embedded.Open(context.Background(), dir, o)
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					ds := &dirStore{Store: s, dir: dir, r: r}
					t.Cleanup(func() { ds.Close() })
					return ds
				},
				Reopen: func(t *testing.T, st timeseries.Store) timeseries.Store {
					ds := st.(*dirStore)
					if err := ds.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
					s := open(t, ds.dir, ds.r)
					t.Cleanup(func() { s.Close() })
					return &dirStore{Store: s, dir: ds.dir, r: ds.r}
				},
			}.Run(t)
		})
	}
}

func TestWriteAfterClose(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.Write(context.Background(), []timeseries.Point{timeseries.WeightPoint(revloop.WeightReading{Device: "s-1", Time: time.Now(), Kg: 1})})
	if err == nil || !timeseries.IsRetryable(err) {
		t.Fatalf("Write after Close: %v, want a retryable error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestTornTail cuts and damages the log the way a crash during a write
// would, and checks that every complete record survives.
func TestTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"half a record appended", func(b []byte) []byte { return append(b, b[:len(b)/2]...) }},
		{"garbage appended", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5) }},
		{"short header appended", func(b []byte) []byte { return append(b, 1, 2, 3) }},
		{"last record's checksum broken", func(b []byte) []byte {
			c := append([]byte(nil), b...)
			return append(c, flipLast(b[len(b)/2:])...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// A store that is never flushed nor closed leaves its data in the log.
			s, err := embedded.Open(context.Background(), dir, embedded.Options{FlushInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				p := timeseries.WeightPoint(revloop.WeightReading{Device: "scale-1", Time: timeseriestest.Base.Add(time.Duration(i) * time.Second), Kg: float64(i)})
				if err := s.Write(context.Background(), []timeseries.Point{p}); err != nil {
					t.Fatal(err)
				}
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
			if len(segs) != 1 {
				t.Fatalf("log segments: %v", segs)
			}
			b, err := os.ReadFile(segs[0])
			if err != nil {
				t.Fatal(err)
			}
			// Copy the directory as a crash would leave it, then damage the copy.
			crash := t.TempDir()
			copyFile(t, segs[0], filepath.Join(crash, filepath.Base(segs[0])), tc.damage(b))
			for _, f := range []string{embedded.FileName, embedded.FileName + "-wal"} {
				if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					copyFile(t, "", filepath.Join(crash, f), data)
				}
			}
			s.Close()
			r := open(t, crash, nil)
			defer r.Close()
			got, err := r.Weights(context.Background(), "scale-1", timeseriestest.Base, timeseriestest.Base.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Kg != 0 || got[1].Kg != 1 {
				t.Fatalf("after replay: %+v, want both acknowledged readings", got)
			}
		})
	}
}

// flipLast returns a copy of a whole record (the second of two equal-size
// records) with its last byte changed.
func flipLast(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)-1] ^= 0xff
	return c
}

func copyFile(t *testing.T, _ string, dst string, data []byte) {
	t.Helper()
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

const crashChildEnv = "REVLOOP_EMBEDDED_CRASH_CHILD_DIR"

// TestCrashRecovery SIGKILLs a process that writes as fast as it can and
// checks that every batch it acknowledged is there after reopening.
func TestCrashRecovery(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a writer process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := -1
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "acked "))
		if err != nil {
			continue
		}
		acked = n
		if acked >= 40 { // several flushes have happened or are under way
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Batches acknowledged while we were killing also count.
	for sc.Scan() {
		if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "acked ")); err == nil {
			acked = n
		}
	}
	cmd.Wait()
	if acked < 0 {
		t.Fatal("child acknowledged nothing")
	}
	s := open(t, dir, nil)
	defer s.Close()
	for d := range crashDevices {
		dev := revloop.DeviceID(fmt.Sprintf("trk-%d", d))
		got, err := s.Positions(context.Background(), dev, timeseriestest.Base, timeseriestest.Base.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if want := (acked + 1) * crashBatch / crashDevices; len(got) < want {
			t.Fatalf("%s: %d fixes after SIGKILL, acknowledged %d", dev, len(got), want)
		}
	}
}

const crashBatch, crashDevices = 1000, 10

func crashChild(dir string) {
	s, err := embedded.Open(context.Background(), dir, embedded.Options{FlushPoints: 5000, FlushInterval: 5 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for b := 0; ; b++ {
		ps := make([]timeseries.Point, crashBatch)
		for i := range ps {
			n := b*crashBatch + i
			ps[i] = timeseries.PositionPoint(revloop.Position{Device: revloop.DeviceID(fmt.Sprintf("trk-%d", n%crashDevices)),
				Time: timeseriestest.Base.Add(time.Duration(n/crashDevices) * time.Second), Lat: 1, Lon: 2, Sats: -1})
		}
		if err := s.Write(context.Background(), ps); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "acked %d\n", b)
		w.Flush()
	}
}

func TestOpenLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	if _, err := embedded.Open(context.Background(), dir, embedded.Options{}); !errors.Is(err, embedded.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir, nil) // free again after Close
	s2.Close()
}

func TestStats(t *testing.T) {
	s, err := embedded.Open(context.Background(), t.TempDir(), embedded.Options{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps := []timeseries.Point{
		timeseries.PositionPoint(revloop.Position{Device: "trk-1", Time: timeseriestest.Base, Lat: 1, Lon: 2, Sats: -1}),
		timeseries.PositionPoint(revloop.Position{Device: "trk-2", Time: timeseriestest.Base, Lat: 1, Lon: 2, Sats: -1}),
		timeseries.WeightPoint(revloop.WeightReading{Device: "scale-1", Time: timeseriestest.Base, Kg: 3}),
	}
	if err := s.Write(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats(); got.PendingPoints != 3 || got.Devices != 2 || got.Flushes != 0 {
		t.Fatalf("before flush: %+v, want 3 pending points of 2 devices, no flush", got)
	}
	if err := s.Prune(context.Background(), time.Now()); err != nil { // flushes first
		t.Fatal(err)
	}
	if got := s.Stats(); got.PendingPoints != 0 || got.Flushes != 1 || got.FlushErrors != 0 {
		t.Fatalf("after flush: %+v, want nothing pending after one flush", got)
	}
}

// TestPruneWhileWriting prunes and reads while writers add fresh points; no
// fresh point may be lost and every old one must go.
func TestPruneWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, err := embedded.Open(ctx, t.TempDir(), embedded.Options{
		Retention: timeseries.Retention{revloop.MeasurementPosition: time.Hour}, FlushPoints: 200, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := timeseriestest.Base
	fix := func(dev string, ts time.Time) timeseries.Point {
		return timeseries.PositionPoint(revloop.Position{Device: revloop.DeviceID(dev), Time: ts, Lat: 1, Lon: 2, Sats: -1})
	}
	// Old points, all to be pruned.
	var old []timeseries.Point
	for i := range 500 {
		old = append(old, fix(fmt.Sprintf("trk-%d", i%5), now.Add(-2*time.Hour-time.Duration(i)*time.Second)))
	}
	if err := s.Write(ctx, old); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	const batches = 40
	go func() {
		for b := range batches {
			var ps []timeseries.Point
			for i := range 50 {
				ps = append(ps, fix(fmt.Sprintf("trk-%d", i%5), now.Add(time.Duration(b*50+i)*time.Millisecond)))
			}
			if err := s.Write(ctx, ps); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for range 20 {
			if err := s.Prune(ctx, now); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for range 50 {
			if _, err := s.Positions(ctx, "trk-1", now.Add(-3*time.Hour), now.Add(time.Hour)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Prune(ctx, now); err != nil {
		t.Fatal(err)
	}
	for d := range 5 {
		got, err := s.Positions(ctx, revloop.DeviceID(fmt.Sprintf("trk-%d", d)), now.Add(-3*time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != batches*50/5 {
			t.Errorf("trk-%d: %d fixes, want %d fresh ones", d, len(got), batches*50/5)
		}
		for _, p := range got {
			if p.Time.Before(now) {
				t.Errorf("trk-%d: old fix at %s survived the prune", d, p.Time)
				break
			}
		}
	}
}
