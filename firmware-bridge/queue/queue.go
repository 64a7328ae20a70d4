package queue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Policy says what Append does when the queue is full.
type Policy string

// Overflow policies.
const (
	// DropOldest discards the oldest unacknowledged records to make room.
	DropOldest Policy = "drop-oldest"
	// DropNewest refuses the records being appended.
	DropNewest Policy = "drop-newest"
)

// SyncPolicy says when appended records are fsynced.
type SyncPolicy string

// Fsync policies.
const (
	// SyncAlways fsyncs at the end of every Append.
	SyncAlways SyncPolicy = "always"
	// SyncInterval fsyncs at most every Options.SyncEvery.
	SyncInterval SyncPolicy = "interval"
	// SyncNever leaves writing back to the kernel.
	SyncNever SyncPolicy = "never"
)

// Sentinel errors.
var (
	// ErrFull is returned by Append under DropNewest when records were refused.
	ErrFull = errors.New("queue: full, newest records dropped")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("queue: closed")
	// ErrTooLarge is returned for a record larger than MaxRecordBytes.
	ErrTooLarge = errors.New("queue: record too large")
)

// MaxRecordBytes is the largest data a record may carry.
const MaxRecordBytes = 1 << 20

const (
	headerLen  = 8 // length + crc
	seqLen     = 8
	cursorName = "cursor"
	segPrefix  = "seg-"
	segSuffix  = ".log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a Queue. Zero values take the defaults noted per field.
type Options struct {
	// Dir holds the segments and the cursor; created if missing. Required.
	Dir string
	// MaxRecords bounds the number of unacknowledged records. Default 100000.
	MaxRecords int
	// Overflow is the policy when full. Default DropOldest.
	Overflow Policy
	// SegmentBytes is the size after which a new segment is started. Default 4 MiB.
	SegmentBytes int64
	// Sync is the fsync policy for appends. Default SyncAlways.
	Sync SyncPolicy
	// SyncEvery is the fsync period under SyncInterval. Default 1s.
	SyncEvery time.Duration
}

// DefaultOptions returns the defaults for a queue in dir.
func DefaultOptions(dir string) Options {
	return Options{Dir: dir, MaxRecords: 100000, Overflow: DropOldest,
		SegmentBytes: 4 << 20, Sync: SyncAlways, SyncEvery: time.Second}
}

func (o *Options) withDefaults() {
	d := DefaultOptions(o.Dir)
	if o.MaxRecords == 0 {
		o.MaxRecords = d.MaxRecords
	}
	if o.Overflow == "" {
		o.Overflow = d.Overflow
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = d.SegmentBytes
	}
	if o.Sync == "" {
		o.Sync = d.Sync
	}
	if o.SyncEvery == 0 {
		o.SyncEvery = d.SyncEvery
	}
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	o.withDefaults()
	switch {
	case o.Dir == "":
		return errors.New("queue: dir is required")
	case o.MaxRecords < 1:
		return fmt.Errorf("queue: max records %d < 1", o.MaxRecords)
	case o.Overflow != DropOldest && o.Overflow != DropNewest:
		return fmt.Errorf("queue: overflow policy %q: want %s or %s", o.Overflow, DropOldest, DropNewest)
	case o.Sync != SyncAlways && o.Sync != SyncInterval && o.Sync != SyncNever:
		return fmt.Errorf("queue: sync policy %q: want always, interval or never", o.Sync)
	case o.SegmentBytes < 1024:
		return fmt.Errorf("queue: segment bytes %d < 1024", o.SegmentBytes)
	}
	return nil
}

// Record is one queued item.
type Record struct {
	Seq  uint64
	Data []byte
}

// Stats describe a queue's state.
type Stats struct {
	// Len is the number of unacknowledged records.
	Len int
	// Segments is the number of segment files.
	Segments int
	// Dropped counts records lost to the overflow policy since Open.
	Dropped uint64
	// TruncatedBytes counts bytes cut from torn or corrupt segment tails at Open.
	TruncatedBytes int64
	// Acked is the last acknowledged sequence number.
	Acked uint64
}

type segment struct {
	first uint64 // first seq this file was named for
	last  uint64 // last seq present (first-1 when empty)
	path  string
	size  int64
}

// Queue is a bounded, durable FIFO of records. It is safe for concurrent use.
type Queue struct {
	opts Options

	mu       sync.Mutex
	segs     []*segment
	w        *os.File // active (last) segment
	dirty    bool     // appended since the last fsync
	lastSync time.Time
	next     uint64 // next seq to assign
	head     uint64 // oldest live seq
	acked    uint64 // durable cursor value
	read     uint64 // next seq Read hands out
	rd       *reader
	stats    Stats
	closed   bool
	notify   chan struct{}
}

type reader struct {
	seg int
	f   *os.File
	br  *bufio.Reader
}

// Open opens (or creates) the queue in opts.Dir, verifying every record and
// truncating torn tails.
func Open(opts Options) (*Queue, error) {
	opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: open: %w", err)
	}
	q := &Queue{opts: opts, notify: make(chan struct{}, 1)}
	acked, err := readCursor(filepath.Join(opts.Dir, cursorName))
	if err != nil {
		return nil, err
	}
	q.acked = acked
	names, err := filepath.Glob(filepath.Join(opts.Dir, segPrefix+"*"+segSuffix))
	if err != nil {
		return nil, fmt.Errorf("queue: open: %w", err)
	}
	for _, p := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), segPrefix), segSuffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		q.segs = append(q.segs, &segment{first: first, path: p})
	}
	sort.Slice(q.segs, func(i, j int) bool { return q.segs[i].first < q.segs[j].first })
	q.next = acked + 1
	for _, s := range q.segs {
		cut, err := q.scan(s)
		if err != nil {
			return nil, err
		}
		q.stats.TruncatedBytes += cut
		if s.last >= s.first && s.last+1 > q.next {
			q.next = s.last + 1
		}
		if s.first > q.next {
			q.next = s.first
		}
	}
	q.head = acked + 1
	if len(q.segs) > 0 && q.segs[0].first > q.head {
		q.head = q.segs[0].first
	}
	if q.head > q.next {
		q.head = q.next
	}
	q.read = q.head
	if len(q.segs) == 0 {
		if err := q.newSegment(); err != nil {
			return nil, err
		}
	} else {
		a := q.segs[len(q.segs)-1]
		f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("queue: open segment: %w", err)
		}
		q.w = f
	}
	q.enforceBound()
	if err := q.removeDone(); err != nil {
		return nil, err
	}
	return q, nil
}

// scan verifies the records of s, sets s.last and s.size, and truncates the
// file after the last good record. It returns the number of bytes cut.
func (q *Queue) scan(s *segment) (int64, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("queue: scan %s: %w", s.path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("queue: scan %s: %w", s.path, err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var off int64
	s.last = s.first - 1
	for {
		rec, n, err := readRecord(br)
		if err != nil {
			break // io.EOF at a record boundary, or a torn/corrupt record
		}
		if rec.Seq <= s.last || (s.last >= s.first && rec.Seq != s.last+1) || rec.Seq < s.first {
			break // out of sequence: treat like corruption
		}
		s.last = rec.Seq
		off += int64(n)
	}
	s.size = off
	if cut := fi.Size() - off; cut > 0 {
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("queue: truncate torn tail of %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("queue: truncate torn tail of %s: %w", s.path, err)
		}
		return cut, nil
	}
	return 0, nil
}

var errCorrupt = errors.New("queue: corrupt record")

// readRecord reads one framed record. It returns io.EOF only at a clean
// boundary and errCorrupt (wrapped) for anything torn or damaged.
func readRecord(br *bufio.Reader) (Record, int, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		if err == io.EOF {
			return Record{}, 0, io.EOF
		}
		return Record{}, 0, fmt.Errorf("%w: short header", errCorrupt)
	}
	n := binary.LittleEndian.Uint32(h[0:4])
	sum := binary.LittleEndian.Uint32(h[4:8])
	if n < seqLen || n > MaxRecordBytes+seqLen {
		return Record{}, 0, fmt.Errorf("%w: length %d", errCorrupt, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return Record{}, 0, fmt.Errorf("%w: short body", errCorrupt)
	}
	if crc32.Checksum(body, castagnoli) != sum {
		return Record{}, 0, fmt.Errorf("%w: checksum", errCorrupt)
	}
	return Record{Seq: binary.LittleEndian.Uint64(body[:seqLen]), Data: body[seqLen:]}, headerLen + int(n), nil
}

func appendRecord(buf []byte, seq uint64, data []byte) []byte {
	var h [headerLen + seqLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(seqLen+len(data)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	c := crc32.Update(crc32.Checksum(h[8:16], castagnoli), castagnoli, data)
	binary.LittleEndian.PutUint32(h[4:8], c)
	buf = append(buf, h[:]...)
	return append(buf, data...)
}

func (q *Queue) newSegment() error {
	p := filepath.Join(q.opts.Dir, fmt.Sprintf("%s%020d%s", segPrefix, q.next, segSuffix))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("queue: new segment: %w", err)
	}
	if err := syncDir(q.opts.Dir); err != nil {
		f.Close()
		return err
	}
	if q.w != nil {
		if q.dirty {
			if err := q.w.Sync(); err != nil {
				f.Close()
				return fmt.Errorf("queue: sync segment: %w", err)
			}
		}
		q.w.Close()
	}
	q.w = f
	q.dirty = false
	q.segs = append(q.segs, &segment{first: q.next, last: q.next - 1, path: p})
	return nil
}

// Append durably (per the sync policy) adds one record per element of data,
// in order. Under DropNewest it returns ErrFull when records were refused.
func (q *Queue) Append(data ...[]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	for _, d := range data {
		if len(d) > MaxRecordBytes {
			return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(d))
		}
	}
	var refused int
	if q.opts.Overflow == DropNewest {
		room := q.opts.MaxRecords - q.lenLocked()
		if room < 0 {
			room = 0
		}
		if len(data) > room {
			refused = len(data) - room
			data = data[:room]
			q.stats.Dropped += uint64(refused)
		}
	}
	if len(data) > 0 {
		a := q.segs[len(q.segs)-1]
		if a.size >= q.opts.SegmentBytes {
			if err := q.newSegment(); err != nil {
				return err
			}
			a = q.segs[len(q.segs)-1]
		}
		var buf []byte
		for i, d := range data {
			buf = appendRecord(buf, q.next+uint64(i), d)
		}
		if n, err := q.w.Write(buf); err != nil {
			// Cut a partial write so the next append starts on a boundary.
			if n > 0 {
				_ = q.w.Truncate(a.size)
			}
			return fmt.Errorf("queue: append: %w", err)
		}
		a.size += int64(len(buf))
		q.next += uint64(len(data))
		a.last = q.next - 1
		q.dirty = true
		if err := q.maybeSync(); err != nil {
			return err
		}
		if q.enforceBound() && len(q.segs) > 1 && q.segs[0].last < q.head {
			if err := q.removeDone(); err != nil {
				return err
			}
		}
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	if refused > 0 {
		return fmt.Errorf("%w: %d", ErrFull, refused)
	}
	return nil
}

func (q *Queue) maybeSync() error {
	switch q.opts.Sync {
	case SyncNever:
		return nil
	case SyncInterval:
		if time.Since(q.lastSync) < q.opts.SyncEvery {
			return nil
		}
	}
	return q.syncLocked()
}

func (q *Queue) syncLocked() error {
	if !q.dirty {
		return nil
	}
	if err := q.w.Sync(); err != nil {
		return fmt.Errorf("queue: sync: %w", err)
	}
	q.dirty = false
	q.lastSync = time.Now()
	return nil
}

// Sync forces appended records to stable storage.
func (q *Queue) Sync() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	return q.syncLocked()
}

// enforceBound drops the oldest records beyond MaxRecords (DropOldest) and
// reports whether it dropped any.
func (q *Queue) enforceBound() bool {
	over := q.lenLocked() - q.opts.MaxRecords
	if over > 0 {
		q.head += uint64(over)
		q.stats.Dropped += uint64(over)
		if q.read < q.head {
			q.read = q.head
			q.closeReader()
		}
	}
	return over > 0
}

func (q *Queue) lenLocked() int { return int(q.next - q.head) }

// Notify returns a channel that receives a value after records are appended.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// Read returns up to max records after the last one handed out, without
// removing them. It returns an empty slice when nothing is pending.
func (q *Queue) Read(max int) ([]Record, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	var out []Record
	for len(out) < max && q.read < q.next {
		if q.rd == nil {
			if err := q.openReader(); err != nil {
				return out, err
			}
		}
		rec, _, err := readRecord(q.rd.br)
		if err == io.EOF {
			if q.rd.seg == len(q.segs)-1 {
				break // caught up with the writer
			}
			q.rd.f.Close()
			q.rd.seg++
			if err := q.openSeg(q.rd.seg); err != nil {
				return out, err
			}
			continue
		}
		if err != nil {
			// A record damaged after Open (disk fault): skip the rest of this segment.
			q.stats.TruncatedBytes++
			if q.rd.seg == len(q.segs)-1 {
				return out, fmt.Errorf("queue: read: %w", err)
			}
			q.rd.f.Close()
			q.rd.seg++
			if err := q.openSeg(q.rd.seg); err != nil {
				return out, err
			}
			continue
		}
		if rec.Seq < q.read {
			continue
		}
		q.read = rec.Seq + 1
		out = append(out, rec)
	}
	return out, nil
}

func (q *Queue) openReader() error {
	i := sort.Search(len(q.segs), func(i int) bool { return q.segs[i].first > q.read }) - 1
	if i < 0 {
		i = 0
	}
	q.rd = &reader{seg: i}
	return q.openSeg(i)
}

func (q *Queue) openSeg(i int) error {
	f, err := os.Open(q.segs[i].path)
	if err != nil {
		q.rd = nil
		return fmt.Errorf("queue: read: %w", err)
	}
	q.rd.seg, q.rd.f = i, f
	if q.rd.br == nil {
		q.rd.br = bufio.NewReaderSize(f, 64<<10)
	} else {
		q.rd.br.Reset(f)
	}
	return nil
}

func (q *Queue) closeReader() {
	if q.rd != nil {
		q.rd.f.Close()
		q.rd = nil
	}
}

// Rewind makes Read start again at the oldest unacknowledged record.
func (q *Queue) Rewind() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.read != q.head {
		q.read = q.head
		q.closeReader()
	}
}

// Ack durably marks every record up to and including seq as delivered and
// removes segments that hold nothing else.
func (q *Queue) Ack(seq uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if seq >= q.next {
		seq = q.next - 1
	}
	if seq+1 > q.head {
		q.head = seq + 1
	}
	if q.read < q.head {
		q.read = q.head
		q.closeReader()
	}
	return q.removeDone()
}

// removeDone persists the cursor at head-1 and deletes fully consumed
// segments other than the active one.
func (q *Queue) removeDone() error {
	if q.head-1 != q.acked {
		if err := writeCursor(q.opts.Dir, q.head-1); err != nil {
			return err
		}
		q.acked = q.head - 1
	}
	for len(q.segs) > 1 && q.segs[0].last < q.head {
		if q.rd != nil {
			if q.rd.seg == 0 {
				q.closeReader()
			} else {
				q.rd.seg--
			}
		}
		if err := os.Remove(q.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("queue: remove segment: %w", err)
		}
		q.segs = q.segs[1:]
	}
	return nil
}

// Stats returns a snapshot of the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Len = q.lenLocked()
	s.Segments = len(q.segs)
	s.Acked = q.acked
	return s
}

// Len returns the number of unacknowledged records.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lenLocked()
}

// Close syncs and closes the queue.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	q.closeReader()
	err := q.syncLocked()
	if cerr := q.w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("queue: close: %w", cerr)
	}
	return err
}

func readCursor(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("queue: read cursor: %w", err)
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		// The cursor is replaced by rename, so this is damage, not a torn write.
		return 0, fmt.Errorf("queue: read cursor %s: %w", path, errCorrupt)
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}

func writeCursor(dir string, seq uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], seq)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	tmp := filepath.Join(dir, cursorName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, cursorName)); err != nil {
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("queue: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("queue: sync dir: %w", err)
	}
	return nil
}
