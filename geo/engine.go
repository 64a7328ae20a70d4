package geo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/paulmach/orb"
)

// EventKind names a geofence event. The values equal revloop's
// EventFenceEnter, EventFenceExit and EventFenceDwell.
type EventKind string

// The geofence event kinds.
const (
	EventEnter EventKind = "fence_enter"
	EventExit  EventKind = "fence_exit"
	EventDwell EventKind = "fence_dwell"
)

// Event is a geofence event in event time.
//
// Enter carries the time of the first fix of the run of inside fixes that
// confirmed it (or the fence's CreatedAt for a vehicle already inside when
// the fence was created); Exit the time of the first fix of the run of
// fixes beyond the buffer that confirmed it; Dwell the enter time plus the
// fence's minimum dwell, emitted once a fix at or after that time still
// finds the vehicle inside (or within the buffer). ID is a deterministic function of vehicle, fence,
// kind and time, so a consumer can upsert. When a late fix changes history,
// an event emitted earlier may come again with Retracted set: the consumer
// deletes it.
type Event struct {
	ID      string    `json:"id"`
	Kind    EventKind `json:"kind"`
	Vehicle string    `json:"vehicle"`
	Fence   string    `json:"fence"`
	Time    time.Time `json:"ts"`
	// Point is the position of the fix that decided the event.
	Point orb.Point `json:"point"`
	// Since is the enter time (exit and dwell events).
	Since time.Time `json:"since,omitzero"`
	// Duration is the time inside (exit) or the minimum dwell (dwell).
	Duration  time.Duration `json:"-"`
	Retracted bool          `json:"retracted,omitempty"`
}

// MarshalJSON encodes the event with Duration as duration_s (seconds).
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		DurationS float64 `json:"duration_s,omitempty"`
	}{plain(e), e.Duration.Seconds()})
}

func eventID(vehicle, fence string, kind EventKind, t time.Time) string {
	h := sha256.New()
	h.Write([]byte(vehicle))
	h.Write([]byte{0})
	h.Write([]byte(fence))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(t.UnixNano(), 10)))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// EngineOptions tunes a FenceEngine. Zero fields take the defaults shown.
type EngineOptions struct {
	// MinDwell is the default minimum dwell of fences without their own
	// (default 5 min).
	MinDwell time.Duration
	// BufferM is the default exit hysteresis: a fix counts as outside only
	// when it lies more than BufferM meters outside the fence (default 25).
	BufferM float64
	// EnterFixes consecutive fixes inside confirm an enter (default 2).
	EnterFixes int
	// ExitFixes consecutive fixes beyond the buffer, spanning at least
	// ExitMinTime, confirm an exit (defaults 2 and 15 s).
	ExitFixes   int
	ExitMinTime time.Duration
	// Lateness holds fixes in a per-vehicle reorder buffer until a fix
	// Lateness newer has been seen (or Flush), so moderately late fixes
	// cost nothing; 0 processes at once. Fixes later than that trigger a
	// recomputation from the earliest affected fix.
	Lateness time.Duration
	// History is how far back (in event time, behind the newest fix of the
	// vehicle) late fixes are still taken into account (default 6 h); older
	// ones are counted in Stats.TooLate and ignored.
	History time.Duration
	// CellDeg is the grid cell size of the spatial index (default
	// DefaultCellDeg).
	CellDeg float64
}

// ErrBadOptions is returned by the Validate methods of option structs.
var ErrBadOptions = errors.New("invalid options")

// Validate reports negative or NaN settings (zero means default).
func (o EngineOptions) Validate() error {
	switch {
	case o.MinDwell < 0 || o.ExitMinTime < 0 || o.Lateness < 0 || o.History < 0:
		return fmt.Errorf("fence engine: %w: negative duration", ErrBadOptions)
	case o.EnterFixes < 0 || o.ExitFixes < 0:
		return fmt.Errorf("fence engine: %w: negative fix count", ErrBadOptions)
	case math.IsNaN(o.BufferM) || math.IsNaN(o.CellDeg) || o.CellDeg < 0 || o.CellDeg > 1:
		return fmt.Errorf("fence engine: %w: buffer_m or cell size", ErrBadOptions)
	}
	return nil
}

func (o *EngineOptions) defaults() {
	if o.MinDwell <= 0 {
		o.MinDwell = 5 * time.Minute
	}
	if o.BufferM == 0 {
		o.BufferM = 25
	}
	if o.EnterFixes <= 0 {
		o.EnterFixes = 2
	}
	if o.ExitFixes <= 0 {
		o.ExitFixes = 2
	}
	if o.ExitMinTime == 0 {
		o.ExitMinTime = 15 * time.Second
	}
	if o.History <= 0 {
		o.History = 6 * time.Hour
	}
}

// EngineStats counts what the engine did with its input.
type EngineStats struct {
	Fixes      int64 // fixes processed
	Duplicates int64 // fixes with a time already seen for the vehicle
	Invalid    int64 // fixes with coordinates out of range
	TooLate    int64 // fixes older than the retained history
	Recomputes int64 // recomputations caused by late fixes or new fences
	Retracted  int64 // events retracted by recomputations
}

// FenceEngine turns fixes into geofence events, per (vehicle, fence), in
// event time. It is safe for concurrent use.
type FenceEngine struct {
	mu       sync.Mutex
	opts     EngineOptions
	ix       *Index
	created  []*Fence // fences with a CreatedAt, sorted by it
	vehicles map[string]*vehicle
	stats    EngineStats
	scratch  []*Fence
}

type fixRec struct {
	t time.Time
	p orb.Point
}

// fstate is the state of one (vehicle, fence) pair.
type fstate struct {
	inside      bool
	since       time.Time
	dwellDone   bool
	runIn       int
	runInStart  time.Time
	runInPoint  orb.Point
	runOut      int
	runOutStart time.Time
}

// vstate is the state of one vehicle at time t.
type vstate struct {
	t       time.Time
	havePos bool
	pos     orb.Point
	fences  map[string]*fstate
}

func (s *vstate) clone() vstate {
	c := vstate{t: s.t, havePos: s.havePos, pos: s.pos, fences: make(map[string]*fstate, len(s.fences))}
	for k, v := range s.fences {
		cp := *v
		c.fences[k] = &cp
	}
	return c
}

type snap struct {
	n  int // state after processing hist[:n]
	st vstate
}

type emitted struct {
	ev        Event
	decidedAt time.Time
	retracted bool
}

type vehicle struct {
	id      string
	hist    []fixRec
	snaps   []snap
	cur     vstate
	pending []fixRec
	maxSeen time.Time
	emitted map[string]*emitted
}

const snapEvery = 64

// histCap is the initial capacity of a vehicle's history (40 kB): about
// three hours of fixes at a 10 s interval. The retained history (6 h by
// default) is longer, so a vehicle reporting every 20 s or more often uses
// the memory anyway; starting there spares the copies of growing from
// empty after each start.
const histCap = 1024

// touches reports whether any retained fix of the vehicle lies in b.
func (v *vehicle) touches(b orb.Bound) bool {
	if v.cur.havePos && b.Contains(v.cur.pos) {
		return true
	}
	for _, fx := range v.hist {
		if b.Contains(fx.p) {
			return true
		}
	}
	return false
}

// NewFenceEngine returns an engine over fences (which it does not copy;
// do not change them afterwards). Options that fail Validate take their
// defaults; call Validate first to report them.
func NewFenceEngine(fences []*Fence, opts EngineOptions) *FenceEngine {
	opts.defaults()
	e := &FenceEngine{opts: opts, ix: NewIndex(opts.CellDeg), vehicles: map[string]*vehicle{}}
	for _, f := range fences {
		e.addFenceLocked(f)
	}
	return e
}

// Stats returns counters of the engine's input.
func (e *FenceEngine) Stats() EngineStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func (e *FenceEngine) addFenceLocked(f *Fence) {
	if old := e.ix.Fence(f.ID); old != nil {
		e.removeCreated(old)
	}
	e.ix.Add(f)
	if !f.CreatedAt.IsZero() {
		i := sort.Search(len(e.created), func(i int) bool { return e.created[i].CreatedAt.After(f.CreatedAt) })
		e.created = append(e.created, nil)
		copy(e.created[i+1:], e.created[i:])
		e.created[i] = f
	}
}

func (e *FenceEngine) removeCreated(f *Fence) {
	for i, c := range e.created {
		if c == f {
			e.created = append(e.created[:i], e.created[i+1:]...)
			return
		}
	}
}

// AddFence adds (or replaces) a fence and returns the events it causes: a
// vehicle whose last known position at the fence's CreatedAt lies inside it
// enters at CreatedAt; with a zero CreatedAt the fence is taken to have
// always existed and each vehicle's retained history is re-evaluated.
func (e *FenceEngine) AddFence(f *Fence) ([]Event, error) {
	if err := f.init(); err != nil {
		return nil, fmt.Errorf("add fence: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ix.Fence(f.ID) != nil {
		e.dropFenceState(f.ID)
	}
	e.addFenceLocked(f)
	var out []Event
	for _, id := range e.vehicleIDs() {
		v := e.vehicles[id]
		from := f.CreatedAt
		if from.IsZero() || (len(v.hist) > 0 && from.Before(v.hist[0].t)) {
			from = time.Time{}
			if len(v.hist) > 0 {
				from = v.hist[0].t
			}
		}
		if !v.touches(f.Bound()) {
			continue // never near the fence: no event, no state to rebuild
		}
		until := v.cur.t
		if f.CreatedAt.After(until) {
			until = f.CreatedAt
		}
		out = append(out, e.recompute(v, from, until)...)
	}
	return out, nil
}

// RemoveFence removes a fence. It emits no exit events: the fence no longer
// exists. It reports whether the fence was present.
func (e *FenceEngine) RemoveFence(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.ix.Fence(id)
	if f == nil {
		return false
	}
	e.removeCreated(f)
	e.ix.Remove(id)
	e.dropFenceState(id)
	return true
}

func (e *FenceEngine) dropFenceState(id string) {
	for _, v := range e.vehicles {
		delete(v.cur.fences, id)
		for i := range v.snaps {
			delete(v.snaps[i].st.fences, id)
		}
		for k, em := range v.emitted {
			if em.ev.Fence == id {
				delete(v.emitted, k)
			}
		}
	}
}

func (e *FenceEngine) vehicleIDs() []string {
	ids := make([]string, 0, len(e.vehicles))
	for id := range e.vehicles {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Observe feeds one fix of a vehicle and returns the events it settles.
// Duplicate fixes (same vehicle and time) are ignored, so redelivery is
// harmless.
func (e *FenceEngine) Observe(vehicleID string, t time.Time, pt orb.Point) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !validPoint(pt) || t.IsZero() {
		e.stats.Invalid++
		return nil
	}
	v := e.vehicles[vehicleID]
	if v == nil {
		v = &vehicle{id: vehicleID, emitted: map[string]*emitted{}, cur: vstate{fences: map[string]*fstate{}},
			hist: make([]fixRec, 0, histCap)}
		v.snaps = []snap{{n: 0, st: v.cur.clone()}}
		e.vehicles[vehicleID] = v
	}
	fx := fixRec{t: t, p: pt}
	if t.After(v.maxSeen) {
		v.maxSeen = t
	}
	e.stats.Fixes++
	var out []Event
	ahead := !v.cur.havePos || t.After(v.cur.t)
	switch {
	case !ahead:
		out = e.late(v, fx)
	case e.opts.Lateness > 0:
		if !insertFix(&v.pending, fx) {
			e.stats.Duplicates++
		}
	default:
		out = e.apply(v, fx)
	}
	if e.opts.Lateness > 0 {
		out = append(out, e.release(v, v.maxSeen.Add(-e.opts.Lateness))...)
	}
	e.prune(v)
	return out
}

// Flush releases every buffered fix with a time at or before now (use a
// time far in the future at the end of a stream) and returns the events
// they settle.
func (e *FenceEngine) Flush(now time.Time) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, id := range e.vehicleIDs() {
		out = append(out, e.release(e.vehicles[id], now)...)
	}
	return out
}

// insertFix inserts fx into the sorted slice and reports false for a
// duplicate time.
func insertFix(s *[]fixRec, fx fixRec) bool {
	i := sort.Search(len(*s), func(i int) bool { return !(*s)[i].t.Before(fx.t) })
	if i < len(*s) && (*s)[i].t.Equal(fx.t) {
		return false
	}
	*s = append(*s, fixRec{})
	copy((*s)[i+1:], (*s)[i:])
	(*s)[i] = fx
	return true
}

func (e *FenceEngine) release(v *vehicle, upTo time.Time) []Event {
	var out []Event
	n := 0
	for n < len(v.pending) && !v.pending[n].t.After(upTo) {
		out = append(out, e.apply(v, v.pending[n])...)
		n++
	}
	v.pending = v.pending[n:]
	return out
}

// apply processes a fix newer than all of the vehicle's history.
func (e *FenceEngine) apply(v *vehicle, fx fixRec) []Event {
	var evs []Event
	decided := e.step(v.id, &v.cur, fx, &evs)
	v.hist = append(v.hist, fx)
	if len(v.hist)-v.snaps[len(v.snaps)-1].n >= snapEvery {
		v.snaps = append(v.snaps, snap{n: len(v.hist), st: v.cur.clone()})
	}
	return e.record(v, evs, decided)
}

// record filters out events already emitted and remembers the others.
func (e *FenceEngine) record(v *vehicle, evs []Event, decided []time.Time) []Event {
	out := evs[:0]
	for i, ev := range evs {
		if em, ok := v.emitted[ev.ID]; ok && !em.retracted {
			// Already emitted; the history that decides it may have
			// changed, so remember when it is decided now.
			em.decidedAt = decided[i]
			continue
		}
		v.emitted[ev.ID] = &emitted{ev: ev, decidedAt: decided[i]}
		out = append(out, ev)
	}
	return out
}

// late handles a fix not newer than the vehicle's history.
func (e *FenceEngine) late(v *vehicle, fx fixRec) []Event {
	if !fx.t.After(v.snaps[0].st.t) && v.snaps[0].st.havePos {
		e.stats.TooLate++
		return nil
	}
	if !insertFix(&v.hist, fx) {
		e.stats.Duplicates++
		return nil
	}
	return e.recomputeInserted(v, fx.t, v.cur.t)
}

// recompute re-evaluates a vehicle's retained history from time from (for
// a changed fence set) up to until.
func (e *FenceEngine) recompute(v *vehicle, from, until time.Time) []Event {
	return e.recomputeInserted(v, from, until)
}

// recomputeInserted replays the vehicle's history from the last snapshot
// before from and reconciles the events with those already emitted.
func (e *FenceEngine) recomputeInserted(v *vehicle, from, until time.Time) []Event {
	e.stats.Recomputes++
	j := len(v.snaps) - 1
	for j > 0 && !v.snaps[j].st.t.Before(from) {
		j--
	}
	base := v.snaps[j]
	v.snaps = v.snaps[:j+1]
	st := base.st.clone()
	var evs []Event
	var decided []time.Time
	for i := base.n; i < len(v.hist); i++ {
		d := e.step(v.id, &st, v.hist[i], &evs)
		decided = append(decided, d...)
		if i+1-v.snaps[len(v.snaps)-1].n >= snapEvery {
			v.snaps = append(v.snaps, snap{n: i + 1, st: st.clone()})
		}
	}
	decided = append(decided, e.advance(v.id, &st, until, &evs)...)
	v.cur = st
	// Reconcile: events decided after the base snapshot that were emitted
	// before but are not produced now are retracted.
	fresh := make(map[string]bool, len(evs))
	for _, ev := range evs {
		fresh[ev.ID] = true
	}
	var out []Event
	ids := make([]string, 0)
	for id, em := range v.emitted {
		if !em.retracted && em.decidedAt.After(base.st.t) && !fresh[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		em := v.emitted[id]
		if e.ix.Fence(em.ev.Fence) == nil {
			continue
		}
		em.retracted = true
		r := em.ev
		r.Retracted = true
		out = append(out, r)
		e.stats.Retracted++
	}
	return append(out, e.record(v, evs, decided)...)
}

// advance applies the creation of fences with CreatedAt in (st.t, until]
// to a vehicle at its last known position.
func (e *FenceEngine) advance(vid string, st *vstate, until time.Time, evs *[]Event) []time.Time {
	var decided []time.Time
	if !until.After(st.t) {
		return nil
	}
	i := sort.Search(len(e.created), func(i int) bool { return e.created[i].CreatedAt.After(st.t) })
	for ; i < len(e.created) && !e.created[i].CreatedAt.After(until); i++ {
		f := e.created[i]
		if !st.havePos || st.fences[f.ID] != nil {
			continue
		}
		if f.Contains(st.pos) {
			st.fences[f.ID] = &fstate{inside: true, since: f.CreatedAt}
			*evs = append(*evs, Event{ID: eventID(vid, f.ID, EventEnter, f.CreatedAt), Kind: EventEnter, Vehicle: vid,
				Fence: f.ID, Time: f.CreatedAt, Point: st.pos})
			decided = append(decided, f.CreatedAt)
		}
	}
	st.t = until
	return decided
}

// step runs the state machine for one fix in time order and returns, for
// each event appended, the time it was decided.
func (e *FenceEngine) step(vid string, st *vstate, fx fixRec, evs *[]Event) []time.Time {
	// Fences created before this fix see the vehicle at its last position
	// (without such fences, advancing would only move st.t, set below).
	var decided []time.Time
	if len(e.created) > 0 {
		decided = e.advance(vid, st, fx.t.Add(-1), evs)
	}
	t, p := fx.t, fx.p
	st.t, st.pos, st.havePos = t, p, true
	o := &e.opts
	cands := e.ix.Candidates(p, e.scratch[:0])
	visit := func(f *Fence) {
		if !f.CreatedAt.IsZero() && t.Before(f.CreatedAt) {
			return
		}
		fs := st.fences[f.ID]
		in := f.Contains(p)
		if fs == nil {
			if !in {
				return
			}
			fs = &fstate{}
			st.fences[f.ID] = fs
		}
		if !fs.inside {
			if !in {
				delete(st.fences, f.ID)
				return
			}
			if fs.runIn == 0 {
				fs.runInStart, fs.runInPoint = t, p
			}
			fs.runIn++
			if fs.runIn >= o.EnterFixes {
				*fs = fstate{inside: true, since: fs.runInStart}
				*evs = append(*evs, Event{ID: eventID(vid, f.ID, EventEnter, fs.since), Kind: EventEnter, Vehicle: vid,
					Fence: f.ID, Time: fs.since, Point: fs.runInPoint})
				decided = append(decided, t)
				e.checkDwell(vid, f, fs, t, p, evs, &decided)
			}
			return
		}
		buffer := f.BufferM
		if buffer == 0 {
			buffer = o.BufferM
		}
		out := !in && f.OutsideDistanceM(p) > math.Max(buffer, 0)
		if !out {
			fs.runOut = 0
			e.checkDwell(vid, f, fs, t, p, evs, &decided)
			return
		}
		if fs.runOut == 0 {
			fs.runOutStart = t
		}
		fs.runOut++
		if fs.runOut >= o.ExitFixes && t.Sub(fs.runOutStart) >= o.ExitMinTime {
			*evs = append(*evs, Event{ID: eventID(vid, f.ID, EventExit, fs.runOutStart), Kind: EventExit, Vehicle: vid,
				Fence: f.ID, Time: fs.runOutStart, Point: p, Since: fs.since, Duration: fs.runOutStart.Sub(fs.since)})
			decided = append(decided, t)
			delete(st.fences, f.ID)
		}
	}
	for _, f := range cands {
		visit(f)
	}
	if len(st.fences) > 0 && !allCandidates(st.fences, cands) {
		ids := make([]string, 0, len(st.fences))
		for id := range st.fences {
			if !containsID(cands, id) {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			if f := e.ix.Fence(id); f != nil {
				visit(f)
			} else {
				delete(st.fences, id)
			}
		}
	}
	e.scratch = cands[:0]
	return decided
}

// allCandidates reports whether every fence with state is among the
// candidates (which are distinct), so none is left to visit.
func allCandidates(states map[string]*fstate, cands []*Fence) bool {
	if len(cands) < len(states) {
		return false
	}
	n := 0
	for _, f := range cands {
		if _, ok := states[f.ID]; ok {
			n++
		}
	}
	return n == len(states)
}

func containsID(fs []*Fence, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

func (e *FenceEngine) checkDwell(vid string, f *Fence, fs *fstate, t time.Time, p orb.Point, evs *[]Event, decided *[]time.Time) {
	if fs.dwellDone {
		return
	}
	md := f.MinDwell
	if md <= 0 {
		md = e.opts.MinDwell
	}
	if t.Sub(fs.since) < md {
		return
	}
	fs.dwellDone = true
	at := fs.since.Add(md)
	*evs = append(*evs, Event{ID: eventID(vid, f.ID, EventDwell, at), Kind: EventDwell, Vehicle: vid, Fence: f.ID,
		Time: at, Point: p, Since: fs.since, Duration: md})
	*decided = append(*decided, t)
}

// prune drops history, snapshots and emitted records older than the
// retained history.
func (e *FenceEngine) prune(v *vehicle) {
	cutoff := v.maxSeen.Add(-e.opts.History)
	j := 0
	for k := 1; k < len(v.snaps) && v.snaps[k].n > 0 && v.hist[v.snaps[k].n-1].t.Before(cutoff); k++ {
		j = k // snapshots are in time order: stop at the first one to keep
	}
	if j == 0 {
		return
	}
	drop := v.snaps[j].n
	// Reslice rather than copy: append moves the retained part when the
	// slices grow, so dropping costs nothing per fix.
	v.hist = v.hist[drop:]
	clear(v.snaps[:j]) // let the dropped states' maps go
	v.snaps = v.snaps[j:]
	for i := range v.snaps {
		v.snaps[i].n -= drop
	}
	keep := v.snaps[0].st.t
	for id, em := range v.emitted {
		if em.decidedAt.Before(keep) {
			delete(v.emitted, id)
		}
	}
}
