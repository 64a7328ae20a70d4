package vrp

import (
	"cmp"
	"math"
	"slices"
)

// vinfo is a vehicle as the engine sees it.
type vinfo struct {
	cap         [Dims]float64
	start, end  int32
	open, close float64
	yard        int32
	unload      float64
	cd, ct, fix float64
	class       int32
}

// engine holds the read-only data a search shares between threads.
type engine struct {
	p        *Problem
	n        int
	D, T     []float32
	svc      []float64
	dem      [][Dims]float64
	open     []float64 // first window open (or -Inf)
	close    []float64 // last window close (or +Inf)
	wins     [][]Window
	multiTW  bool
	timed    bool
	veh      []vinfo
	nclass   int
	classVeh [][]int32 // vehicles of each class
	active   []int32   // pickups the search may serve
	nbr      [][]int32
	pen      []float64
	// restrict limits insertion to routes holding one of the first K
	// neighbours of a customer.
	restrict bool
	K        int
	scale    float64 // typical edge cost, for the annealing temperature
	// distOnly: every vehicle costs CostPerDist per distance alone, the
	// same for all, so distance deltas screen local-search moves.
	distOnly bool
	symD     bool // the distance matrix is symmetric
}

// route is one vehicle's customers with cached totals and schedules.
type route struct {
	v     int32
	owner uint64
	nodes []int32
	load  [Dims]float64
	dist  float64
	time  float64
	cost  float64
	ok    bool
	edge  []float32 // edge[p]: distance from the stop before position p to the one at p
	est   []float64 // earliest service start at nodes[i]
	lat   []float64 // latest arrival at nodes[i]; lat[m] is the end depot
	// prefix states for vehicles that unload at a yard
	pre []simState
}

// simState is the state of a vehicle just before its next customer.
type simState struct {
	loc  int32
	t    float64 // departure time from loc
	load [Dims]float64
	d    float64
	tt   float64
}

func newEngine(p *Problem) *engine {
	n := len(p.Nodes)
	e := &engine{p: p, n: n, D: p.Matrix.Dist, T: p.Matrix.Time}
	e.svc = make([]float64, n)
	e.dem = make([][Dims]float64, n)
	e.open, e.close = make([]float64, n), make([]float64, n)
	e.wins = make([][]Window, n)
	e.pen = make([]float64, n)
	for i := range p.Nodes {
		nd := &p.Nodes[i]
		e.svc[i], e.dem[i] = nd.Service, nd.Demand
		e.open[i], e.close[i] = math.Inf(-1), math.Inf(1)
		if len(nd.Windows) > 0 {
			e.open[i], e.close[i] = nd.Windows[0].Open, nd.Windows[len(nd.Windows)-1].Close
			e.wins[i] = nd.Windows
			e.timed = true
			if len(nd.Windows) > 1 {
				e.multiTW = true
			}
		}
		e.pen[i] = p.penalty(i)
	}
	classes := map[vinfo]int32{}
	for k := range p.Vehicles {
		v := &p.Vehicles[k]
		vi := vinfo{cap: capOf(v), start: int32(v.Start), end: int32(v.End), open: v.Shift.Open, close: v.Shift.Close,
			yard: int32(v.Yard), unload: v.UnloadTime, cd: v.CostPerDist, ct: v.CostPerTime, fix: v.Fixed}
		if !math.IsInf(vi.close, 1) {
			e.timed = true
		}
		key := vi
		c, ok := classes[key]
		if !ok {
			c = int32(len(classes))
			classes[key] = c
		}
		vi.class = c
		if int(c) == len(e.classVeh) {
			e.classVeh = append(e.classVeh, nil)
		}
		e.classVeh[c] = append(e.classVeh[c], int32(k))
		e.veh = append(e.veh, vi)
	}
	e.nclass = len(classes)
	e.distOnly = true
	for _, v := range e.veh {
		if v.ct != 0 || v.fix != 0 || v.cd != e.veh[0].cd || v.cd <= 0 {
			e.distOnly = false
		}
	}
	return e
}

// prepare computes neighbour lists for the active customers.
func (e *engine) prepare() {
	act := e.active
	K := len(act) - 1
	if K > 100 {
		K = 100
	}
	if K < 0 {
		K = 0
	}
	e.K = 20
	e.restrict = len(act) > 400
	e.nbr = make([][]int32, e.n)
	tmp := make([]int32, 0, len(act))
	sum, cnt := 0.0, 0
	for _, c := range act {
		tmp = tmp[:0]
		for _, o := range act {
			if o != c {
				tmp = append(tmp, o)
			}
		}
		row := e.D[int(c)*e.n:]
		slices.SortFunc(tmp, func(a, b int32) int {
			if r := cmp.Compare(row[a], row[b]); r != 0 {
				return r
			}
			return cmp.Compare(a, b)
		})
		e.nbr[c] = append([]int32(nil), tmp[:K]...)
		for k := 0; k < K && k < 5; k++ {
			d := float64(row[tmp[k]])
			t := float64(e.T[int(c)*e.n+int(tmp[k])])
			if !math.IsInf(d, 0) && !math.IsInf(t, 0) {
				v := &e.veh[0]
				sum += v.cd*d + v.ct*t
				cnt++
			}
		}
	}
	e.checkSymmetric()
	e.scale = 1
	if cnt > 0 && sum > 0 {
		e.scale = sum / float64(cnt)
	}
}

func (e *engine) checkSymmetric() {
	n := e.n
	e.symD = true
	for i := 0; i < n && e.symD; i++ {
		for j := i + 1; j < n; j++ {
			if e.D[i*n+j] != e.D[j*n+i] {
				e.symD = false
				break
			}
		}
	}
}

func (e *engine) d(i, j int32) float64 { return float64(e.D[int(i)*e.n+int(j)]) }
func (e *engine) t(i, j int32) float64 { return float64(e.T[int(i)*e.n+int(j)]) }

// startAt is the earliest service start at c for an arrival at time a, or +Inf.
func (e *engine) startAt(c int32, a float64) float64 {
	if !e.multiTW {
		if a > e.close[c] {
			return math.Inf(1)
		}
		return math.Max(a, e.open[c])
	}
	ws := e.wins[c]
	if len(ws) == 0 {
		return a
	}
	for _, w := range ws {
		if a <= w.Close {
			return math.Max(a, w.Open)
		}
	}
	return math.Inf(1)
}

// latestAt is the latest arrival at c that allows starting service by L.
func (e *engine) latestAt(c int32, L float64) float64 {
	if !e.multiTW {
		if L < e.open[c] {
			return math.Inf(-1)
		}
		return math.Min(L, e.close[c])
	}
	ws := e.wins[c]
	if len(ws) == 0 {
		return L
	}
	for k := len(ws) - 1; k >= 0; k-- {
		if ws[k].Open <= L {
			return math.Min(L, ws[k].Close)
		}
	}
	return math.Inf(-1)
}

func fits(load, dem, cap [Dims]float64) bool {
	for d := range Dims {
		if load[d]+dem[d] > cap[d]+1e-9 {
			return false
		}
	}
	return true
}

// step moves a simulated vehicle to customer c, unloading at its yard first
// when c would not fit. It reports false when c cannot be served.
func (e *engine) step(v *vinfo, s *simState, c int32) bool {
	if !fits(s.load, e.dem[c], v.cap) {
		if v.yard < 0 || s.loc == v.yard {
			return false
		}
		s.d += e.d(s.loc, v.yard)
		tt := e.t(s.loc, v.yard)
		s.t += tt + v.unload
		s.tt += tt + v.unload
		s.load = [Dims]float64{}
		s.loc = v.yard
		if !fits(s.load, e.dem[c], v.cap) {
			return false
		}
	}
	tt := e.t(s.loc, c)
	st := e.startAt(c, s.t+tt)
	if math.IsInf(st, 1) {
		return false
	}
	s.d += e.d(s.loc, c)
	s.tt += tt + e.svc[c]
	s.t = st + e.svc[c]
	for d := range Dims {
		s.load[d] += e.dem[c][d]
	}
	s.loc = c
	return true
}

// finish drives a simulated vehicle to its end depot.
func (e *engine) finish(v *vinfo, s *simState) bool {
	tt := e.t(s.loc, v.end)
	s.d += e.d(s.loc, v.end)
	s.tt += tt
	s.t += tt
	return s.t <= v.close+1e-7
}

func (e *engine) startState(v *vinfo) simState {
	return simState{loc: v.start, t: v.open}
}

func (e *engine) routeCost(v *vinfo, d, tt float64, m int) float64 {
	if m == 0 {
		return 0
	}
	return v.cd*d + v.ct*tt + v.fix
}

// refresh recomputes a route's totals and schedules; it sets r.ok.
func (e *engine) refresh(r *route) {
	v := &e.veh[r.v]
	m := len(r.nodes)
	if v.yard >= 0 {
		r.pre = r.pre[:0]
		s := e.startState(v)
		r.ok = true
		r.load = [Dims]float64{}
		for _, c := range r.nodes {
			r.pre = append(r.pre, s)
			if !e.step(v, &s, c) {
				r.ok = false
			}
			for d := range Dims {
				r.load[d] += e.dem[c][d]
			}
		}
		r.pre = append(r.pre, s)
		if !e.finish(v, &s) {
			r.ok = false
		}
		r.dist, r.time = s.d, s.tt
		r.cost = e.routeCost(v, r.dist, r.time, m)
		if m == 0 {
			r.ok = true
		}
		return
	}
	var load [Dims]float64
	d, tt := 0.0, 0.0
	prev := v.start
	t := v.open
	r.ok = true
	if e.timed {
		r.est = grow(r.est, m)
		r.lat = grow(r.lat, m+1)
	}
	if cap(r.edge) < m+1 {
		r.edge = make([]float32, m+1, m+m/2+4)
	}
	r.edge = r.edge[:m+1]
	for i, c := range r.nodes {
		for k := range Dims {
			load[k] += e.dem[c][k]
		}
		r.edge[i] = e.D[int(prev)*e.n+int(c)]
		d += e.d(prev, c)
		tr := e.t(prev, c)
		tt += tr + e.svc[c]
		if e.timed {
			s := e.startAt(c, t+tr)
			if math.IsInf(s, 1) {
				r.ok = false
			}
			r.est[i] = s
			t = s + e.svc[c]
		}
		prev = c
	}
	r.edge[m] = e.D[int(prev)*e.n+int(v.end)]
	d += e.d(prev, v.end)
	tt += e.t(prev, v.end)
	if e.timed {
		if t+e.t(prev, v.end) > v.close+1e-7 {
			r.ok = false
		}
		r.lat[m] = v.close
		next := v.end
		for i := m - 1; i >= 0; i-- {
			c := r.nodes[i]
			r.lat[i] = e.latestAt(c, r.lat[i+1]-e.t(c, next)-e.svc[c])
			next = c
		}
	}
	for k := range Dims {
		if load[k] > v.cap[k]+1e-9 {
			r.ok = false
		}
	}
	r.load = load
	r.dist, r.time = d, tt
	r.cost = e.routeCost(v, d, tt, m)
	if m == 0 {
		r.ok = true
	}
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, n+n/2+4)
	}
	return s[:n]
}

// bestInsert finds the cheapest feasible position of c in r. blink is the
// probability of skipping a position; it returns +Inf when none fits.
func (e *engine) bestInsert(r *route, c int32, rng *rnd, blink float64) (float64, int) {
	v := &e.veh[r.v]
	m := len(r.nodes)
	bestD, bestP := math.Inf(1), -1
	if v.yard >= 0 {
		base := r.cost
		for p := 0; p <= m; p++ {
			if blink > 0 && rng.float() < blink {
				continue
			}
			s := r.pre[p]
			if !e.step(v, &s, c) {
				continue
			}
			ok := true
			for _, x := range r.nodes[p:] {
				if !e.step(v, &s, x) {
					ok = false
					break
				}
			}
			if !ok || !e.finish(v, &s) {
				continue
			}
			dl := e.routeCost(v, s.d, s.tt, m+1) - base
			if dl < bestD {
				bestD, bestP = dl, p
			}
		}
		return bestD, bestP
	}
	if !fits(r.load, e.dem[c], v.cap) {
		return bestD, bestP
	}
	n := e.n
	D, T := e.D, e.T
	ci := int(c) * n
	prev := v.start
	fixed := 0.0
	if m == 0 {
		fixed = v.fix
	}
	svcC := e.svc[c]
	skip := m + 1
	if blink > 0 {
		skip = rng.geometric(blink)
	}
	for p := 0; p <= m; p++ {
		next := v.end
		if p < m {
			next = r.nodes[p]
		}
		if p == skip {
			skip += 1 + rng.geometric(blink)
			prev = next
			continue
		}
		pi := int(prev) * n
		var dd float64
		if e.symD {
			// row c only: the cache-friendly form for a symmetric matrix
			dd = float64(D[ci+int(prev)]) + float64(D[ci+int(next)]) - float64(r.edge[p])
		} else {
			dd = float64(D[pi+int(c)]) + float64(D[ci+int(next)]) - float64(r.edge[p])
		}
		var dl float64
		if v.ct != 0 || e.timed {
			t1, t2 := float64(T[pi+int(c)]), float64(T[ci+int(next)])
			if e.timed {
				dep := v.open
				if p > 0 {
					dep = r.est[p-1] + e.svc[prev]
				}
				st := e.startAt(c, dep+t1)
				if st+svcC+t2 > r.lat[p]+1e-7 {
					prev = next
					continue
				}
			}
			dl = v.cd*dd + v.ct*(t1+t2+svcC-float64(T[pi+int(next)]))
		} else {
			dl = v.cd * dd
		}
		if dl < bestD {
			bestD, bestP = dl, p
		}
		prev = next
	}
	return bestD + fixed, bestP
}

// rnd is a small deterministic generator (SplitMix64 seeded xorshift).
type rnd struct{ s uint64 }

func newRnd(seed uint64) *rnd {
	z := seed + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	if z == 0 {
		z = 1
	}
	return &rnd{s: z}
}

func (r *rnd) next() uint64 {
	x := r.s
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	r.s = x
	return x
}

// geometric returns the number of failures before the first success of
// trials that succeed with probability q.
func (r *rnd) geometric(q float64) int {
	u := r.float()
	if u <= 0 {
		return 1 << 30
	}
	g := math.Log(u) / math.Log1p(-q)
	if g > 1<<30 {
		return 1 << 30
	}
	return int(g)
}

func (r *rnd) float() float64 { return float64(r.next()>>11) / (1 << 53) }
func (r *rnd) intn(n int) int { return int(r.next() % uint64(n)) }
