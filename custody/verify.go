package custody

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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

// parallelFrom is the log length from which Verify splits the work, and
// verifyWorkers how many ranges it splits it into (variables for tests).
var (
	parallelFrom  int64 = 100_000
	verifyWorkers       = func() int { return min(runtime.GOMAXPROCS(0), 4) }
)

// Verify checks the whole log: that sequence numbers run 1, 2, 3... up to
// the chain head without gaps, that each entry's prev_hash is the previous
// entry's hash, that each hash matches the entry's content, that the head's
// hash is the last entry's and that nothing lies beyond the head. It
// reports the first bad entry; an error is returned only when the log
// cannot be read. On a *store.DB long logs are checked in several ranges at
// once (the chain links between ranges are checked afterwards); progress is
// then called from several goroutines, one at a time.
func Verify(ctx context.Context, q store.Querier, progress Progress) (Report, error) {
	start := time.Now()
	var rep Report
	if err := q.QueryRow(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`).Scan(&rep.HeadSeq, &rep.HeadHash); err != nil {
		return rep, fmt.Errorf("custody verify: read head: %w", err)
	}
	head := rep.HeadSeq
	workers := 1
	if _, ok := q.(*store.DB); ok && head >= parallelFrom {
		workers = verifyWorkers()
	}
	var (
		done atomic.Int64
		mu   sync.Mutex
	)
	tick := func() {
		if progress != nil {
			mu.Lock()
			progress(done.Load(), head)
			mu.Unlock()
		}
	}
	results := make([]rangeResult, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo := 1 + head*int64(w)/int64(workers)
		hi := head * int64(w+1) / int64(workers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w], errs[w] = verifyRange(ctx, q, lo, hi, head, &done, tick)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return rep, err
		}
	}
	prev := []byte(GenesisHash)
	for _, r := range results {
		if r.lo > r.hi {
			continue
		}
		if r.firstPrev != nil && !bytes.Equal(r.firstPrev, prev) {
			rep.FirstBad = &Fault{Seq: r.lo, Reason: fmt.Sprintf("prev_hash does not match the hash of entry %d: an entry was edited, deleted or reordered", r.lo-1)}
			break
		}
		if r.fault != nil {
			rep.FirstBad = r.fault
			break
		}
		prev = r.lastHash
	}
	if rep.FirstBad == nil && head > 0 && rep.HeadHash != string(prev) {
		rep.FirstBad = &Fault{Seq: head, Reason: fmt.Sprintf("chain head hash does not match the hash of entry %d", head)}
	}
	if rep.FirstBad == nil {
		var beyond int64
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM custody_log WHERE seq > ? OR seq < 1`, head).Scan(&beyond); err != nil {
			return rep, fmt.Errorf("custody verify: %w", err)
		}
		if beyond > 0 {
			rep.FirstBad = &Fault{Seq: head + 1, Reason: fmt.Sprintf("%d entries lie outside 1..%d, the range the chain head covers: entries were added or renumbered", beyond, head)}
		}
	}
	rep.Entries = head
	if rep.FirstBad != nil {
		rep.Entries = max(rep.FirstBad.Seq-1, 0)
	}
	done.Store(rep.Entries)
	tick()
	rep.OK = rep.FirstBad == nil
	rep.Elapsed = time.Since(start)
	rep.ElapsedMs = rep.Elapsed.Milliseconds()
	return rep, nil
}

// rangeResult is what verifyRange found in entries lo..hi.
type rangeResult struct {
	lo, hi    int64
	firstPrev []byte // stored prev_hash of entry lo, checked by the caller
	lastHash  []byte // hash of entry hi when the range is sound
	fault     *Fault
}

// verifyRange checks entries lo..hi: all present, each linked to the one
// before it inside the range, each hash matching its content.
func verifyRange(ctx context.Context, q store.Querier, lo, hi, head int64, done *atomic.Int64, tick func()) (rangeResult, error) {
	res := rangeResult{lo: lo, hi: hi}
	if lo > hi {
		return res, nil
	}
	rows, err := q.Query(ctx, `SELECT seq, ts_ms, kind, subject, payload, prev_hash, hash FROM custody_log
		WHERE seq >= ? AND seq <= ? ORDER BY seq`, lo, hi)
	if err != nil {
		return res, fmt.Errorf("custody verify: %w", err)
	}
	defer rows.Close()
	fault := func(seq int64, format string, args ...any) {
		res.fault = &Fault{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	var (
		prev    []byte
		prevBuf [64]byte
		want    = lo
		sum     [32]byte
		hexSum  [64]byte
		hs      = newHasher()
		seq, ts int64
		kind    sql.RawBytes
		subject sql.RawBytes
		payload sql.RawBytes
		ph, hh  sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &ts, &kind, &subject, &payload, &ph, &hh); err != nil {
			return res, fmt.Errorf("custody verify: entry after %d: %w", want-1, err)
		}
		if want == lo && seq == lo {
			res.firstPrev = append([]byte(nil), ph...)
		}
		switch {
		case seq != want:
			fault(want, "entry %d is missing (the next stored entry is %d): entries were deleted or renumbered", want, seq)
		case len(hh) != len(hexSum):
			fault(seq, "hash is not %d hex digits: the entry was edited", len(hexSum))
		case seq != lo && !bytes.Equal(ph, prev):
			fault(seq, "prev_hash does not match the hash of entry %d: an entry was edited, deleted or reordered", seq-1)
		default:
			hs.sum(&sum, seq, ts, kind, subject, payload, ph)
			hex.Encode(hexSum[:], sum[:])
			if !bytes.Equal(hexSum[:], hh) {
				fault(seq, "hash does not match the entry's content: the entry was edited")
			}
		}
		if res.fault != nil {
			return res, nil
		}
		copy(prevBuf[:], hh)
		prev = prevBuf[:len(hh)]
		want++
		if (want-lo)%progressEvery == 0 {
			done.Add(progressEvery)
			tick()
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("custody verify: %w", err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("custody verify: %w", err)
	}
	if want <= hi {
		if hi == head {
			fault(want, "chain head is at entry %d but the log ends at entry %d: entries were deleted from the end", head, want-1)
		} else {
			fault(want, "entry %d is missing: entries were deleted or renumbered", want)
		}
		return res, nil
	}
	res.lastHash = append([]byte(nil), prev...)
	return res, nil
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
