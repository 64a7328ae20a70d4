package broker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

// subscriber is a persistent-session QoS 1 client that acknowledges only
// the payloads ack approves.
type subscriber struct {
	c    paho.Client
	mu   sync.Mutex
	got  map[string]int
	more chan struct{}
}

func subscribe(t *testing.T, url, id string, first bool, ack func(payload string) bool) *subscriber {
	t.Helper()
	s := &subscriber{got: map[string]int{}, more: make(chan struct{}, 1)}
	h := func(_ paho.Client, m paho.Message) {
		p := string(m.Payload())
		s.mu.Lock()
		s.got[p]++
		s.mu.Unlock()
		if ack(p) {
			m.Ack()
		}
		select {
		case s.more <- struct{}{}:
		default:
		}
	}
	s.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoAckDisabled(true).SetAutoReconnect(false).SetDefaultPublishHandler(h))
	if tok := s.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	if first {
		if tok := s.c.Subscribe("revloop/v1/+/gps", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	return s
}

// wait returns the payloads received once n distinct ones have come, or
// after d.
func (s *subscriber) wait(n int, d time.Duration) map[string]int {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		if len(s.got) >= n {
			out := make(map[string]int, len(s.got))
			for k, v := range s.got {
				out[k] = v
			}
			s.mu.Unlock()
			return out
		}
		s.mu.Unlock()
		select {
		case <-s.more:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.got
		}
	}
}

func payload(i int) string { return fmt.Sprintf(`{"ts":%d}`, i) }

// openTestJournal opens the journal in dir, closed when the test ends
// (closing twice is harmless).
func openTestJournal(t *testing.T, dir string, syncWrites bool) *journal {
	t.Helper()
	j, err := openJournal(dir, syncWrites, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.close)
	return j
}

// gpsPacket is the i-th QoS 1 publication of the journal tests.
func gpsPacket(i int) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		TopicName: "revloop/v1/dev-1/gps", Payload: []byte(payload(i))}
}

// wantRedo fails unless the journal in dir, reopened, would publish seqs
// again.
func wantRedo(t *testing.T, dir string, syncWrites bool, seqs ...uint64) {
	t.Helper()
	if got := openTestJournal(t, dir, syncWrites).redo; fmt.Sprint(got) != fmt.Sprint(seqs) {
		t.Fatalf("reopened, the journal holds %v, want %v", got, seqs)
	}
}

// TestJournalRedeliversAfterRestart: a subscriber acknowledges a third of
// 300 publications before the broker stops; the broker does not keep
// in-flight messages in its session store, so the other 200 come back only
// through the journal, and the acknowledged 100 do not.
func TestJournalRedeliversAfterRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Addr: "127.0.0.1:0", AllowAll: true, DataDir: dir, Journal: true}
	b, stop := startBroker(t, opts)
	acked := func(p string) bool {
		var i int
		fmt.Sscanf(p, `{"ts":%d}`, &i)
		return i < 100
	}
	sub := subscribe(t, b.URL(), "ingest-1", true, acked)
	pub := connect(t, b.URL(), "dev-1", true)
	for i := range 300 {
		if tok := pub.Publish("revloop/v1/dev-1/gps", 1, false, payload(i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	if got := sub.wait(300, 10*time.Second); len(got) != 300 {
		t.Fatalf("before the restart the subscriber got %d of 300", len(got))
	}
	time.Sleep(2 * flushEvery) // the acknowledgements reach the broker
	if st := b.JournalStats(); st.Pending != 200 || st.Segments != 1 || st.Bytes == 0 {
		t.Errorf("journal before the restart: %+v, want 200 pending in one segment", st)
	}
	pub.Disconnect(50)
	sub.c.Disconnect(50)
	stop()

	opts.Addr = b.Addr()
	b, stop = startBroker(t, opts)
	sub = subscribe(t, b.URL(), "ingest-1", false, func(string) bool { return true })
	got := sub.wait(200, 10*time.Second)
	if len(got) != 200 {
		t.Errorf("after the restart the subscriber got %d publications, want the 200 it had not acknowledged", len(got))
	}
	for p := range got {
		if acked(p) {
			t.Errorf("%s was acknowledged before the restart and came again", p)
		}
	}
	time.Sleep(3 * flushEvery) // the completions are written, complete segments go
	sub.c.Disconnect(50)
	stop()
	segs, _ := filepath.Glob(filepath.Join(dir, "journal", "journal-*.log"))
	if len(segs) != 1 {
		t.Errorf("segments left: %v, want only the one last written to", segs)
	}

	// Everything was acknowledged: a third start delivers nothing again.
	b, stop = startBroker(t, opts)
	defer stop()
	sub = subscribe(t, b.URL(), "ingest-1", false, func(string) bool { return true })
	defer sub.c.Disconnect(50)
	if got := sub.wait(1, time.Second); len(got) != 0 {
		t.Errorf("after a clean stop %d publications came again", len(got))
	}
}

// TestJournalScan checks the reading of a segment: records in order,
// completions, and a tail cut off by a crash at any byte.
func TestJournalScan(t *testing.T) {
	dir := t.TempDir()
	var buf []byte
	for i := 1; i <= 3; i++ {
		buf = appendRecord(buf, recPublish, []byte{byte(i), 0, 0, 0, 0, 0, 0, 0, 1, byte(i % 2), 3, 0}, []byte("a/b"), []byte(payload(i)))
	}
	buf = appendRecord(buf, recDone, []byte{2, 0, 0, 0, 0, 0, 0, 0})
	var pubs []uint64
	var dones []uint64
	n, good, torn := scanJournal(buf, func(e publication) {
		pubs = append(pubs, e.seq)
		if e.topic != "a/b" || string(e.payload) != payload(int(e.seq)) || e.qos != 1 || e.retain != (e.seq%2 == 1) {
			t.Errorf("record %d read back as %+v", e.seq, e)
		}
	}, func(seq uint64) { dones = append(dones, seq) })
	if n != 4 || good != len(buf) || torn || fmt.Sprint(pubs) != "[1 2 3]" || fmt.Sprint(dones) != "[2]" {
		t.Fatalf("scan: %d records in %d of %d bytes, torn %v, publications %v, completions %v", n, good, len(buf), torn, pubs, dones)
	}
	// Cut anywhere inside the last record: the three before it stay.
	last := len(buf) - (recHeader + 8)
	for cut := last + 1; cut < len(buf); cut++ {
		n, good, torn := scanJournal(buf[:cut], func(publication) {}, func(uint64) {})
		if n != 3 || good != last || !torn {
			t.Fatalf("cut at %d: %d records in %d bytes (want 3 in %d), torn %v", cut, n, good, last, torn)
		}
	}
	// A damaged byte stops the scan there.
	bad := append([]byte(nil), buf...)
	bad[recHeader+2] ^= 0xff
	if n, _, torn := scanJournal(bad, func(publication) {}, func(uint64) {}); n != 0 || !torn {
		t.Fatalf("damaged first record: %d records, torn %v", n, torn)
	}

	// Written to a segment, the incomplete publications are replayed.
	if err := os.WriteFile(filepath.Join(dir, "journal-0000000000000001.log"), buf[:len(buf)-3], 0o640); err != nil {
		t.Fatal(err)
	}
	// The completion of 2 was cut off: 2 comes again, as MQTT's
	// at-least-once allows.
	if j := openTestJournal(t, dir, false); fmt.Sprint(j.redo) != "[1 2 3]" || j.nextSeq != 4 {
		t.Fatalf("replay %v, next seq %d; want [1 2 3] and 4", j.redo, j.nextSeq)
	}
}

// TestJournalDropsCompleteSegments: with small segments, a steady stream
// that its subscriber acknowledges leaves only the segment being written
// to (and at most one not yet swept).
func TestJournalDropsCompleteSegments(t *testing.T) {
	dir := t.TempDir()
	b, err := New(nil, Options{Addr: "127.0.0.1:0", AllowAll: true, DataDir: dir, Journal: true})
	if err != nil {
		t.Fatal(err)
	}
	b.journal.segMax = 2 << 10
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	sub := subscribe(t, b.URL(), "ingest-1", true, func(string) bool { return true })
	defer sub.c.Disconnect(50)
	pub := connect(t, b.URL(), "dev-1", true)
	defer pub.Disconnect(50)
	for i := range 500 {
		if tok := pub.Publish("revloop/v1/dev-1/gps", 1, false, payload(i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	if got := sub.wait(500, 10*time.Second); len(got) != 500 {
		t.Fatalf("the subscriber got %d of 500", len(got))
	}
	time.Sleep(3 * flushEvery)
	if st := b.JournalStats(); st.Pending != 0 || st.WriteErrors != 0 {
		t.Errorf("journal after every publication was acknowledged: %+v", st)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "journal", "journal-*.log"))
	if len(segs) == 0 || len(segs) > 2 {
		t.Fatalf("segments: %v, want the last one or two of the %d KiB written", segs, 500*40/1024)
	}
	if filepath.Base(segs[len(segs)-1]) == "journal-0000000000000001.log" {
		t.Errorf("no rotation after 500 publications in 2 KiB segments: %v", segs)
	}
}

// TestJournalReopensAnEmptySegment: a run that stops before its first
// publication leaves an empty segment named for the next seq; the next run
// writes on in it rather than deleting it as complete.
func TestJournalReopensAnEmptySegment(t *testing.T) {
	dir := t.TempDir()
	openTestJournal(t, dir, false).close()
	j := openTestJournal(t, dir, false)
	if runtime.GOOS == "linux" && j.segs[len(j.segs)-1].m == nil {
		t.Error("the segment is written, not mapped")
	}
	seq, err := j.appendPublish(gpsPacket(1))
	if err != nil {
		t.Fatal(err)
	}
	j.close()
	// Closed, the mapped segment is cut to what it holds.
	if st, err := os.Stat(j.segs[len(j.segs)-1].path); err != nil || st.Size() != j.segs[len(j.segs)-1].size {
		t.Errorf("closed segment: %v, %v; want %d bytes", st.Size(), err, j.segs[len(j.segs)-1].size)
	}
	wantRedo(t, dir, false, seq)
}

// TestJournalRecoversFromAFailedWrite: a write that fails refuses what it
// held, and the next one goes to a new segment, so that what follows a
// partial record is still read back. Segments are written (not mapped)
// with SyncWrites.
func TestJournalRecoversFromAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	j := openTestJournal(t, dir, true)
	first, err := j.appendPublish(gpsPacket(1))
	if err != nil {
		t.Fatal(err)
	}
	j.segs[len(j.segs)-1].f.Close() // the next write fails
	if _, err := j.appendPublish(gpsPacket(2)); err == nil {
		t.Fatal("a write to a closed file reported success")
	}
	third, err := j.appendPublish(gpsPacket(3))
	if err != nil {
		t.Fatalf("the write after a failed one: %v", err)
	}
	j.close()
	wantRedo(t, dir, true, first, third) // the refused one is not kept
}

// TestJournalCutsAPartialTailBeforeWriting: a run that carries on in the
// segment a crashed run began drops the partial record the crash left, or
// what it writes after it could not be read back.
func TestJournalCutsAPartialTailBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	seg := appendRecord(nil, recDone, []byte{9, 0, 0, 0, 0, 0, 0, 0})
	seg = append(seg, recPublish, 40, 0) // a record cut off after 3 bytes
	if err := os.WriteFile(filepath.Join(dir, "journal-0000000000000001.log"), seg, 0o640); err != nil {
		t.Fatal(err)
	}
	j := openTestJournal(t, dir, false)
	seq, err := j.appendPublish(gpsPacket(1))
	if err != nil {
		t.Fatal(err)
	}
	j.close()
	wantRedo(t, dir, false, seq)
}

// TestJournalDroppedPagesStayInTheFile: the pages taken out of the
// process's memory still hold what was copied there, as a reader of the
// file (a restart after a crash) sees it.
func TestJournalDroppedPagesStayInTheFile(t *testing.T) {
	j := openTestJournal(t, t.TempDir(), false)
	const n = 500 // about 30 KiB: several pages
	for i := range n {
		if _, err := j.appendPublish(gpsPacket(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.dropWrittenPages()
	seg := j.segs[len(j.segs)-1]
	if runtime.GOOS == "linux" && seg.kept == 0 {
		t.Fatalf("no page dropped after %d bytes", seg.size)
	}
	data, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if _, _, torn := scanJournal(data, func(p publication) { got = append(got, string(p.payload)) }, func(uint64) {}); torn || len(got) != n {
		t.Fatalf("the file holds %d of %d publications (torn %v)", len(got), n, torn)
	}
	for i, p := range got {
		if p != payload(i) {
			t.Fatalf("publication %d reads %s", i, p)
		}
	}
}
