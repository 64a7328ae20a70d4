package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func open(t testing.TB, o Options) *Queue {
	t.Helper()
	q, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func payload(i int) []byte { return []byte(fmt.Sprintf(`{"n":%d}`, i)) }

func appendN(t testing.TB, q *Queue, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := q.Append(payload(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

// readAll reads every pending record and returns their payload numbers.
func readAll(t testing.TB, q *Queue) []int {
	t.Helper()
	var got []int
	for {
		recs, err := q.Read(7)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(recs) == 0 {
			return got
		}
		for _, r := range recs {
			var n int
			if _, err := fmt.Sscanf(string(r.Data), `{"n":%d}`, &n); err != nil {
				t.Fatalf("record %d: %q: %v", r.Seq, r.Data, err)
			}
			got = append(got, n)
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAckSurvivesReopen(t *testing.T) {
	tests := []struct {
		name     string
		segBytes int64
		n, ack   int
	}{
		{"one segment", 0, 10, 5},
		{"many segments", 1024, 300, 123},
		{"nothing acked", 1024, 50, 0},
		{"all acked", 1024, 200, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, SegmentBytes: tc.segBytes}
			q := open(t, o)
			appendN(t, q, 1, tc.n)
			recs, err := q.Read(tc.ack)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ack > 0 {
				if err := q.Ack(recs[len(recs)-1].Seq); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = open(t, o)
			if got, want := q.Len(), tc.n-tc.ack; got != want {
				t.Fatalf("Len after reopen = %d, want %d", got, want)
			}
			if got := readAll(t, q); !equal(got, seq(tc.ack+1, tc.n)) {
				t.Fatalf("after reopen read %v, want %d..%d", got, tc.ack+1, tc.n)
			}
			// Sequence numbers continue after a reopen.
			appendN(t, q, tc.n+1, tc.n+3)
			if got := readAll(t, q); !equal(got, seq(tc.n+1, tc.n+3)) {
				t.Fatalf("appended after reopen read %v", got)
			}
		})
	}
}

func TestSegmentsRemovedAfterAck(t *testing.T) {
	q := open(t, Options{Dir: t.TempDir(), SegmentBytes: 1024})
	appendN(t, q, 1, 500)
	if s := q.Stats(); s.Segments < 5 {
		t.Fatalf("segments = %d, want several", s.Segments)
	}
	recs, _ := q.Read(1000)
	if err := q.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Segments != 1 || s.Len != 0 {
		t.Fatalf("after full ack: %+v, want one segment, empty", s)
	}
}

func TestRewindRedeliversUnacked(t *testing.T) {
	q := open(t, Options{Dir: t.TempDir()})
	appendN(t, q, 1, 10)
	recs, _ := q.Read(4)
	q.Ack(recs[1].Seq) // 1, 2 delivered; 3, 4 in flight when the link dropped
	q.Rewind()
	if got := readAll(t, q); !equal(got, seq(3, 10)) {
		t.Fatalf("after rewind read %v, want 3..10", got)
	}
}

func TestOverflow(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		wantErr  error
		wantRead []int
	}{
		{"drop oldest", DropOldest, nil, seq(4, 8)},
		{"drop newest", DropNewest, ErrFull, seq(1, 5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, MaxRecords: 5, Overflow: tc.policy, SegmentBytes: 1024}
			q := open(t, o)
			var lastErr error
			for i := 1; i <= 8; i++ {
				if err := q.Append(payload(i)); err != nil {
					lastErr = err
				}
			}
			if !errors.Is(lastErr, tc.wantErr) {
				t.Fatalf("Append error = %v, want %v", lastErr, tc.wantErr)
			}
			s := q.Stats()
			if s.Len != 5 || s.Dropped != 3 {
				t.Fatalf("stats = %+v, want Len 5 Dropped 3", s)
			}
			if got := readAll(t, q); !equal(got, tc.wantRead) {
				t.Fatalf("read %v, want %v", got, tc.wantRead)
			}
			q.Close()
			q = open(t, o)
			if got := readAll(t, q); !equal(got, tc.wantRead) {
				t.Fatalf("after reopen read %v, want %v", got, tc.wantRead)
			}
		})
	}
}

// TestDropOldestBoundsDisk checks that a long outage under DropOldest does not
// grow the directory without bound.
func TestDropOldestBoundsDisk(t *testing.T) {
	q := open(t, Options{Dir: t.TempDir(), MaxRecords: 100, SegmentBytes: 1024, Sync: SyncNever})
	appendN(t, q, 1, 5000)
	s := q.Stats()
	if s.Len != 100 || s.Dropped != 4900 {
		t.Fatalf("stats = %+v", s)
	}
	// 100 records of ~25 bytes fit in a few 1 KiB segments.
	if s.Segments > 6 {
		t.Fatalf("segments = %d after drop-oldest, want a handful", s.Segments)
	}
	if got := readAll(t, q); !equal(got, seq(4901, 5000)) {
		t.Fatalf("read %d records, first %v", len(got), got[:1])
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(m) == 0 {
		t.Fatal("no segment")
	}
	return m[len(m)-1]
}

// TestPowerCutAtEveryByte cuts the last record short at every possible byte
// and checks that reopening keeps every earlier record and appends again.
func TestPowerCutAtEveryByte(t *testing.T) {
	src := t.TempDir()
	q := open(t, Options{Dir: src})
	appendN(t, q, 1, 3)
	q.Close()
	full, err := os.ReadFile(lastSegment(t, src))
	if err != nil {
		t.Fatal(err)
	}
	recLen := len(appendRecord(nil, 3, payload(3)))
	start := len(full) - recLen
	for cut := start; cut < len(full); cut++ {
		dir := t.TempDir()
		name := filepath.Join(dir, filepath.Base(lastSegment(t, src)))
		if err := os.WriteFile(name, full[:cut], 0o640); err != nil {
			t.Fatal(err)
		}
		q := open(t, Options{Dir: dir})
		if got := q.Stats().TruncatedBytes; got != int64(cut-start) {
			t.Fatalf("cut at %d: truncated %d bytes, want %d", cut, got, cut-start)
		}
		appendN(t, q, 4, 4)
		if got := readAll(t, q); !equal(got, []int{1, 2, 4}) {
			t.Fatalf("cut at %d: read %v, want [1 2 4]", cut, got)
		}
		q.Close()
	}
}

func TestCorruptTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"flipped payload bit", func(b []byte) []byte { b[len(b)-2] ^= 0x10; return b }},
		{"huge length", func(b []byte) []byte {
			return append(b, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0)
		}},
		{"zero fill after power cut", func(b []byte) []byte { return append(b, make([]byte, 64)...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := open(t, Options{Dir: dir})
			appendN(t, q, 1, 3)
			q.Close()
			seg := lastSegment(t, dir)
			b, _ := os.ReadFile(seg)
			wantLen := 3
			b2 := tc.damage(append([]byte(nil), b...))
			if len(b2) == len(b) {
				wantLen = 2 // the damaged record itself is lost
			}
			os.WriteFile(seg, b2, 0o640)
			q = open(t, Options{Dir: dir})
			if q.Stats().TruncatedBytes == 0 {
				t.Fatal("damage not detected")
			}
			if got := readAll(t, q); !equal(got, seq(1, wantLen)) {
				t.Fatalf("read %v, want 1..%d", got, wantLen)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	q := open(t, Options{Dir: t.TempDir()})
	if err := q.Append(make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized append: %v, want ErrTooLarge", err)
	}
	q.Close()
	if err := q.Append(payload(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	for _, o := range []Options{
		{},
		{Dir: t.TempDir(), Overflow: "drop-middle"},
		{Dir: t.TempDir(), Sync: "sometimes"},
		{Dir: t.TempDir(), MaxRecords: -1},
	} {
		if _, err := Open(o); err == nil {
			t.Errorf("Open(%+v) succeeded, want error", o)
		}
	}
}

// FuzzOpen feeds arbitrary bytes as a segment file: Open must never panic and
// must keep only well-formed records.
func FuzzOpen(f *testing.F) {
	good := appendRecord(appendRecord(nil, 1, payload(1)), 2, payload(2))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "seg-00000000000000000001.log"), b, 0o640)
		q, err := Open(Options{Dir: dir, Sync: SyncNever})
		if err != nil {
			return
		}
		defer q.Close()
		var last uint64
		for {
			recs, err := q.Read(100)
			if err != nil || len(recs) == 0 {
				break
			}
			for _, r := range recs {
				if r.Seq <= last {
					t.Fatalf("sequence went back: %d after %d", r.Seq, last)
				}
				last = r.Seq
			}
		}
		if err := q.Append([]byte("x")); err != nil {
			t.Fatalf("append after fuzzed open: %v", err)
		}
	})
}

func BenchmarkAppendSyncAlways(b *testing.B) {
	q := open(b, Options{Dir: b.TempDir()})
	p := []byte(`{"device":"bin-1","ts":"2026-11-26T18:00:00.000Z","level_pct":42.5,"distance_mm":575}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Append(p); err != nil {
			b.Fatal(err)
		}
	}
}
