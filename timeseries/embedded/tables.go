package embedded

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// The tables: one per measurement, m_<measurement>, holding blocks keyed
// without rowid by (device, bucket, seq). A block holds one device's points
// of one measurement that fall in one bucket and were flushed together, as a
// sequence of (uvarint ts - min_ts, tags, fields). seq grows with every block
// written. A point's identity (device, tag set, timestamp) lives in exactly
// one bucket, so a reader resolves rewrites by merging the copies of an
// identity in seq order, the later fields winning, the way InfluxDB merges
// two writes of one point.

func tableName(measurement string) string { return "m_" + measurement }

func bucketOf(ts int64) int64 {
	w := int64(BucketWidth)
	b := ts / w
	if ts%w < 0 {
		b--
	}
	return b
}

// initTables creates the meta table and the known measurement tables, and
// reads the stored counters. It runs before any other use of the database.
func (s *Store) initTables(ctx context.Context) error {
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	if _, err := s.wdb.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID"); err != nil {
		return fmt.Errorf("create meta: %w", err)
	}
	for k, dst := range map[string]*int64{"seq": &s.seq, "flushed_segment": &s.flushedSeg} {
		err := s.wdb.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", k).Scan(dst)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read %s: %w", k, err)
		}
	}
	names := []string{revloop.MeasurementPosition, revloop.MeasurementFill, revloop.MeasurementRFIDRead,
		revloop.MeasurementWeight, revloop.MeasurementDeviceStatus}
	rows, err := s.wdb.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'm\_%' ESCAPE '\'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, strings.TrimPrefix(n, "m_"))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range names {
		if err := s.createTable(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// createTable creates a measurement's table unless it exists. The caller
// holds s.flushMu (or is Open).
func (s *Store) createTable(ctx context.Context, measurement string) error {
	s.tablesMu.RLock()
	ok := s.tables[measurement]
	s.tablesMu.RUnlock()
	if ok {
		return nil
	}
	tn := tableName(measurement)
	_, err := s.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+tn+` (
	device TEXT NOT NULL,
	bucket INTEGER NOT NULL,
	seq    INTEGER NOT NULL,
	min_ts INTEGER NOT NULL,
	max_ts INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	data   BLOB NOT NULL,
	PRIMARY KEY (device, bucket, seq)
) WITHOUT ROWID`)
	if err != nil {
		return fmt.Errorf("create table %s: %w", tn, err)
	}
	s.tablesMu.Lock()
	s.tables[measurement] = true
	s.tablesMu.Unlock()
	return nil
}

func (s *Store) hasTable(measurement string) bool {
	s.tablesMu.RLock()
	defer s.tablesMu.RUnlock()
	return s.tables[measurement]
}

// apply writes a memtable into the tables in one transaction that also
// records the last segment it covers. The caller holds s.flushMu.
func (s *Store) apply(ctx context.Context, mt *memtable) error {
	keys := make([]memKey, 0, len(mt.series))
	for k := range mt.series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].measurement != keys[j].measurement {
			return keys[i].measurement < keys[j].measurement
		}
		return keys[i].device < keys[j].device
	})
	for _, k := range keys {
		if err := s.createTable(ctx, k.measurement); err != nil {
			return err
		}
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmts := make(map[string]*sql.Stmt)
	seq := s.seq
	var block []byte
	for _, k := range keys {
		st, ok := stmts[k.measurement]
		if !ok {
			st, err = tx.PrepareContext(ctx, "INSERT INTO "+tableName(k.measurement)+" (device, bucket, seq, min_ts, max_ts, n, data) VALUES (?,?,?,?,?,?,?)")
			if err != nil {
				return fmt.Errorf("prepare %s: %w", k.measurement, err)
			}
			defer st.Close()
			stmts[k.measurement] = st
		}
		// Split the series into blocks by bucket, keeping write order inside
		// each bucket.
		es := mt.series[k]
		byBucket := make(map[int64][]entry)
		var order []int64
		for _, e := range es {
			b := bucketOf(e.ts)
			if _, ok := byBucket[b]; !ok {
				order = append(order, b)
			}
			byBucket[b] = append(byBucket[b], e)
		}
		for _, b := range order {
			bes := byBucket[b]
			for len(bes) > 0 {
				chunk := bes[:min(len(bes), maxBlockPoints)]
				bes = bes[len(chunk):]
				minTS, maxTS := chunk[0].ts, chunk[0].ts
				for _, e := range chunk[1:] {
					minTS, maxTS = min(minTS, e.ts), max(maxTS, e.ts)
				}
				block = block[:0]
				for _, e := range chunk {
					block = appendBlockPoint(block, uint64(e.ts-minTS), e.tags, e.fields)
				}
				seq++
				if _, err := st.ExecContext(ctx, string(k.device), b, seq, minTS, maxTS, len(chunk), block); err != nil {
					return fmt.Errorf("insert %s: %w", k.measurement, err)
				}
			}
		}
	}
	const setMeta = "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
	if _, err := tx.ExecContext(ctx, setMeta, "seq", seq); err != nil {
		return fmt.Errorf("store seq: %w", err)
	}
	if _, err := tx.ExecContext(ctx, setMeta, "flushed_segment", int64(mt.lastSeg)); err != nil {
		return fmt.Errorf("store flushed segment: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.seq = seq
	s.flushedSeg = int64(mt.lastSeg)
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// devices lists the devices of a measurement's table with a skip scan over
// the primary key: O(devices * log blocks).
func devices(ctx context.Context, q querier, measurement string) ([]revloop.DeviceID, error) {
	tn := tableName(measurement)
	var out []revloop.DeviceID
	var last string
	for {
		var dev sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT min(device) FROM "+tn+" WHERE device > ?", last).Scan(&dev); err != nil {
			return nil, fmt.Errorf("list devices of %s: %w", measurement, err)
		}
		if !dev.Valid {
			return out, nil
		}
		out = append(out, revloop.DeviceID(dev.String))
		last = dev.String
	}
}

// newest returns a device's newest stored point of a measurement.
func newest(ctx context.Context, q querier, measurement string, d revloop.DeviceID) (timeseries.Point, bool, error) {
	var b sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT max(bucket) FROM "+tableName(measurement)+" WHERE device = ?", string(d)).Scan(&b); err != nil {
		return timeseries.Point{}, false, fmt.Errorf("newest %s of %s: %w", measurement, d, err)
	}
	if !b.Valid {
		return timeseries.Point{}, false, nil
	}
	lo := b.Int64 * int64(BucketWidth)
	es, err := readEntries(ctx, q, measurement, d, lo, lo+int64(BucketWidth))
	if err != nil {
		return timeseries.Point{}, false, err
	}
	ps, err := assemble(measurement, d, es)
	if err != nil || len(ps) == 0 {
		return timeseries.Point{}, false, err
	}
	// assemble orders the points of one instant by encoded tag set; the last
	// is the newest, as in updateLatest.
	return ps[len(ps)-1], true, nil
}

// readEntries returns the stored entries of a device with lo <= ts < hi in
// bucket and seq order.
func readEntries(ctx context.Context, q querier, measurement string, device revloop.DeviceID, lo, hi int64) ([]entry, error) {
	if hi <= lo {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT min_ts, data FROM "+tableName(measurement)+
		" WHERE device = ? AND bucket >= ? AND bucket <= ? AND max_ts >= ? AND min_ts < ? ORDER BY bucket, seq",
		string(device), bucketOf(lo), bucketOf(hi-1), lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []entry
	for rows.Next() {
		var (
			minTS int64
			data  []byte
		)
		if err := rows.Scan(&minTS, &data); err != nil {
			return nil, err
		}
		if err := decodeBlock(data, minTS, func(e entry) {
			if e.ts >= lo && e.ts < hi {
				es = append(es, e)
			}
		}); err != nil {
			return nil, err
		}
	}
	return es, rows.Err()
}

// assemble turns entries in write order into points ordered by time, then
// tag set, merging the copies of each identity.
func assemble(measurement string, d revloop.DeviceID, es []entry) ([]timeseries.Point, error) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].ts != es[j].ts {
			return es[i].ts < es[j].ts
		}
		return bytes.Compare(es[i].tags, es[j].tags) < 0
	})
	out := make([]timeseries.Point, 0, len(es))
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].ts == es[i].ts && bytes.Equal(es[j].tags, es[i].tags) {
			j++
		}
		p, err := decodeEntries(measurement, d, es[i:j])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		i = j
	}
	return out, nil
}

// decodeEntries decodes the copies of one identity, oldest first, merging
// their fields.
func decodeEntries(measurement string, d revloop.DeviceID, es []entry) (timeseries.Point, error) {
	tags, err := decodeTags(es[0].tags)
	if err != nil {
		return timeseries.Point{}, err
	}
	fields, err := decodeFields(es[0].fields)
	if err != nil {
		return timeseries.Point{}, err
	}
	for _, e := range es[1:] {
		f, err := decodeFields(e.fields)
		if err != nil {
			return timeseries.Point{}, err
		}
		fields = mergeFields(fields, f)
	}
	return timeseries.Point{Measurement: measurement, Device: d, Tags: tags, Fields: fields, Time: time.Unix(0, es[0].ts).UTC()}, nil
}

// pruneDevice deletes a device's points older than cutoff: whole buckets are
// dropped, the blocks of the bucket that straddles the cutoff are rewritten
// without their old points. The caller holds s.flushMu.
func (s *Store) pruneDevice(ctx context.Context, m string, d revloop.DeviceID, cutoff int64) (int64, error) {
	tn := tableName(m)
	cb := bucketOf(cutoff)
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(sum(n), 0) FROM "+tn+" WHERE device = ? AND bucket < ?", string(d), cb).Scan(&n); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+tn+" WHERE device = ? AND bucket < ?", string(d), cb); err != nil {
		return 0, err
	}
	type block struct {
		seq, minTS int64
		data       []byte
	}
	rows, err := tx.QueryContext(ctx, "SELECT seq, min_ts, data FROM "+tn+" WHERE device = ? AND bucket = ? AND min_ts < ?", string(d), cb, cutoff)
	if err != nil {
		return 0, err
	}
	var blocks []block
	for rows.Next() {
		var b block
		if err := rows.Scan(&b.seq, &b.minTS, &b.data); err != nil {
			rows.Close()
			return 0, err
		}
		blocks = append(blocks, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, b := range blocks {
		var kept []entry
		if err := decodeBlock(b.data, b.minTS, func(e entry) {
			if e.ts >= cutoff {
				kept = append(kept, e)
			} else {
				n++
			}
		}); err != nil {
			return 0, err
		}
		if len(kept) == 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+tn+" WHERE device = ? AND bucket = ? AND seq = ?", string(d), cb, b.seq); err != nil {
				return 0, err
			}
			continue
		}
		minTS, maxTS := kept[0].ts, kept[0].ts
		for _, e := range kept {
			minTS, maxTS = min(minTS, e.ts), max(maxTS, e.ts)
		}
		var data []byte
		for _, e := range kept {
			data = appendBlockPoint(data, uint64(e.ts-minTS), e.tags, e.fields)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tn+" SET min_ts = ?, max_ts = ?, n = ?, data = ? WHERE device = ? AND bucket = ? AND seq = ?",
			minTS, maxTS, len(kept), data, string(d), cb, b.seq); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}
