package custody

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// GenesisHash is the previous hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// insertChunk is how many entries one INSERT statement carries.
const insertChunk = 200

// hashDomain separates custody hashes from any other SHA-256 use.
const hashDomain = "revloop.custody.v1"

// ErrEmptyKind is returned when an entry has no kind or subject.
var ErrEmptyKind = fmt.Errorf("custody: kind and subject are required: %w", revloop.ErrInvalid)

// Entry is one link of the chain.
type Entry struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"ts"`
	Kind     string          `json:"kind"`
	Subject  string          `json:"subject"`
	Payload  json.RawMessage `json:"payload"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// Record is what a caller appends: the kind of event (for example
// "lot.transition"), the subject it concerns (for example a lot or ticket
// id) and a payload that is stored as canonical JSON.
type Record struct {
	Kind    string
	Subject string
	Payload any
}

// Log appends to the custody log. Its zero value is not usable; use New.
type Log struct {
	now func() time.Time
}

// New returns a Log whose entries are stamped by now (time.Now when nil).
func New(now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{now: now}
}

// Canonical returns the canonical JSON form of v: object keys sorted, no
// insignificant white space, numbers as written.
func Canonical(v any) ([]byte, error) {
	var raw []byte
	switch t := v.(type) {
	case json.RawMessage:
		raw = t
	case []byte:
		raw = t
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("custody canonical: %w", err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("custody canonical: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("custody canonical: trailing data after the JSON value")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return nil, fmt.Errorf("custody canonical: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Hash computes an entry's hash: SHA-256 over a domain tag and, each
// prefixed by its length as 8 big-endian bytes, the decimal sequence number,
// the decimal Unix milliseconds, kind, subject, payload and previous hash.
// It is returned as lower-case hex.
func Hash(seq, tsMs int64, kind, subject string, payload []byte, prevHash string) string {
	var sum [32]byte
	newHasher().sum(&sum, seq, tsMs, []byte(kind), []byte(subject), payload, []byte(prevHash))
	return hex.EncodeToString(sum[:])
}

// hasher computes entry hashes reusing one digest and scratch buffer.
type hasher struct {
	h       hash.Hash
	scratch [32]byte
}

func newHasher() *hasher { return &hasher{h: sha256.New()} }

func (x *hasher) field(b []byte) {
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(b)))
	x.h.Write(l[:])
	x.h.Write(b)
}

func (x *hasher) sum(out *[32]byte, seq, tsMs int64, kind, subject, payload, prevHash []byte) {
	x.h.Reset()
	x.h.Write([]byte(hashDomain))
	x.field(strconv.AppendInt(x.scratch[:0], seq, 10))
	x.field(strconv.AppendInt(x.scratch[:0], tsMs, 10))
	x.field(kind)
	x.field(subject)
	x.field(payload)
	x.field(prevHash)
	x.h.Sum(out[:0])
}

// Append adds one entry in tx, which must be a transaction that also holds
// the change the entry records. See AppendBatch.
func (l *Log) Append(ctx context.Context, tx store.Querier, r Record) (Entry, error) {
	es, err := l.AppendBatch(ctx, tx, []Record{r})
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// AppendBatch adds entries in order in tx, which must be a transaction: the
// head row is updated first, so concurrent appenders wait for (SQLite) or
// conflict with (PostgreSQL SERIALIZABLE, retried by store.InTx) each other
// and the chain never forks.
func (l *Log) AppendBatch(ctx context.Context, tx store.Querier, rs []Record) ([]Entry, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	payloads := make([][]byte, len(rs))
	for i, r := range rs {
		if r.Kind == "" || r.Subject == "" {
			return nil, ErrEmptyKind
		}
		p, err := Canonical(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("custody append %s %s: %w", r.Kind, r.Subject, err)
		}
		payloads[i] = p
	}
	var headSeq int64
	var prev string
	if err := tx.QueryRow(ctx, `UPDATE custody_head SET seq = seq + ? WHERE id = 1 RETURNING seq, hash`,
		int64(len(rs))).Scan(&headSeq, &prev); err != nil {
		if errors.Is(err, errNoRows) {
			return nil, fmt.Errorf("custody append: chain head missing (database not migrated?)")
		}
		return nil, fmt.Errorf("custody append: lock head: %w", err)
	}
	seq := headSeq - int64(len(rs))
	ts := store.Millis(l.now())
	out := make([]Entry, len(rs))
	for i, r := range rs {
		seq++
		h := Hash(seq, ts, r.Kind, r.Subject, payloads[i], prev)
		out[i] = Entry{Seq: seq, Time: store.FromMillis(ts), Kind: r.Kind, Subject: r.Subject,
			Payload: json.RawMessage(payloads[i]), PrevHash: prev, Hash: h}
		prev = h
	}
	for lo := 0; lo < len(out); lo += insertChunk {
		hi := min(lo+insertChunk, len(out))
		var b strings.Builder
		b.WriteString(`INSERT INTO custody_log (seq, ts_ms, kind, subject, payload, prev_hash, hash) VALUES `)
		args := make([]any, 0, 7*(hi-lo))
		for i, e := range out[lo:hi] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?, ?, ?, ?, ?, ?, ?)`)
			args = append(args, e.Seq, ts, e.Kind, e.Subject, string(e.Payload), e.PrevHash, e.Hash)
		}
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return nil, fmt.Errorf("custody append seq %d: %w", out[lo].Seq, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE custody_head SET hash = ? WHERE id = 1`, prev); err != nil {
		return nil, fmt.Errorf("custody append: move head: %w", err)
	}
	return out, nil
}

// Entries returns the entries about subject (all when subject is empty),
// oldest first, at most limit of them (no limit when limit <= 0) after seq
// after.
func Entries(ctx context.Context, q store.Querier, subject string, after int64, limit int) ([]Entry, error) {
	query := `SELECT seq, ts_ms, kind, subject, payload, prev_hash, hash FROM custody_log WHERE seq > ?`
	args := []any{after}
	if subject != "" {
		query += ` AND subject = ?`
		args = append(args, subject)
	}
	query += ` ORDER BY seq`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("custody entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var ms int64
		var p string
		if err := rows.Scan(&e.Seq, &ms, &e.Kind, &e.Subject, &p, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("custody entries: %w", err)
		}
		e.Time, e.Payload = store.FromMillis(ms), json.RawMessage(p)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("custody entries: %w", err)
	}
	return out, nil
}

var errNoRows = sql.ErrNoRows
