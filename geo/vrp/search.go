package vrp

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// Options control a search.
type Options struct {
	// TimeLimit bounds the search; zero means 10 s unless Iterations is set.
	TimeLimit time.Duration
	// Iterations, when positive, fixes the number of ruin-and-recreate
	// iterations per thread; the annealing schedule then follows iterations
	// instead of the clock, which makes the result depend only on Seed.
	Iterations int
	Seed       uint64
	// Threads runs that many independent searches (seeds Seed, Seed+1, ...)
	// and keeps the best; zero means 1.
	Threads int
	// Progress, when set, is called about ten times a second from the first
	// thread.
	Progress func(Progress)
	// Initial, when set, is the starting solution (warm start).
	Initial *Solution
}

// Progress is a snapshot of a running search.
type Progress struct {
	Elapsed   time.Duration
	Iteration int
	Best      float64
	Fraction  float64 // of the budget used, 0..1
}

// solution is the engine's working solution; routes are shared between
// solutions and copied on first write (owner marks the writer).
type solution struct {
	id     uint64
	routes []*route // one per vehicle
	where  []int32  // vehicle serving a node, or -1
	absent []int32
	used   []int32 // vehicles with a non-empty route
	cost   float64
}

// worker runs one search thread; it owns its random source and scratch.
type worker struct {
	e      *engine
	rng    *rnd
	nextID uint64
	stamp  []uint32
	gen    uint32
	// scratch
	removed  []int32
	cands    []int32
	set      []int32
	list     []int32
	spare    []int32 // an empty vehicle per class, or -1
	spareCur []int
	keys     []float64
	// recycled objects
	freeSols   []*solution
	freeRoutes []*route
	ls         lsState
}

// lsK is the number of neighbours local search tries per customer.
const lsK = 20

func (w *worker) newID() uint64 { w.nextID++; return w.nextID }

func (w *worker) clone(s *solution) *solution {
	var c *solution
	if k := len(w.freeSols); k > 0 {
		c = w.freeSols[k-1]
		w.freeSols = w.freeSols[:k-1]
		c.id, c.cost = w.newID(), s.cost
		c.routes = append(c.routes[:0], s.routes...)
		c.where = append(c.where[:0], s.where...)
		c.absent = append(c.absent[:0], s.absent...)
		c.used = append(c.used[:0], s.used...)
		return c
	}
	c = &solution{id: w.newID(), cost: s.cost}
	c.routes = append([]*route(nil), s.routes...)
	c.where = append([]int32(nil), s.where...)
	c.absent = append([]int32(nil), s.absent...)
	c.used = append([]int32(nil), s.used...)
	return c
}

// release recycles a solution nobody references any more; with owned, the
// routes it owns are recycled too (only safe when no other solution was
// cloned from it).
func (w *worker) release(s *solution, owned bool) {
	if owned {
		for _, r := range s.routes {
			if r.owner == s.id {
				w.freeRoutes = append(w.freeRoutes, r)
			}
		}
	}
	w.freeSols = append(w.freeSols, s)
}

// mut returns vehicle v's route, copied first if s does not own it.
func (w *worker) mut(s *solution, v int32) *route {
	r := s.routes[v]
	if r.owner == s.id {
		return r
	}
	var nr *route
	if k := len(w.freeRoutes); k > 0 {
		nr = w.freeRoutes[k-1]
		w.freeRoutes = w.freeRoutes[:k-1]
	} else {
		nr = &route{}
	}
	nr.v, nr.owner, nr.load, nr.dist, nr.time, nr.cost, nr.ok = r.v, s.id, r.load, r.dist, r.time, r.cost, r.ok
	nr.nodes = append(nr.nodes[:0], r.nodes...)
	nr.edge = append(nr.edge[:0], r.edge...)
	if r.est != nil {
		nr.est = append(nr.est[:0], r.est...)
		nr.lat = append(nr.lat[:0], r.lat...)
	}
	if r.pre != nil {
		nr.pre = append(nr.pre[:0], r.pre...)
	}
	s.routes[v] = nr
	return nr
}

func (w *worker) emptySolution() *solution {
	e := w.e
	s := &solution{id: w.newID(), where: make([]int32, e.n)}
	for i := range s.where {
		s.where[i] = -1
	}
	s.routes = make([]*route, len(e.veh))
	for k := range e.veh {
		r := &route{v: int32(k), owner: s.id}
		e.refresh(r)
		s.routes[k] = r
	}
	for _, c := range e.active {
		s.absent = append(s.absent, c)
		s.cost += e.pen[c]
	}
	return s
}

// fromSolution loads a Solution (node indices, yard visits ignored);
// pickups that do not fit stay absent.
func (w *worker) fromSolution(init *Solution) *solution {
	e := w.e
	s := w.emptySolution()
	activeSet := make([]bool, e.n)
	for _, c := range e.active {
		activeSet[c] = true
	}
	placed := make([]bool, e.n)
	for _, rt := range init.Routes {
		if rt.Vehicle < 0 || rt.Vehicle >= len(e.veh) || len(s.routes[rt.Vehicle].nodes) > 0 {
			continue
		}
		r := w.mut(s, int32(rt.Vehicle))
		for _, c := range rt.Stops {
			if c >= 0 && c < e.n && activeSet[c] && !placed[c] {
				r.nodes = append(r.nodes, int32(c))
				placed[c] = true
			}
		}
		e.refresh(r)
		if !r.ok {
			for _, c := range r.nodes {
				placed[c] = false
			}
			r.nodes = r.nodes[:0]
			e.refresh(r)
		}
		for _, c := range r.nodes {
			s.where[c] = int32(rt.Vehicle)
		}
	}
	w.recost(s)
	return s
}

func (w *worker) recost(s *solution) {
	e := w.e
	s.used = s.used[:0]
	for k, r := range s.routes {
		if len(r.nodes) > 0 {
			s.used = append(s.used, int32(k))
		}
	}
	s.absent = s.absent[:0]
	s.cost = 0
	for _, c := range e.active {
		if s.where[c] < 0 {
			s.absent = append(s.absent, c)
			s.cost += e.pen[c]
		}
	}
	for _, r := range s.routes {
		s.cost += r.cost
	}
}

// removeFrom takes the customers drop marks out of route v.
func (w *worker) removeFrom(s *solution, v int32, set []int32) {
	e := w.e
	r := w.mut(s, v)
	old := r.cost
	k := 0
	for _, c := range r.nodes {
		if inSlice(set, c) {
			s.where[c] = -1
			s.cost += e.pen[c]
			w.removed = append(w.removed, c)
			continue
		}
		r.nodes[k] = c
		k++
	}
	wasUsed := len(r.nodes) > 0
	r.nodes = r.nodes[:k]
	e.refresh(r)
	if !r.ok { // a matrix without the triangle inequality: empty the route
		for _, c := range r.nodes {
			s.where[c] = -1
			s.cost += e.pen[c]
			w.removed = append(w.removed, c)
		}
		r.nodes = r.nodes[:0]
		e.refresh(r)
	}
	if wasUsed && len(r.nodes) == 0 {
		for i, u := range s.used {
			if u == v {
				s.used[i] = s.used[len(s.used)-1]
				s.used = s.used[:len(s.used)-1]
				break
			}
		}
	}
	s.cost += r.cost - old
}

// ruin removes strings of customers near a random seed customer (SISR).
func (w *worker) ruin(s *solution, cbar float64) {
	e := w.e
	w.removed = w.removed[:0]
	served, nroutes := len(e.active)-len(s.absent), len(s.used)
	if served == 0 || nroutes == 0 {
		return
	}
	const lmax = 10.0
	ls := math.Min(lmax, float64(served)/float64(nroutes))
	ksmax := 4*cbar/(1+ls) - 1
	ks := int(1 + w.rng.float()*ksmax)
	if ks < 1 {
		ks = 1
	}
	var seed int32
	for {
		seed = e.active[w.rng.intn(len(e.active))]
		if s.where[seed] >= 0 {
			break
		}
	}
	w.gen++
	done := 0
	visit := func(c int32) {
		v := s.where[c]
		if v < 0 || w.stamp[v] == w.gen {
			return
		}
		w.stamp[v] = w.gen
		done++
		r := s.routes[v]
		m := len(r.nodes)
		lt := int(1 + w.rng.float()*math.Min(float64(m), ls))
		if lt > m {
			lt = m
		}
		pos := 0
		for i, x := range r.nodes {
			if x == c {
				pos = i
				break
			}
		}
		if lt >= m || w.rng.float() < 0.5 {
			// string: lt consecutive customers containing pos
			lo := max(0, pos-lt+1)
			hi := min(pos, m-lt)
			st := lo + w.rng.intn(hi-lo+1)
			w.set = append(w.set[:0], r.nodes[st:st+lt]...)
			w.removeFrom(s, v, w.set)
			return
		}
		// split string: lt+keep consecutive, keep of them preserved
		keep := 1
		for lt+keep < m && w.rng.float() < 0.5 {
			keep++
		}
		L := lt + keep
		lo := max(0, pos-L+1)
		hi := min(pos, m-L)
		st := lo + w.rng.intn(hi-lo+1)
		ks := w.rng.intn(lt + 1) // preserved block starts after ks removed
		w.set = w.set[:0]
		for i := st; i < st+L; i++ {
			if i-st >= ks && i-st < ks+keep {
				continue
			}
			w.set = append(w.set, r.nodes[i])
		}
		w.removeFrom(s, v, w.set)
	}
	visit(seed)
	for _, c := range e.nbr[seed] {
		if done >= ks {
			break
		}
		visit(c)
	}
}

func inSlice(s []int32, x int32) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// recreate inserts the removed and absent customers greedily with blinks.
func (w *worker) recreate(s *solution, blink float64) {
	e := w.e
	w.list = append(append(w.list[:0], w.removed...), s.absent...)
	list := w.list
	for _, c := range s.absent {
		s.cost -= e.pen[c] // re-added below if it stays absent
	}
	for _, c := range w.removed {
		s.cost -= e.pen[c]
	}
	s.absent = s.absent[:0]
	w.sortCustomers(list)
	// one spare (empty) vehicle per class
	if len(w.spare) != e.nclass {
		w.spare = make([]int32, e.nclass)
		w.spareCur = make([]int, e.nclass)
	}
	for cl := range w.spare {
		w.spareCur[cl] = 0
		w.spare[cl] = w.nextSpare(s, cl)
	}
	for _, c := range list {
		cands := s.used
		if e.restrict && len(s.used) > 8 {
			w.gen++
			w.cands = w.cands[:0]
			nb := e.nbr[c]
			if len(nb) > e.K {
				nb = nb[:e.K]
			}
			for _, o := range nb {
				v := s.where[o]
				if v >= 0 && w.stamp[v] != w.gen {
					w.stamp[v] = w.gen
					w.cands = append(w.cands, v)
				}
			}
			if len(w.cands) > 0 {
				cands = w.cands
			}
		}
		bestD, bestV, bestP := math.Inf(1), int32(-1), -1
		for _, v := range cands {
			dl, p := e.bestInsert(s.routes[v], c, w.rng, blink)
			if dl < bestD {
				bestD, bestV, bestP = dl, v, p
			}
		}
		for _, v := range w.spare {
			if v < 0 {
				continue
			}
			dl, p := e.bestInsert(s.routes[v], c, w.rng, 0)
			if dl < bestD {
				bestD, bestV, bestP = dl, v, p
			}
		}
		if bestV < 0 || (e.p.Nodes[c].Optional && bestD >= e.pen[c]) {
			s.absent = append(s.absent, c)
			s.cost += e.pen[c]
			continue
		}
		r := w.mut(s, bestV)
		if len(r.nodes) == 0 {
			s.used = append(s.used, bestV)
			cl := e.veh[bestV].class
			w.spare[cl] = w.nextSpare(s, int(cl))
		}
		old := r.cost
		r.nodes = append(r.nodes, 0)
		copy(r.nodes[bestP+1:], r.nodes[bestP:])
		r.nodes[bestP] = c
		e.refresh(r)
		s.cost += r.cost - old
		s.where[c] = bestV
	}
}

// nextSpare returns the next vehicle of class cl with an empty route, or -1.
func (w *worker) nextSpare(s *solution, cl int) int32 {
	vs := w.e.classVeh[cl]
	for w.spareCur[cl] < len(vs) {
		v := vs[w.spareCur[cl]]
		w.spareCur[cl]++
		if len(s.routes[v].nodes) == 0 {
			return v
		}
	}
	return -1
}

// sortCustomers orders customers for insertion: random, by demand, far
// from or close to the depot (weights 4, 4, 2, 1).
func (w *worker) sortCustomers(list []int32) {
	e := w.e
	for i := len(list) - 1; i > 0; i-- {
		j := w.rng.intn(i + 1)
		list[i], list[j] = list[j], list[i]
	}
	k := w.rng.intn(11)
	if k < 4 {
		return
	}
	w.keys = grow(w.keys, e.n)
	depot := e.veh[0].start
	for _, c := range list {
		switch {
		case k < 8:
			w.keys[c] = -(e.dem[c][0] + e.dem[c][1])
		case k < 10:
			w.keys[c] = -e.d(depot, c)
		default:
			w.keys[c] = e.d(depot, c)
		}
	}
	slices.SortStableFunc(list, func(a, b int32) int { return cmp.Compare(w.keys[a], w.keys[b]) })
}

// Solve searches for a low-cost solution within the budget of opt. It
// returns the best solution found when the budget ends or ctx is done;
// pickups that cannot be served are listed in Unserved with a reason.
func Solve(ctx context.Context, p *Problem, opt Options) (*Solution, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("solve: %w", err)
	}
	start := time.Now()
	e := newEngine(p)
	reasons := e.precheck()
	e.prepare()
	threads := max(opt.Threads, 1)
	limit := opt.TimeLimit
	if limit <= 0 && opt.Iterations <= 0 {
		limit = 10 * time.Second
	}
	if limit > 0 {
		// leave time for the final local search and the export
		limit -= min(limit/20, 250*time.Millisecond)
	}
	results := make([]*solution, threads)
	workers := make([]*worker, threads)
	var wg sync.WaitGroup
	for k := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{e: e, rng: newRnd(opt.Seed*1000003 + uint64(k)), stamp: make([]uint32, max(e.n, len(e.veh))+1)}
			workers[k] = w
			var prog func(Progress)
			if k == 0 {
				prog = opt.Progress
			}
			results[k] = w.anneal(ctx, opt, start, limit, prog)
		}()
	}
	wg.Wait()
	best := 0
	for k := range results {
		if results[k].cost < results[best].cost-1e-9 {
			best = k
		}
	}
	return e.export(results[best], reasons), nil
}

// anneal runs ruin-and-recreate under simulated annealing.
func (w *worker) anneal(ctx context.Context, opt Options, start time.Time, limit time.Duration, prog func(Progress)) *solution {
	e := w.e
	var cur *solution
	if opt.Initial != nil {
		cur = w.fromSolution(opt.Initial)
	} else {
		cur = w.emptySolution()
	}
	w.removed = w.removed[:0]
	w.recreate(cur, 0)
	w.localSearch(cur, lsK, 50, nil)
	best := cur
	if len(e.active) == 0 {
		return best
	}
	// temperatures relative to the typical edge cost (tuned on X instances)
	t0, tf := 20*e.scale, 0.1*e.scale
	cbar := math.Min(10, math.Max(1, float64(len(e.active))/4))
	lastProg := time.Now()
	frac := 0.0
	iters := 0
	for it := 0; ; it++ {
		iters = it
		if it&15 == 0 {
			if ctx.Err() != nil {
				break
			}
			if opt.Iterations > 0 {
				frac = float64(it) / float64(opt.Iterations)
				if limit > 0 && time.Since(start) >= limit {
					break
				}
			} else {
				frac = float64(time.Since(start)) / float64(limit)
			}
			if frac >= 1 {
				break
			}
			if prog != nil && time.Since(lastProg) > 100*time.Millisecond {
				lastProg = time.Now()
				prog(Progress{Elapsed: time.Since(start), Iteration: it, Best: best.cost, Fraction: frac})
			}
		}
		temp := t0 * math.Pow(tf/t0, frac)
		cand := w.clone(cur)
		w.ruin(cand, cbar)
		w.recreate(cand, 0.01)
		if cand.cost < cur.cost-temp*math.Log(w.rng.float()) {
			if cur != best {
				w.release(cur, false)
			}
			cur = cand
			if cand.cost < best.cost-1e-9 {
				best = cand
			}
		} else {
			w.release(cand, true)
		}
	}
	if cur != best {
		w.release(cur, false)
	}
	best = w.clone(best)
	w.localSearch(best, lsK, 100, nil)
	if prog != nil {
		prog(Progress{Elapsed: time.Since(start), Iteration: iters, Best: best.cost, Fraction: 1})
	}
	return best
}

// precheck marks pickups no vehicle can serve alone and returns the reasons;
// the rest become the active customers.
func (e *engine) precheck() map[int]string {
	reasons := map[int]string{}
	for i, nd := range e.p.Nodes {
		if nd.Kind != KindPickup {
			continue
		}
		c := int32(i)
		capOK, timeOK := false, false
		for k := range e.veh {
			v := &e.veh[k]
			if !fits([Dims]float64{}, e.dem[c], v.cap) {
				continue
			}
			capOK = true
			s := e.startState(v)
			if e.step(v, &s, c) && e.finish(v, &s) && !math.IsInf(s.d, 1) {
				timeOK = true
				break
			}
		}
		switch {
		case !capOK:
			reasons[i] = fmt.Sprintf("demand %v exceeds the capacity of every vehicle", nd.Demand)
		case !timeOK:
			reasons[i] = "no vehicle can reach it within its time windows and return within its shift"
		default:
			e.active = append(e.active, c)
		}
	}
	return reasons
}

// export turns the engine solution into a Solution with explicit yard visits.
func (e *engine) export(s *solution, reasons map[int]string) *Solution {
	out := &Solution{}
	for k, r := range s.routes {
		if len(r.nodes) == 0 {
			continue
		}
		v := &e.veh[k]
		rt := Route{Vehicle: k}
		st := e.startState(v)
		for _, c := range r.nodes {
			if v.yard >= 0 && !fits(st.load, e.dem[c], v.cap) {
				rt.Stops = append(rt.Stops, int(v.yard))
			}
			e.step(v, &st, c)
			rt.Stops = append(rt.Stops, int(c))
		}
		e.finish(v, &st)
		out.Routes = append(out.Routes, rt)
		out.Cost += e.routeCost(v, st.d, st.tt, len(r.nodes))
	}
	for _, c := range s.absent {
		reason := "no vehicle has capacity or time left for it"
		if e.p.Nodes[c].Optional {
			reason = "optional: serving it costs more than its value"
		}
		out.Unserved = append(out.Unserved, Unserved{Node: int(c), Reason: reason})
	}
	for i, r := range reasons {
		out.Unserved = append(out.Unserved, Unserved{Node: i, Reason: r})
	}
	sort.Slice(out.Unserved, func(a, b int) bool { return out.Unserved[a].Node < out.Unserved[b].Node })
	return out
}

// Repair starts from init and only inserts what init leaves out (pickups
// missing from it, or whose route no longer fits), each at its cheapest
// feasible place; the order of the other stops is kept.
func Repair(ctx context.Context, p *Problem, init *Solution) (*Solution, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	e := newEngine(p)
	reasons := e.precheck()
	e.prepare()
	w := &worker{e: e, rng: newRnd(1), stamp: make([]uint32, max(e.n, len(e.veh))+1)}
	s := w.fromSolution(init)
	w.removed = w.removed[:0]
	w.recreate(s, 0)
	return e.export(s, reasons), nil
}
