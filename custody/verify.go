package custody

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/revloop/revloop/store"
)

// Fault names the first bad entry of a log and why it is bad.
type Fault struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Report is the outcome of Verify.
type Report struct {
	OK        bool          `json:"ok"`
	Entries   int64         `json:"entries"`
	HeadSeq   int64         `json:"head_seq"`
	HeadHash  string        `json:"head_hash"`
	FirstBad  *Fault        `json:"first_bad,omitempty"`
	Elapsed   time.Duration `json:"-"`
	ElapsedMs int64         `json:"elapsed_ms"`
}

// Progress is told how many entries have been checked out of total; it is
// called every few thousand entries and once at the end.
type Progress func(done, total int64)

// progressEvery is how many entries pass between Progress calls.
const progressEvery = 16384

// Verify walks the whole log in sequence order and checks that sequence
// numbers run 1, 2, 3... without gaps, that each entry's prev_hash is the
// previous entry's hash, that each hash matches the entry's content and that
// the chain head matches the last entry. It stops at the first bad entry
// and reports it; an error is returned only when the log cannot be read.
func Verify(ctx context.Context, q store.Querier, progress Progress) (Report, error) {
	start := time.Now()
	var rep Report
	var headHash string
	if err := q.QueryRow(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`).Scan(&rep.HeadSeq, &headHash); err != nil {
		return rep, fmt.Errorf("custody verify: read head: %w", err)
	}
	total := rep.HeadSeq // what the head says the log holds
	rep.HeadHash = headHash
	rows, err := q.Query(ctx, `SELECT seq, ts_ms, kind, subject, payload, prev_hash, hash FROM custody_log ORDER BY seq`)
	if err != nil {
		return rep, fmt.Errorf("custody verify: %w", err)
	}
	defer rows.Close()
	fault := func(seq int64, format string, args ...any) {
		rep.FirstBad = &Fault{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	var (
		prev    = []byte(GenesisHash)
		prevBuf [64]byte
		want    int64 = 1
		sum     [32]byte
		hs      = newHasher()
		hexSum  [64]byte
		seq, ts int64
		kind    sql.RawBytes
		subject sql.RawBytes
		payload sql.RawBytes
		ph, hh  sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &ts, &kind, &subject, &payload, &ph, &hh); err != nil {
			return rep, fmt.Errorf("custody verify: entry after %d: %w", want-1, err)
		}
		switch {
		case seq != want:
			fault(want, "entry %d is missing (the next stored entry is %d): entries were deleted or renumbered", want, seq)
		case len(hh) != len(hexSum):
			fault(seq, "hash is not %d hex digits: the entry was edited", len(hexSum))
		case !bytes.Equal(ph, prev):
			fault(seq, "prev_hash does not match the hash of entry %d: an entry was edited, deleted or reordered", seq-1)
		default:
			hs.sum(&sum, seq, ts, kind, subject, payload, ph)
			hex.Encode(hexSum[:], sum[:])
			if !bytes.Equal(hexSum[:], hh) {
				fault(seq, "hash does not match the entry's content: the entry was edited")
			}
		}
		if rep.FirstBad != nil {
			rep.Entries = want - 1
			break
		}
		copy(prevBuf[:], hh)
		prev = prevBuf[:len(hh)]
		want++
		if progress != nil && (want-1)%progressEvery == 0 {
			progress(want-1, total)
		}
		if (want-1)%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("custody verify: %w", err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("custody verify: %w", err)
	}
	if rep.FirstBad == nil {
		rep.Entries = want - 1
		switch {
		case rep.HeadSeq != rep.Entries:
			fault(rep.Entries+1, "chain head is at entry %d but the log ends at entry %d: entries were deleted from the end", rep.HeadSeq, rep.Entries)
		case headHash != string(prev):
			fault(rep.HeadSeq, "chain head hash does not match the hash of entry %d", rep.HeadSeq)
		}
	}
	if progress != nil {
		progress(rep.Entries, total)
	}
	rep.OK = rep.FirstBad == nil
	rep.Elapsed = time.Since(start)
	rep.ElapsedMs = rep.Elapsed.Milliseconds()
	return rep, nil
}

// Auditor reads a custody log for auditors: verification and entries.
type Auditor struct {
	Q store.Querier
}

// Verify checks the whole log; see the package-level Verify.
func (a Auditor) Verify(ctx context.Context, progress Progress) (Report, error) {
	return Verify(ctx, a.Q, progress)
}

// Entries lists entries; see the package-level Entries.
func (a Auditor) Entries(ctx context.Context, subject string, after int64, limit int) ([]Entry, error) {
	return Entries(ctx, a.Q, subject, after, limit)
}
