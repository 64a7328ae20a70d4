package embedded

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// FileName is the database file the store keeps under its directory, beside
// its write-ahead log segments (wal-*.log).
const FileName = "timeseries.db"

// BucketWidth is the time span of one bucket: a stored block never holds
// points of two buckets, so a range query reads only the buckets it covers.
const BucketWidth = time.Hour

// maxBlockPoints caps the points of one stored block.
const maxBlockPoints = 1024

// Defaults of Options.
const (
	DefaultFlushInterval = 5 * time.Second
	DefaultFlushPoints   = 100_000
)

// ErrClosed is returned (inside a retryable *timeseries.WriteError for
// writes) by a store that has been closed.
var ErrClosed = errors.New("embedded: store closed")

// ErrLocked is returned by Open when another process has the directory open.
var ErrLocked = errors.New("embedded: time-series directory in use by another process")

// Options configure Open. The zero value keeps everything forever, logs
// nothing and uses the defaults above.
type Options struct {
	// Retention is how long each measurement is kept; Prune applies it.
	Retention timeseries.Retention
	// Logger receives start-up, flush failure and prune messages; nil
	// discards them.
	Logger *slog.Logger
	// FlushInterval is how often acknowledged points move from the
	// write-ahead log into the tables (default 5s). Longer intervals make
	// fewer, larger blocks when devices report slowly; durability does not
	// depend on it.
	FlushInterval time.Duration
	// FlushPoints starts a flush as soon as this many points wait (default
	// 100,000). Writes wait when four times as many are pending, so memory
	// stays bounded when the disk falls behind.
	FlushPoints int
}

// Store is the embedded time-series store under one data directory.
//
// Write appends each batch as one CRC-checked record to a write-ahead log
// segment and fsyncs it before returning, then adds the points to an
// in-memory table that readers see at once. A background flush moves the
// pending points into a SQLite database (WAL mode, synchronous=FULL) in one
// transaction per flush, grouped into one block per device and hour, which
// costs far fewer page writes than a row per point; the segments it covered
// are then deleted. Open replays the segments that were not flushed. The
// newest position of every device is kept in memory, loaded at Open and
// updated by Write, so LatestPositions costs O(devices).
type Store struct {
	timeseries.Typed // Positions, FillHistory, RFIDReads, Weights, Statuses

	dir       string
	lock      *os.File // holds the directory's advisory lock
	log       *slog.Logger
	retention timeseries.Retention
	interval  time.Duration
	flushAt   int

	wdb *sql.DB // one connection; used under flushMu (and by Open)
	rdb *sql.DB // readers, concurrent with the writer thanks to WAL

	tablesMu sync.RWMutex
	tables   map[string]bool

	flushMu    sync.Mutex // serialises flushes, prunes and all wdb use
	seq        int64      // last block seq stored; under flushMu
	flushedSeg int64      // last segment stored in the tables; under flushMu

	mu     sync.Mutex // serialises log appends
	seg    *segment
	closed bool
	broken error // set when the log could not be repaired after a failed append

	memMu     sync.RWMutex
	active    *memtable
	imm       *memtable // being flushed, still visible to readers
	flushedCh chan struct{}

	latestMu  sync.RWMutex
	latest    map[revloop.DeviceID]timeseries.Point
	latestPos map[revloop.DeviceID]revloop.Position // latest, converted

	flushes, flushErrors atomic.Int64
	lastFlush            atomic.Int64 // duration of the last successful flush, ns

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Stats are counters and gauges for metrics.
type Stats struct {
	// PendingPoints are acknowledged points not yet flushed into the tables.
	PendingPoints int
	// Flushes and FlushErrors count flush attempts that succeeded and failed.
	Flushes, FlushErrors int64
	// LastFlush is how long the last successful flush took.
	LastFlush time.Duration
	// Devices is the number of devices with a latest position.
	Devices int
}

// Stats returns the store's current counters.
func (s *Store) Stats() Stats {
	s.memMu.RLock()
	pending := s.active.n
	if s.imm != nil {
		pending += s.imm.n
	}
	s.memMu.RUnlock()
	s.latestMu.RLock()
	devs := len(s.latest)
	s.latestMu.RUnlock()
	return Stats{PendingPoints: pending, Flushes: s.flushes.Load(), FlushErrors: s.flushErrors.Load(),
		LastFlush: time.Duration(s.lastFlush.Load()), Devices: devs}
}

var _ timeseries.Store = (*Store)(nil)

type memKey struct {
	measurement string
	device      revloop.DeviceID
}

// memtable holds acknowledged points not yet in the tables, per series in
// write order. Entries point into the log records, which are never modified.
type memtable struct {
	series  map[memKey][]entry
	n       int
	lastSeg uint64
}

func newMemtable() *memtable { return &memtable{series: make(map[memKey][]entry)} }

func (mt *memtable) add(measurement string, device revloop.DeviceID, ts int64, tags, fields []byte) error {
	k := memKey{measurement, device}
	mt.series[k] = append(mt.series[k], entry{ts: ts, tags: tags, fields: fields})
	mt.n++
	return nil
}

// Open opens (creating if needed) the store under dir, replays the
// write-ahead log and loads the index of latest positions.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded open: %w", err)
	}
	if opts.FlushInterval < 0 || opts.FlushPoints < 0 {
		return nil, fmt.Errorf("embedded open: negative flush interval or points")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded open: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// SQLite's page caches live outside the Go heap (and its memory limit):
	// the writer appends to the tails of the tables' B-trees and needs
	// little; every reader connection has its own.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(full)&_pragma=temp_store(memory)"
	wdb, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-8192)&_txlock=immediate")
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded open: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-4096)&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		lock.Close()
		return nil, fmt.Errorf("embedded open: %w", err)
	}
	rdb.SetMaxOpenConns(8)
	s := &Store{
		dir:       dir,
		lock:      lock,
		log:       log,
		retention: opts.Retention,
		interval:  opts.FlushInterval,
		flushAt:   opts.FlushPoints,
		wdb:       wdb,
		rdb:       rdb,
		tables:    make(map[string]bool),
		active:    newMemtable(),
		flushedCh: make(chan struct{}),
		latest:    make(map[revloop.DeviceID]timeseries.Point),
		latestPos: make(map[revloop.DeviceID]revloop.Position),
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if s.interval == 0 {
		s.interval = DefaultFlushInterval
	}
	if s.flushAt == 0 {
		s.flushAt = DefaultFlushPoints
	}
	if err := s.open(ctx); err != nil {
		rdb.Close()
		wdb.Close()
		lock.Close()
		return nil, fmt.Errorf("embedded open %s: %w", dir, err)
	}
	s.Typed = timeseries.Typed{P: s}
	go s.flusher()
	log.Info("time-series store opened", "dir", dir, "devices_with_position", len(s.latest))
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	if err := s.initTables(ctx); err != nil {
		return err
	}
	segs, err := walSegments(s.dir)
	if err != nil {
		return fmt.Errorf("list log: %w", err)
	}
	replay := newMemtable()
	next := uint64(s.flushedSeg) + 1
	for i, n := range segs {
		next = max(next, n+1)
		if int64(n) <= s.flushedSeg {
			if err := os.Remove(walName(s.dir, n)); err != nil {
				return fmt.Errorf("remove flushed log segment: %w", err)
			}
			continue
		}
		off, err := readSegment(s.dir, n, replay.add)
		if errors.Is(err, errTorn) {
			// A torn tail is a write that was never acknowledged.
			if i != len(segs)-1 {
				s.log.Error("damaged time-series log segment; keeping what precedes the damage", "segment", walName(s.dir, n), "err", err)
			}
			if terr := truncateSegment(s.dir, n, off); terr != nil {
				return fmt.Errorf("repair log segment %d: %w", n, terr)
			}
		} else if err != nil {
			return fmt.Errorf("replay log segment %d: %w", n, err)
		}
		replay.lastSeg = n
	}
	if replay.n > 0 {
		s.flushMu.Lock()
		err := s.apply(ctx, replay)
		s.flushMu.Unlock()
		if err != nil {
			return fmt.Errorf("apply replayed log: %w", err)
		}
		s.log.Info("replayed time-series log", "points", replay.n)
		s.removeSegments(replay.lastSeg)
	}
	if s.seg, err = createSegment(s.dir, next); err != nil {
		return fmt.Errorf("create log segment: %w", err)
	}
	return s.loadLatest(ctx)
}

// removeSegments deletes the log segments numbered up to last.
func (s *Store) removeSegments(last uint64) {
	segs, err := walSegments(s.dir)
	if err != nil {
		s.log.Error("list time-series log", "err", err)
		return
	}
	for _, n := range segs {
		if n <= last {
			if err := os.Remove(walName(s.dir, n)); err != nil {
				s.log.Error("remove flushed time-series log segment", "err", err)
			}
		}
	}
}

// Write appends points to the write-ahead log and fsyncs it; when it returns
// nil they are on stable storage and visible to readers. An invalid point
// rejects the whole batch with a non-retryable *timeseries.WriteError;
// storage failures are retryable.
func (s *Store) Write(ctx context.Context, points []timeseries.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := timeseries.ValidateBatch(points); err != nil {
		return err
	}
	rec := make([]byte, recHeader, recHeader+len(points)*160)
	var tags, fields []byte
	for i := range points {
		p := &points[i]
		tags = appendTags(tags[:0], p.Tags)
		fields = appendFields(fields[:0], p.Fields)
		rec = appendWALPoint(rec, p.Measurement, p.Device, p.Time.UnixNano(), tags, fields)
	}
	if len(rec)-recHeader > maxRecord {
		return &timeseries.WriteError{Err: fmt.Errorf("embedded write: batch of %d points encodes to %d bytes, more than %d: split it", len(points), len(rec), maxRecord)}
	}
	rec = frame(rec)
	if err := s.waitBackpressure(ctx); err != nil {
		return &timeseries.WriteError{Err: fmt.Errorf("embedded write: %w", err), Retryable: true}
	}

	if err := ctx.Err(); err != nil {
		return &timeseries.WriteError{Err: fmt.Errorf("embedded write: %w", err), Retryable: true}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return &timeseries.WriteError{Err: ErrClosed, Retryable: true}
	case s.broken != nil:
		return &timeseries.WriteError{Err: fmt.Errorf("embedded write: log unusable: %w", s.broken), Retryable: true}
	}
	if err := s.seg.append(rec); err != nil {
		if errors.Is(err, errLogBroken) {
			s.broken = err
		}
		return &timeseries.WriteError{Err: fmt.Errorf("embedded write: %w", err), Retryable: true}
	}
	s.memMu.Lock()
	err := decodeWALPayload(rec[recHeader:], s.active.add)
	n := s.active.n
	s.memMu.Unlock()
	if err != nil { // cannot happen: the record was just encoded
		return &timeseries.WriteError{Err: fmt.Errorf("embedded write: %w", err)}
	}
	s.updateLatest(points)
	if n >= s.flushAt {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// waitBackpressure blocks while four times FlushPoints points are pending.
func (s *Store) waitBackpressure(ctx context.Context) error {
	for {
		s.memMu.RLock()
		over := s.active.n >= 4*s.flushAt
		ch := s.flushedCh
		s.memMu.RUnlock()
		if !over {
			return nil
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-s.stop:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Store) flusher() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.flush(context.Background()); err != nil {
			s.log.Error("flush time series; retrying", "err", err)
		}
	}
}

// flush moves the pending points into the tables. A failed flush keeps them
// pending (and in the log) and is retried by the next one.
func (s *Store) flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return s.flushLocked(ctx)
}

func (s *Store) flushLocked(ctx context.Context) error {
	s.memMu.RLock()
	imm := s.imm
	s.memMu.RUnlock()
	if imm == nil {
		s.mu.Lock()
		if s.active.n == 0 || s.seg == nil {
			s.mu.Unlock()
			return nil
		}
		next, err := createSegment(s.dir, s.seg.n+1)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("rotate log: %w", err)
		}
		old := s.seg
		s.seg = next
		s.memMu.Lock()
		imm = s.active
		imm.lastSeg = old.n
		s.imm = imm
		s.active = newMemtable()
		s.memMu.Unlock()
		s.mu.Unlock()
		if err := old.f.Close(); err != nil {
			s.log.Error("close time-series log segment", "err", err)
		}
	}
	start := time.Now()
	if err := s.apply(ctx, imm); err != nil {
		s.flushErrors.Add(1)
		return fmt.Errorf("apply: %w", err)
	}
	s.flushes.Add(1)
	s.lastFlush.Store(int64(time.Since(start)))
	s.memMu.Lock()
	s.imm = nil
	close(s.flushedCh)
	s.flushedCh = make(chan struct{})
	s.memMu.Unlock()
	s.removeSegments(imm.lastSeg)
	return nil
}

// updateLatest folds newly written positions into the latest index. Each
// device's winner is copied and converted once per batch.
func (s *Store) updateLatest(points []timeseries.Point) {
	s.latestMu.Lock()
	defer s.latestMu.Unlock()
	var dirty map[revloop.DeviceID]bool
	for _, p := range points {
		if p.Measurement != revloop.MeasurementPosition {
			continue
		}
		cur, ok := s.latest[p.Device]
		switch {
		case !ok || p.Time.After(cur.Time):
		case p.Time.Equal(cur.Time):
			// Of two fixes at one instant with different tag sets, the one
			// with the greater encoded tag set is the newest, as in newest.
			c := bytes.Compare(appendTags(nil, p.Tags), appendTags(nil, cur.Tags))
			if c < 0 {
				continue
			}
			if c == 0 {
				p.Fields = mergeFields(cur.Fields, p.Fields)
			}
		default:
			continue
		}
		s.latest[p.Device] = p
		if dirty == nil {
			dirty = make(map[revloop.DeviceID]bool)
		}
		dirty[p.Device] = true
	}
	for d := range dirty {
		s.setLatestLocked(clonePoint(s.latest[d]))
	}
}

// setLatestLocked records p as its device's latest position; the caller
// holds latestMu.
func (s *Store) setLatestLocked(p timeseries.Point) {
	s.latest[p.Device] = p
	s.latestPos[p.Device] = timeseries.PointPosition(p)
}

func clonePoint(p timeseries.Point) timeseries.Point {
	p.Tags = append([]timeseries.Tag(nil), p.Tags...)
	p.Fields = append([]timeseries.Field(nil), p.Fields...)
	p.Time = p.Time.UTC()
	return p
}

// loadLatest fills the latest-position index from the tables.
func (s *Store) loadLatest(ctx context.Context) error {
	devs, err := devices(ctx, s.wdb, revloop.MeasurementPosition)
	if err != nil {
		return err
	}
	latest := make(map[revloop.DeviceID]timeseries.Point, len(devs))
	for _, d := range devs {
		p, ok, err := newest(ctx, s.wdb, revloop.MeasurementPosition, d)
		if err != nil {
			return err
		}
		if ok {
			latest[d] = p
		}
	}
	s.latestMu.Lock()
	defer s.latestMu.Unlock()
	for _, p := range latest {
		s.setLatestLocked(p)
	}
	return nil
}

// LatestPositions returns the newest fix of every device, or of the named
// ones, from the in-memory index, sorted by device.
func (s *Store) LatestPositions(ctx context.Context, devices ...revloop.DeviceID) ([]revloop.Position, error) {
	s.latestMu.RLock()
	defer s.latestMu.RUnlock()
	var out []revloop.Position
	if len(devices) == 0 {
		out = make([]revloop.Position, 0, len(s.latestPos))
		for _, p := range s.latestPos {
			out = append(out, p)
		}
	} else {
		for _, d := range devices {
			if p, ok := s.latestPos[d]; ok {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b revloop.Position) int { return strings.Compare(string(a.Device), string(b.Device)) })
	out = slices.CompactFunc(out, func(a, b revloop.Position) bool { return a.Device == b.Device })
	return out, nil
}

func nanos(t time.Time) int64 {
	switch {
	case t.Before(timeseries.MinTime):
		return timeseries.MinTime.UnixNano()
	case t.After(timeseries.MaxTime):
		return timeseries.MaxTime.UnixNano()
	}
	return t.UnixNano()
}

// Points returns a device's points of one measurement with from <= ts < to,
// oldest first; points of one instant with different tag sets are ordered by
// tag set.
func (s *Store) Points(ctx context.Context, measurement string, device revloop.DeviceID, from, to time.Time) ([]timeseries.Point, error) {
	lo, hi := nanos(from), nanos(to)
	if hi <= lo {
		return nil, nil
	}
	// Pending points first: a flush that commits between the two reads then
	// shows its points twice (merged as one), never zero times.
	var mem []entry
	k := memKey{measurement, device}
	s.memMu.RLock()
	for _, mt := range []*memtable{s.imm, s.active} {
		if mt == nil {
			continue
		}
		for _, e := range mt.series[k] {
			if e.ts >= lo && e.ts < hi {
				mem = append(mem, e)
			}
		}
	}
	s.memMu.RUnlock()
	var es []entry
	if s.hasTable(measurement) {
		var err error
		if es, err = readEntries(ctx, s.rdb, measurement, device, lo, hi); err != nil {
			if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("embedded query %s: %w", measurement, err)
		}
	}
	ps, err := assemble(measurement, device, append(es, mem...))
	if err != nil {
		return nil, fmt.Errorf("embedded query %s: %w", measurement, err)
	}
	return ps, nil
}

// Prune flushes pending points, then deletes, for every measurement with a
// retention, the points older than now minus that retention. It works device
// by device, one transaction each, so that flushes interleave with a long
// prune.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	if err := s.flush(ctx); err != nil {
		return fmt.Errorf("embedded prune: %w", err)
	}
	ms := make([]string, 0, len(s.retention))
	for m, d := range s.retention {
		if d > 0 && s.hasTable(m) {
			ms = append(ms, m)
		}
	}
	sort.Strings(ms)
	for _, m := range ms {
		cutoff := nanos(now.Add(-s.retention[m]))
		devs, err := devices(ctx, s.rdb, m)
		if err != nil {
			return fmt.Errorf("embedded prune %s: %w", m, err)
		}
		var total int64
		for _, d := range devs {
			s.flushMu.Lock()
			n, err := s.pruneDevice(ctx, m, d, cutoff)
			s.flushMu.Unlock()
			if err != nil {
				return fmt.Errorf("embedded prune %s of %s: %w", m, d, err)
			}
			total += n
			if m == revloop.MeasurementPosition && n > 0 {
				if err := s.refreshLatest(ctx, d, cutoff); err != nil {
					return fmt.Errorf("embedded prune %s of %s: %w", m, d, err)
				}
			}
		}
		if total > 0 {
			s.log.Info("pruned time series", "measurement", m, "before", time.Unix(0, cutoff).UTC(), "points", total)
		}
	}
	return nil
}

// refreshLatest replaces a device's latest position when prune removed it.
func (s *Store) refreshLatest(ctx context.Context, d revloop.DeviceID, cutoff int64) error {
	s.latestMu.RLock()
	cur, ok := s.latest[d]
	s.latestMu.RUnlock()
	if !ok || cur.Time.UnixNano() >= cutoff {
		return nil
	}
	p, found, err := newest(ctx, s.rdb, revloop.MeasurementPosition, d)
	if err != nil {
		return err
	}
	s.latestMu.Lock()
	defer s.latestMu.Unlock()
	if cur2, ok := s.latest[d]; ok && cur2.Time.UnixNano() >= cutoff {
		return nil // a newer fix arrived meanwhile
	}
	if found {
		s.setLatestLocked(p)
	} else {
		delete(s.latest, d)
		delete(s.latestPos, d)
	}
	return nil
}

// Close stops the background flush, flushes what is pending, checkpoints
// the database and closes it. Writes after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done

	var errs []error
	s.flushMu.Lock()
	flushErr := s.flushLocked(context.Background())
	s.flushMu.Unlock()
	if flushErr != nil {
		errs = append(errs, fmt.Errorf("final flush (points stay in the log): %w", flushErr))
	}
	s.mu.Lock()
	if s.seg != nil {
		errs = append(errs, s.seg.f.Close())
		if flushErr == nil && s.seg.size == 0 {
			errs = append(errs, os.Remove(walName(s.dir, s.seg.n)))
		}
		s.seg = nil
	}
	s.mu.Unlock()
	errs = append(errs, s.rdb.Close())
	if _, err := s.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.wdb.Close(), s.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded close: %w", err)
	}
	return nil
}
