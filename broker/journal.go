package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// journal keeps every QoS 1/2 publication a client sends until each
// subscriber that takes it at QoS 1/2 has acknowledged it, so that a crash
// of the broker loses nothing it acknowledged to the publisher: the PUBACK
// goes out only after the publication is in the journal file (in the
// kernel's page cache; with SyncWrites, on disk). After a restart the
// publications still unacknowledged are published again, to the sessions
// the session store kept.
//
// Appends are copied into the segment file mapped in memory, which puts
// them in the page cache without a system call. With SyncWrites, or where
// files cannot be mapped, they are group-committed instead: whoever finds
// no write in progress writes everything queued so far in one system call
// (and fsync), and the others wait for it.
// Completions are queued as small records that go out with the next write
// (or within flushEvery); one lost in a crash only means a publication is
// delivered twice, which MQTT's at-least-once allows.
//
// The journal is a series of segment files, journal-<first seq>.log. A
// segment is deleted once every publication in it is complete.
//
// mochi can lose a delivery without telling its hooks: when a client takes
// over its persistent session, what is delivered to the old session between
// the copy of its in-flight messages and their clearing is gone. The
// journal notices (the delivery is missing from the new session, or its
// packet id is handed out again) and publishes the publication again, as
// it does after a restart.
type journal struct {
	mqtt.HookBase
	dir        string
	syncWrites bool
	log        *slog.Logger
	srv        *mqtt.Server
	segMax     int64

	// file side
	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte // records not yet written
	spare    []byte
	bufFirst uint64 // seq of the first publication in buf (0: none)
	bufGen   uint64 // write that will take buf (1, 2, ...)
	writing  bool
	wrote    uint64           // writes finished
	failed   map[uint64]error // writes that failed, by generation
	broken   bool             // the last write failed: the next starts a segment
	errors   uint64           // failed writes
	segs     []*segment       // oldest first; the last is written to
	nextSeq  uint64
	closed   bool

	// delivery side
	tmu     sync.Mutex
	pending map[uint64]*jentry                   // publications not yet complete
	bySub   map[*mqtt.Client]map[uint16]uint64   // subscriber → packet id → seq
	byID    map[string]map[*mqtt.Client]struct{} // subscriber id → its sessions with deliveries
	stale   map[*mqtt.Client]bool                // taken-over sessions seen by the last sweep
	current map[string]fanOut                    // publisher id → its publication being fanned out
	replay  uint64                               // seq being published again through the inline client
	redo    []uint64                             // seqs to publish again, in order
	kick    chan struct{}

	stop chan struct{} // set by start
	done chan struct{}
}

type segment struct {
	first uint64 // seq of its first publication
	path  string
	f     *os.File
	m     []byte // the file mapped, when records are copied there instead of written
	size  int64  // bytes of whole records
	kept  int64  // m[:kept] is out of the process's memory (dropPages)
}

// release unmaps and closes a segment written to, cutting the file to the
// records it holds.
func (s *segment) release() error {
	var err error
	if s.m != nil {
		err = unmapFile(s.m)
		s.m = nil
		if e := s.f.Truncate(s.size); err == nil {
			err = e
		}
	}
	if e := s.f.Close(); err == nil {
		err = e
	}
	s.f = nil
	return err
}

// fanOut is the publication a connection is offering to subscribers. It
// is keyed by client id (deliveries name only their origin's id), and
// holds the connection, so that the end of an old connection taken over
// does not end the new one's.
type fanOut struct {
	seq uint64
	cl  *mqtt.Client
}

// jentry is a publication not yet complete.
type jentry struct {
	publication
	deliveries int  // subscriber deliveries not yet acknowledged
	fannedOut  bool // the broker has offered it to every subscriber
}

// publication is what is published again.
type publication struct {
	seq     uint64
	qos     byte
	retain  bool
	topic   string
	payload []byte
}

const (
	recPublish = 1
	recDone    = 2

	recHeader = 9 // kind, body length (uint32), crc32 of kind and body

	journalSegMax = 64 << 20
	flushEvery    = 100 * time.Millisecond
)

var errJournalClosed = errors.New("broker: journal closed")

// openJournal reads the segments in dir, keeps those holding incomplete
// publications for the replay, and starts a new segment.
func openJournal(dir string, syncWrites bool, log *slog.Logger) (*journal, error) {
	j := &journal{dir: dir, syncWrites: syncWrites, log: log, segMax: journalSegMax,
		pending: map[uint64]*jentry{}, bySub: map[*mqtt.Client]map[uint16]uint64{},
		byID: map[string]map[*mqtt.Client]struct{}{}, stale: map[*mqtt.Client]bool{}, current: map[string]fanOut{},
		kick: make(chan struct{}, 1), bufGen: 1, failed: map[uint64]error{}}
	j.cond = sync.NewCond(&j.mu)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("broker: journal: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "journal-*.log"))
	if err != nil {
		return nil, fmt.Errorf("broker: journal: %w", err)
	}
	slices.Sort(paths) // fixed-width hex: name order is seq order
	entries := map[uint64]publication{}
	doneSeqs := map[uint64]bool{}
	maxSeq := uint64(0)
	for _, p := range paths {
		var first uint64
		if _, err := fmt.Sscanf(filepath.Base(p), "journal-%016x.log", &first); err != nil {
			return nil, fmt.Errorf("broker: journal: unexpected file %s", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("broker: journal: %w", err)
		}
		n, good, torn := scanJournal(data, func(e publication) {
			entries[e.seq] = e
			maxSeq = max(maxSeq, e.seq)
		}, func(seq uint64) { doneSeqs[seq] = true })
		if torn {
			log.Warn("journal segment ends in a partial record (cut off by a crash); the records before it are kept", "file", p, "records", n)
		}
		j.segs = append(j.segs, &segment{first: first, path: p, size: int64(good)})
	}
	for seq, e := range entries {
		if !doneSeqs[seq] {
			j.redo = append(j.redo, seq)
			j.pending[seq] = &jentry{publication: e}
		}
	}
	slices.Sort(j.redo)
	j.nextSeq = maxSeq + 1
	if err := j.rotate(j.nextSeq, 0); err != nil {
		return nil, err
	}
	j.dropCompleteSegments()
	if len(j.redo) > 0 {
		log.Info("journal: publications to deliver again after a restart", "count", len(j.redo))
	}
	return j, nil
}

// scanJournal calls pub and done for the records of data and returns how
// many it read, the length they take, and whether data ends in a partial
// or damaged record.
func scanJournal(data []byte, pub func(publication), done func(uint64)) (n, good int, torn bool) {
	for ; len(data) > 0; n++ {
		if data[0] == 0 {
			return n, good, false // the unused, zeroed end of a mapped segment
		}
		if len(data) < recHeader {
			return n, good, true
		}
		kind := data[0]
		size := binary.LittleEndian.Uint32(data[1:5])
		sum := binary.LittleEndian.Uint32(data[5:9])
		if uint64(len(data)-recHeader) < uint64(size) {
			return n, good, true
		}
		body := data[recHeader : recHeader+int(size)]
		if crc32.Update(crc32.ChecksumIEEE(data[:1]), crc32.IEEETable, body) != sum {
			return n, good, true
		}
		switch {
		case kind == recPublish && len(body) >= 12:
			seq := binary.LittleEndian.Uint64(body)
			qos, retain := body[8], body[9] == 1
			tl := int(binary.LittleEndian.Uint16(body[10:12]))
			if len(body) < 12+tl {
				return n, good, true
			}
			pub(publication{seq: seq, qos: qos, retain: retain, topic: string(body[12 : 12+tl]),
				payload: bytes.Clone(body[12+tl:])})
		case kind == recDone && len(body) == 8:
			done(binary.LittleEndian.Uint64(body))
		default:
			return n, good, true
		}
		good += recHeader + int(size)
		data = data[recHeader+int(size):]
	}
	return n, good, false
}

func appendRecord(b []byte, kind byte, body ...[]byte) []byte {
	size := 0
	for _, p := range body {
		size += len(p)
	}
	start := len(b)
	b = append(b, kind, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[start+1:], uint32(size))
	for _, p := range body {
		b = append(b, p...)
	}
	sum := crc32.Update(crc32.ChecksumIEEE(b[start:start+1]), crc32.IEEETable, b[start+recHeader:])
	binary.LittleEndian.PutUint32(b[start+5:], sum)
	return b
}

// rotate starts a segment whose first publication is first, with room for
// need bytes. Called with mu held or before the journal is shared.
func (j *journal) rotate(first uint64, need int) error {
	p := filepath.Join(j.dir, fmt.Sprintf("journal-%016x.log", first))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("broker: journal: %w", err)
	}
	var seg *segment
	if n := len(j.segs); n > 0 && j.segs[n-1].path == p {
		// A segment a previous run began and wrote no publication to:
		// carry on in it, after its last whole record (a partial one
		// would hide what follows from the next scan).
		seg = j.segs[n-1]
	} else {
		seg = &segment{first: first, path: p}
	}
	if err := f.Truncate(seg.size); err != nil {
		f.Close()
		return fmt.Errorf("broker: journal: %w", err)
	}
	if n := len(j.segs); n == 0 || j.segs[n-1] != seg {
		if n > 0 && j.segs[n-1].f != nil {
			if err := j.segs[n-1].release(); err != nil {
				j.log.Warn("journal: closing a segment", "file", j.segs[n-1].path, "error", err)
			}
		}
		j.segs = append(j.segs, seg)
	}
	seg.f = f
	if !j.syncWrites {
		size := max(j.segMax, seg.size+int64(need))
		if err := f.Truncate(size); err == nil {
			if m, err := mapFile(f, int(size)); err == nil {
				seg.m = m
			} else {
				f.Truncate(seg.size)
			}
		}
	}
	return nil
}

// appendPublish journals pk and returns its seq once the record is written;
// a publication whose write failed is not kept.
func (j *journal) appendPublish(pk packets.Packet) (uint64, error) {
	var head [12]byte
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0, errJournalClosed
	}
	seq := j.nextSeq
	j.nextSeq++
	binary.LittleEndian.PutUint64(head[:], seq)
	head[8] = pk.FixedHeader.Qos
	if pk.FixedHeader.Retain {
		head[9] = 1
	}
	binary.LittleEndian.PutUint16(head[10:], uint16(len(pk.TopicName)))
	if j.bufFirst == 0 {
		j.bufFirst = seq
	}
	j.buf = appendRecord(j.buf, recPublish, head[:], []byte(pk.TopicName), pk.Payload)
	gen := j.bufGen
	// Tracked before the write: a fast subscriber may acknowledge it
	// before this goroutine runs again.
	j.tmu.Lock()
	j.pending[seq] = &jentry{publication: publication{seq: seq, qos: pk.FixedHeader.Qos, retain: pk.FixedHeader.Retain,
		topic: pk.TopicName, payload: pk.Payload}}
	j.tmu.Unlock()
	err := j.commit(gen)
	j.mu.Unlock()
	if err != nil {
		j.tmu.Lock()
		delete(j.pending, seq)
		j.tmu.Unlock()
	}
	return seq, err
}

// commit returns once the write of generation gen is over, with its
// error. Called with mu held. A failed write refuses what it held (the
// publishers get no PUBACK and send again) and may have left a partial
// record: the next write starts a new segment, so that a partial record
// only ever ends one.
func (j *journal) commit(gen uint64) error {
	for j.wrote < gen {
		if j.writing {
			j.cond.Wait()
			continue
		}
		j.writing = true
		buf, first, g := j.buf, j.bufFirst, j.bufGen
		j.buf, j.bufFirst, j.bufGen = j.spare[:0], 0, j.bufGen+1
		var err error
		seg := j.segs[len(j.segs)-1]
		full := seg.size >= j.segMax || seg.m != nil && seg.size+int64(len(buf)) > int64(len(seg.m))
		if j.broken || full {
			if first == 0 {
				first = j.nextSeq
			}
			if err = j.rotate(first, len(buf)); err == nil {
				j.broken = false
				seg = j.segs[len(j.segs)-1]
			}
		}
		switch {
		case err != nil:
		case seg.m != nil:
			copy(seg.m[seg.size:], buf)
			seg.size += int64(len(buf))
		default:
			j.mu.Unlock()
			_, err = seg.f.WriteAt(buf, seg.size)
			if err == nil && j.syncWrites {
				err = seg.f.Sync()
			}
			j.mu.Lock()
			if err == nil {
				seg.size += int64(len(buf))
			}
		}
		j.spare = buf[:0]
		j.writing = false
		j.wrote = g
		if err != nil {
			j.broken = true
			j.errors++
			for old := range j.failed {
				if old+1024 < g { // their waiters have long read them
					delete(j.failed, old)
				}
			}
			j.failed[g] = fmt.Errorf("broker: journal write: %w", err)
			j.log.Error("journal write failed: publications refused until a write succeeds", "error", err)
		}
		j.cond.Broadcast()
	}
	return j.failed[gen]
}

// complete queues the completion record of seq.
func (j *journal) complete(seq uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	j.mu.Lock()
	if !j.closed {
		j.buf = appendRecord(j.buf, recDone, b[:])
	}
	j.mu.Unlock()
}

// flush writes what is queued.
func (j *journal) flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	gen := j.bufGen
	if len(j.buf) == 0 {
		gen-- // nothing queued: wait for a write under way, if any
	}
	return j.commit(gen)
}

// dropCompleteSegments deletes the segments, other than the one written
// to, whose publications are all complete.
func (j *journal) dropCompleteSegments() {
	j.mu.Lock()
	low, n := j.nextSeq, len(j.segs)
	j.mu.Unlock()
	if n < 2 {
		return // the one segment is the one written to
	}
	// Not under mu, which every publication takes: a seq handed out
	// meanwhile is at least low, and so is the first of a new segment.
	j.tmu.Lock()
	for seq := range j.pending {
		low = min(low, seq)
	}
	j.tmu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	keep := j.segs[:0]
	for i, s := range j.segs {
		if i < len(j.segs)-1 && j.segs[i+1].first <= low {
			if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
				j.log.Warn("journal: removing a complete segment", "file", s.path, "error", err)
			}
			continue
		}
		keep = append(keep, s)
	}
	j.segs = keep
}

// dropWrittenPages takes the whole pages written to the mapped segment
// out of the process's memory, so that the journal does not grow its RSS.
func (j *journal) dropWrittenPages() {
	j.mu.Lock()
	defer j.mu.Unlock()
	seg := j.segs[len(j.segs)-1]
	if seg.m == nil {
		return
	}
	page := int64(os.Getpagesize())
	if upto := seg.size / page * page; upto > seg.kept {
		if err := dropPages(seg.m[seg.kept:upto]); err != nil {
			j.log.Warn("journal: dropping written pages", "error", err)
		}
		seg.kept = upto
	}
}

// finish ends the tracking of seq when it is fanned out and acknowledged.
// Called with tmu held; reports whether seq is complete.
func (j *journal) finishLocked(seq uint64) bool {
	e, ok := j.pending[seq]
	if !ok || !e.fannedOut || e.deliveries > 0 {
		return false
	}
	delete(j.pending, seq)
	return true
}

// track records the delivery of seq to cl under packet id. Called with
// tmu held.
func (j *journal) track(cl *mqtt.Client, id uint16, seq uint64) {
	ids := j.bySub[cl]
	if ids == nil {
		ids = map[uint16]uint64{}
		j.bySub[cl] = ids
		if j.byID[cl.ID] == nil {
			j.byID[cl.ID] = map[*mqtt.Client]struct{}{}
		}
		j.byID[cl.ID][cl] = struct{}{}
	}
	if old, ok := ids[id]; ok && old != seq {
		// The packet id is handed out again without an acknowledgement
		// the journal saw: mochi dropped that delivery.
		j.lostLocked(old)
	}
	ids[id] = seq
}

// untrack drops cl's deliveries from the index. Called with tmu held.
func (j *journal) untrack(cl *mqtt.Client) {
	delete(j.bySub, cl)
	delete(j.stale, cl)
	if m := j.byID[cl.ID]; m != nil {
		delete(m, cl)
		if len(m) == 0 {
			delete(j.byID, cl.ID)
		}
	}
}

// acknowledged ends the delivery to cl under packet id.
func (j *journal) acknowledged(cl *mqtt.Client, id uint16) {
	j.tmu.Lock()
	seq, done := j.acknowledgedLocked(cl, id)
	j.tmu.Unlock()
	if done {
		j.complete(seq)
	}
}

// acknowledgedLocked is acknowledged with tmu held: it returns the seq
// delivered and whether it is now complete (for complete, after tmu).
func (j *journal) acknowledgedLocked(cl *mqtt.Client, id uint16) (uint64, bool) {
	seq, ok := j.bySub[cl][id]
	if !ok {
		return 0, false
	}
	delete(j.bySub[cl], id)
	e := j.pending[seq]
	if e == nil {
		return seq, false
	}
	e.deliveries--
	return seq, j.finishLocked(seq)
}

// forget ends every delivery to the sessions: they are gone, with the
// messages the broker held for them.
func (j *journal) forget(sessions ...*mqtt.Client) {
	var done []uint64
	j.tmu.Lock()
	for _, cl := range sessions {
		for _, seq := range j.bySub[cl] {
			if e := j.pending[seq]; e != nil {
				e.deliveries--
				if j.finishLocked(seq) {
					done = append(done, seq)
				}
			}
		}
		j.untrack(cl)
	}
	j.tmu.Unlock()
	for _, seq := range done {
		j.complete(seq)
	}
}

// sessionsOf returns the sessions of client id with deliveries, but cl.
func (j *journal) sessionsOf(id string, but *mqtt.Client) []*mqtt.Client {
	j.tmu.Lock()
	defer j.tmu.Unlock()
	var out []*mqtt.Client
	for c := range j.byID[id] {
		if c != but {
			out = append(out, c)
		}
	}
	return out
}

// sweep publishes again what was delivered to a session after another
// connection took it over (mochi clears it), found taken over by two
// sweeps in a row: OnSessionEstablished has moved what the new
// connection took.
func (j *journal) sweep() {
	j.tmu.Lock()
	defer j.tmu.Unlock()
	for cl, ids := range j.bySub {
		if !cl.IsTakenOver() {
			continue
		}
		if !j.stale[cl] {
			j.stale[cl] = true
			continue
		}
		for _, seq := range ids {
			j.lostLocked(seq)
		}
		j.untrack(cl)
	}
}

// fannedOut marks seq offered to every subscriber.
func (j *journal) fannedOut(seq uint64) {
	j.tmu.Lock()
	done := j.fannedOutLocked(seq)
	j.tmu.Unlock()
	if done {
		j.complete(seq)
	}
}

// fannedOutLocked is fannedOut with tmu held: it reports whether seq is
// now complete (for complete, after tmu).
func (j *journal) fannedOutLocked(seq uint64) bool {
	e := j.pending[seq]
	if e == nil {
		return false
	}
	e.fannedOut = true
	return j.finishLocked(seq)
}

// start begins publishing again what is incomplete, and the background
// flush and deletion of complete segments.
func (j *journal) start(srv *mqtt.Server) {
	j.srv = srv
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(j.republish)
	j.kick <- struct{}{} // what the last run left
	go func() {
		defer close(j.done)
		defer wg.Wait()
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-j.stop:
				return
			case <-t.C:
				if err := j.flush(); err != nil {
					j.log.Error("journal", "error", err)
				}
				j.sweep()
				j.dropCompleteSegments()
				j.dropWrittenPages()
			}
		}
	}()
}

// lostLocked ends a delivery of seq that mochi dropped without telling
// and queues seq to be published again. Called with tmu held.
func (j *journal) lostLocked(seq uint64) {
	e := j.pending[seq]
	if e == nil {
		return
	}
	e.deliveries--
	e.fannedOut = false
	j.redo = append(j.redo, seq)
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// republish publishes again, through the inline client, what the redo
// queue holds: at start, what was not complete when the broker last
// stopped (the session store has restored the sessions it goes to), and
// later what mochi dropped.
func (j *journal) republish() {
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
		}
		j.tmu.Lock()
		seqs := j.redo
		j.redo = nil
		j.tmu.Unlock()
		for _, seq := range seqs {
			select {
			case <-j.stop:
				return
			default:
			}
			j.tmu.Lock()
			e := j.pending[seq]
			if e != nil {
				j.replay = seq
			}
			j.tmu.Unlock()
			if e == nil {
				continue
			}
			if err := j.srv.Publish(e.topic, e.payload, e.retain, e.qos); err != nil {
				j.log.Error("journal: publishing again", "topic", e.topic, "error", err)
			}
			j.tmu.Lock()
			j.replay = 0
			j.tmu.Unlock()
			j.fannedOut(seq)
		}
	}
}

// JournalStats is the state of the embedded broker's journal.
type JournalStats struct {
	Pending     int    // publications some subscriber has not acknowledged yet
	Segments    int    // segment files
	Bytes       int64  // what the segments hold
	WriteErrors uint64 // failed writes since the broker started
}

func (j *journal) stats() JournalStats {
	j.mu.Lock()
	st := JournalStats{Segments: len(j.segs), WriteErrors: j.errors}
	for _, s := range j.segs {
		st.Bytes += s.size
	}
	j.tmu.Lock()
	st.Pending = len(j.pending)
	j.tmu.Unlock()
	j.mu.Unlock()
	return st
}

// ID identifies the hook.
func (j *journal) ID() string { return "revloop-journal" }

// Provides tells mochi which events the journal follows.
func (j *journal) Provides(b byte) bool {
	switch b {
	case mqtt.OnPublish, mqtt.OnPublished, mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped,
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnClientExpired, mqtt.OnStopped:
		return true
	}
	return false
}

// OnPublish journals a client's QoS 1/2 publication before mochi
// acknowledges it. A failed write refuses the publication: the client gets
// no PUBACK and sends it again.
func (j *journal) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 0 || cl.Net.Inline {
		return pk, nil
	}
	seq, err := j.appendPublish(pk)
	if err != nil {
		return pk, packets.ErrRejectPacket // commit logged the failed write
	}
	j.tmu.Lock()
	prev, had := j.current[cl.ID]
	j.current[cl.ID] = fanOut{seq, cl}
	j.tmu.Unlock()
	if had && prev.cl == cl {
		// The previous publication of this client never reached its
		// subscribers (its PUBACK could not be written): the client
		// sends it again, so the journal lets it go.
		j.fannedOut(prev.seq)
	}
	return pk, nil
}

// endFanOut ends the fan-out of the publication cl is publishing, if any.
func (j *journal) endFanOut(cl *mqtt.Client) {
	j.tmu.Lock()
	f, ok := j.current[cl.ID]
	done := false
	if ok && f.cl == cl {
		delete(j.current, cl.ID)
		done = j.fannedOutLocked(f.seq)
	}
	j.tmu.Unlock()
	if done {
		j.complete(f.seq)
	}
}

// OnPublished ends the fan-out of the client's publication.
func (j *journal) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if pk.FixedHeader.Qos == 0 || cl.Net.Inline {
		return
	}
	j.endFanOut(cl)
}

// OnQosPublish counts a delivery of a journalled publication to a
// subscriber.
func (j *journal) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || resends > 0 || pk.FixedHeader.Dup {
		return // a resend of a delivery already counted (mochi passes resends 0 on a session's resumption, with DUP set)
	}
	j.tmu.Lock()
	var seq uint64
	if pk.Origin == mqtt.InlineClientId {
		seq = j.replay // published again by republish
	} else {
		seq = j.current[pk.Origin].seq
	}
	e := j.pending[seq]
	if seq == 0 || e == nil {
		j.tmu.Unlock()
		return
	}
	j.track(cl, pk.PacketID, seq)
	e.deliveries++
	j.tmu.Unlock()
}

// OnQosComplete ends a delivery acknowledged by its subscriber: a PUBACK
// (QoS 1) or PUBCOMP (QoS 2) from it. mochi also reports the end of a
// client's own publication: QoS 2 with its PUBREL, QoS 1 with the PUBACK it
// sends, from within the publication's processing (current is set).
func (j *journal) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	switch pk.FixedHeader.Type {
	case packets.Puback:
		var seq uint64
		done := false
		j.tmu.Lock()
		if j.current[cl.ID].cl != cl { // not its own publication
			seq, done = j.acknowledgedLocked(cl, pk.PacketID)
		}
		j.tmu.Unlock()
		if done {
			j.complete(seq)
		}
	case packets.Pubcomp:
		j.acknowledged(cl, pk.PacketID)
	}
}

// OnQosDropped ends a delivery the broker gave up on: expired, refused by
// the subscriber, or cleared with its session. A session another
// connection took over is cleared after its in-flight messages were copied
// to it: OnSessionEstablished moves those deliveries. A refused PUBREL is
// the client's own publication.
func (j *journal) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if pk.FixedHeader.Type != packets.Pubrel && !cl.IsTakenOver() {
		j.acknowledged(cl, pk.PacketID)
	}
}

// OnSessionEstablish forgets the deliveries of a session its client
// replaces with a clean one.
func (j *journal) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if pk.Connect.Clean {
		j.forget(j.sessionsOf(cl.ID, cl)...)
	}
}

// OnSessionEstablished moves the deliveries of a session taken over to
// the connection that took over its in-flight messages, and publishes
// again those it did not take (delivered after mochi copied them). The
// client reads nothing before this returns, so none was acknowledged
// meanwhile.
func (j *journal) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	old := j.sessionsOf(cl.ID, cl)
	var done []uint64
	j.tmu.Lock()
	for _, c := range old {
		for id, seq := range j.bySub[c] {
			e := j.pending[seq]
			if e == nil {
				continue
			}
			pk, held := cl.State.Inflight.Get(id)
			cur, tracked := j.bySub[cl][id]
			switch {
			case tracked && cur == seq:
				// Delivered to the new connection under the same id:
				// that delivery is counted already.
				e.deliveries--
				if j.finishLocked(seq) {
					done = append(done, seq)
				}
			case !tracked && held && pk.TopicName == e.topic && bytes.Equal(pk.Payload, e.payload):
				j.track(cl, id, seq)
			default:
				// Not taken over (delivered after the copy), or the id
				// now carries another delivery.
				j.lostLocked(seq)
			}
		}
		j.untrack(c)
	}
	j.tmu.Unlock()
	for _, seq := range done {
		j.complete(seq)
	}
}

// OnDisconnect forgets the deliveries of a session that ends with its
// connection, and a fan-out the disconnection cut short.
func (j *journal) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	j.endFanOut(cl)
	if expire && !cl.IsTakenOver() {
		j.forget(cl)
	}
}

// OnClientExpired forgets the deliveries of an expired session.
func (j *journal) OnClientExpired(cl *mqtt.Client) { j.forget(cl) }

// OnStopped writes what is queued and closes the journal.
func (j *journal) OnStopped() { j.close() }

func (j *journal) close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	if j.stop != nil {
		close(j.stop)
		<-j.done
	}
	if err := j.flush(); err != nil {
		j.log.Error("journal", "error", err)
	}
	j.dropCompleteSegments()
	j.mu.Lock()
	j.closed = true
	for _, s := range j.segs {
		if s.f != nil {
			if err := s.release(); err != nil {
				j.log.Error("journal: closing a segment", "file", s.path, "error", err)
			}
		}
	}
	j.mu.Unlock()
}
