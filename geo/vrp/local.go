package vrp

// Local search: relocate, swap, 2-opt* and 2-opt moves between a customer
// and its nearest neighbours (a granular neighbourhood). A move's distance
// delta screens it when costs depend on distance only; a full simulation of
// the changed routes (capacity, yard unloads, windows, shift) decides.

// evalSeq simulates vehicle v over seq and returns its cost and feasibility.
func (e *engine) evalSeq(v int32, seq []int32) (float64, bool) {
	vi := &e.veh[v]
	if len(seq) == 0 {
		return 0, true
	}
	s := e.startState(vi)
	for _, c := range seq {
		if !e.step(vi, &s, c) {
			return 0, false
		}
	}
	if !e.finish(vi, &s) {
		return 0, false
	}
	return e.routeCost(vi, s.d, s.tt, len(seq)), true
}

type lsState struct {
	pos        []int32
	bufA, bufB []int32
	order      []int32
}

func (w *worker) setPos(r *route) {
	for i, c := range r.nodes {
		w.ls.pos[c] = int32(i)
	}
}

// apply replaces route v's customers with seq.
func (w *worker) apply(s *solution, v int32, seq []int32) {
	r := w.mut(s, v)
	old := r.cost
	wasUsed := len(r.nodes) > 0
	r.nodes = append(r.nodes[:0], seq...)
	w.e.refresh(r)
	s.cost += r.cost - old
	for _, c := range r.nodes {
		s.where[c] = v
	}
	w.setPos(r)
	switch {
	case wasUsed && len(r.nodes) == 0:
		for i, u := range s.used {
			if u == v {
				s.used[i] = s.used[len(s.used)-1]
				s.used = s.used[:len(s.used)-1]
				break
			}
		}
	case !wasUsed && len(r.nodes) > 0:
		s.used = append(s.used, v)
	}
}

// localSearch improves s until no move between a customer and its first k
// neighbours helps, or maxPasses passes.
func (w *worker) localSearch(s *solution, k, maxPasses int, seeds []int32) {
	e := w.e
	if len(w.ls.pos) != e.n {
		w.ls.pos = make([]int32, e.n)
	}
	for _, v := range s.used {
		w.setPos(s.routes[v])
	}
	if seeds == nil {
		seeds = e.active
	}
	w.ls.order = append(w.ls.order[:0], seeds...)
	for i := len(w.ls.order) - 1; i > 0; i-- {
		j := w.rng.intn(i + 1)
		w.ls.order[i], w.ls.order[j] = w.ls.order[j], w.ls.order[i]
	}
	for pass := 0; pass < maxPasses; pass++ {
		improved := false
		for _, c := range w.ls.order {
			if s.where[c] < 0 {
				continue
			}
			nb := e.nbr[c]
			if len(nb) > k {
				nb = nb[:k]
			}
			for _, u := range nb {
				if s.where[u] < 0 || s.where[c] < 0 {
					continue
				}
				if w.tryRelocate(s, c, u) || w.trySwap(s, c, u) || w.tryTails(s, c, u) {
					improved = true
				}
			}
		}
		if !improved {
			return
		}
	}
}

const lsEps = 1e-7

// screen reports whether a move whose distance delta is dd may improve;
// it screens only when every vehicle costs by distance alone.
func (e *engine) screen(dd float64) bool {
	return !e.distOnly || dd < -lsEps
}

func (w *worker) commit2(s *solution, va, vb int32, a, b []int32) bool {
	e := w.e
	ca, okA := e.evalSeq(va, a)
	if !okA {
		return false
	}
	old := s.routes[va].cost
	cb, okB := 0.0, true
	if vb != va {
		cb, okB = e.evalSeq(vb, b)
		old += s.routes[vb].cost
	}
	if !okB || ca+cb >= old-lsEps {
		return false
	}
	w.apply(s, va, a)
	if vb != va {
		w.apply(s, vb, b)
	}
	return true
}

func (w *worker) at(r *route, i int32) int32 {
	v := &w.e.veh[r.v]
	if i < 0 {
		return v.start
	}
	if int(i) >= len(r.nodes) {
		return v.end
	}
	return r.nodes[i]
}

// tryRelocate moves c right after or right before u.
func (w *worker) tryRelocate(s *solution, c, u int32) bool {
	e := w.e
	va, vb := s.where[c], s.where[u]
	ra, rb := s.routes[va], s.routes[vb]
	pc, pu := w.ls.pos[c], w.ls.pos[u]
	cp, cn := w.at(ra, pc-1), w.at(ra, pc+1)
	removeGain := e.d(cp, c) + e.d(c, cn) - e.d(cp, cn)
	for side := int32(0); side < 2; side++ {
		// insert between x and y
		var x, y int32
		if side == 0 {
			x, y = u, w.at(rb, pu+1)
		} else {
			x, y = w.at(rb, pu-1), u
		}
		if x == c || y == c {
			continue
		}
		dd := e.d(x, c) + e.d(c, y) - e.d(x, y) - removeGain
		if !e.screen(dd) {
			continue
		}
		if va == vb {
			a := w.ls.bufA[:0]
			for _, z := range ra.nodes {
				if z == c {
					continue
				}
				if side == 1 && z == u {
					a = append(a, c)
				}
				a = append(a, z)
				if side == 0 && z == u {
					a = append(a, c)
				}
			}
			w.ls.bufA = a
			if w.commit2(s, va, va, a, nil) {
				return true
			}
			continue
		}
		if !fits(rb.load, e.dem[c], e.veh[vb].cap) && e.veh[vb].yard < 0 {
			continue
		}
		a := w.ls.bufA[:0]
		for _, z := range ra.nodes {
			if z != c {
				a = append(a, z)
			}
		}
		b := w.ls.bufB[:0]
		ins := pu + 1 - side
		b = append(b, rb.nodes[:ins]...)
		b = append(b, c)
		b = append(b, rb.nodes[ins:]...)
		w.ls.bufA, w.ls.bufB = a, b
		if w.commit2(s, va, vb, a, b) {
			return true
		}
	}
	return false
}

// trySwap exchanges c and u.
func (w *worker) trySwap(s *solution, c, u int32) bool {
	e := w.e
	va, vb := s.where[c], s.where[u]
	ra, rb := s.routes[va], s.routes[vb]
	pc, pu := w.ls.pos[c], w.ls.pos[u]
	if va == vb && (pc-pu == 1 || pu-pc == 1) {
		return false
	}
	cp, cn := w.at(ra, pc-1), w.at(ra, pc+1)
	up, un := w.at(rb, pu-1), w.at(rb, pu+1)
	dd := e.d(cp, u) + e.d(u, cn) - e.d(cp, c) - e.d(c, cn) + e.d(up, c) + e.d(c, un) - e.d(up, u) - e.d(u, un)
	if !e.screen(dd) {
		return false
	}
	if va == vb {
		a := append(w.ls.bufA[:0], ra.nodes...)
		a[pc], a[pu] = u, c
		w.ls.bufA = a
		return w.commit2(s, va, va, a, nil)
	}
	a := append(w.ls.bufA[:0], ra.nodes...)
	a[pc] = u
	b := append(w.ls.bufB[:0], rb.nodes...)
	b[pu] = c
	w.ls.bufA, w.ls.bufB = a, b
	return w.commit2(s, va, vb, a, b)
}

// tryTails makes c and u adjacent by exchanging route tails (2-opt*) when
// they are in different routes, or by reversing the segment between them
// (2-opt) when they share one.
func (w *worker) tryTails(s *solution, c, u int32) bool {
	e := w.e
	va, vb := s.where[c], s.where[u]
	ra, rb := s.routes[va], s.routes[vb]
	pc, pu := w.ls.pos[c], w.ls.pos[u]
	cn := w.at(ra, pc+1)
	if va == vb {
		if pu <= pc+1 {
			return false
		}
		// c ... u  ->  c u ... c+1
		un := w.at(ra, pu+1)
		dd := e.d(c, u) + e.d(cn, un) - e.d(c, cn) - e.d(u, un)
		if !e.screen(dd) {
			return false
		}
		a := append(w.ls.bufA[:0], ra.nodes...)
		for i, j := pc+1, pu; i < j; i, j = i+1, j-1 {
			a[i], a[j] = a[j], a[i]
		}
		w.ls.bufA = a
		return w.commit2(s, va, va, a, nil)
	}
	// A[..c] + B[u..]  and  B[..u-1] + A[c+1..]
	up := w.at(rb, pu-1)
	dd := e.d(c, u) + e.d(up, cn) - e.d(c, cn) - e.d(up, u)
	if e.veh[va].end != e.veh[vb].end {
		return false
	}
	if !e.screen(dd) {
		return false
	}
	a := append(append(w.ls.bufA[:0], ra.nodes[:pc+1]...), rb.nodes[pu:]...)
	b := append(append(w.ls.bufB[:0], rb.nodes[:pu]...), ra.nodes[pc+1:]...)
	w.ls.bufA, w.ls.bufB = a, b
	return w.commit2(s, va, vb, a, b)
}
