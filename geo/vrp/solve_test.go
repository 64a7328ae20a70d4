package vrp

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// planar builds a small coordinate problem: node 0 is the depot.
func planar(pts [][2]float64, dem []float64, vehicles int, capacity float64) *Problem {
	p := &Problem{Name: "t", Kind: DistEuclid}
	xs, ys := make([]float64, len(pts)), make([]float64, len(pts))
	for i, q := range pts {
		xs[i], ys[i] = q[0], q[1]
		p.Nodes = append(p.Nodes, Node{ID: string(rune('a' + i)), X: q[0], Y: q[1], Demand: [Dims]float64{dem[i]}})
	}
	p.Nodes[0].Kind = KindDepot
	p.Matrix = EuclidMatrix(xs, ys, false)
	for k := range vehicles {
		p.Vehicles = append(p.Vehicles, Vehicle{ID: string(rune('A' + k)), Capacity: [Dims]float64{capacity},
			Shift: unboundedShift, Yard: -1, CostPerDist: 1})
	}
	return p
}

func TestCheckFindsViolations(t *testing.T) {
	base := func() *Problem {
		p := planar([][2]float64{{0, 0}, {0, 10}, {10, 0}, {10, 10}}, []float64{0, 4, 4, 4}, 2, 10)
		p.Nodes[2].Windows = []Window{{0, 15}}
		return p
	}
	tests := []struct {
		name string
		sol  Solution
		want string // substring of the error; empty means valid
	}{
		{"valid", Solution{Routes: []Route{{0, []int{1, 3}}, {1, []int{2}}}}, ""},
		{"over capacity", Solution{Routes: []Route{{0, []int{1, 3, 2}}}}, "exceeds capacity"},
		{"served twice", Solution{Routes: []Route{{0, []int{1, 3}}, {1, []int{3, 2}}}}, "served 2 times"},
		{"window missed", Solution{Routes: []Route{{0, []int{1, 3, 2}}}}, "after its last window"},
		{"missing", Solution{Routes: []Route{{0, []int{1, 3}}}}, "neither served nor reported"},
		{"unserved mandatory", Solution{Routes: []Route{{0, []int{1, 3}}}, Unserved: []Unserved{{2, "x"}}}, "mandatory pickup c unserved"},
		{"vehicle twice", Solution{Routes: []Route{{0, []int{1}}, {0, []int{2, 3}}}}, "used twice"},
		{"depot as stop", Solution{Routes: []Route{{0, []int{1, 0, 3}}, {1, []int{2}}}}, "not a pickup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			rep, err := Check(p, &tc.sol, CheckOptions{RequireAll: true})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if rep.Served != 3 || rep.Routes != 2 {
					t.Errorf("report %+v", rep)
				}
				return
			}
			if !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInfeasible containing %q", err, tc.want)
			}
		})
	}
}

func TestSolveBenchmarkInstancesFeasible(t *testing.T) {
	for _, name := range []string{"X-n101-k25.vrp", "C101.txt", "R201.txt"} {
		t.Run(name, func(t *testing.T) {
			p, err := LoadInstance("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Solve(context.Background(), p, Options{Iterations: 300, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Check(p, s, CheckOptions{RequireAll: true})
			if err != nil {
				t.Fatal(err)
			}
			if d := rep.Cost - s.Cost; d > 1e-3*rep.Cost || d < -1e-3*rep.Cost {
				t.Errorf("solver cost %v, checker %v", s.Cost, rep.Cost)
			}
		})
	}
}

func TestSolveDeterministicForSeed(t *testing.T) {
	p, err := LoadInstance("testdata/X-n110-k13.vrp")
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed uint64) float64 {
		s, err := Solve(context.Background(), p, Options{Iterations: 400, Seed: seed, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		return s.Cost
	}
	a, b := run(7), run(7)
	if a != b {
		t.Fatalf("same seed gave %v and %v", a, b)
	}
}

func TestSolveCancelReturnsBestSoFar(t *testing.T) {
	p, err := LoadInstance("testdata/X-n143-k7.vrp")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := Solve(ctx, p, Options{TimeLimit: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(p, s, CheckOptions{RequireAll: true}); err != nil {
		t.Fatal(err)
	}
}

func TestSolveReportsInfeasiblePickups(t *testing.T) {
	p := planar([][2]float64{{0, 0}, {1, 0}, {2, 0}, {50, 0}, {3, 0}}, []float64{0, 1, 20, 1, 1}, 2, 10)
	p.Nodes[3].Windows = []Window{{0, 10}} // 50 away, cannot be reached by 10
	p.Nodes[4].Optional, p.Nodes[4].Value = true, 0.01
	s, err := Solve(context.Background(), p, Options{Iterations: 50})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, u := range s.Unserved {
		got[u.Node] = u.Reason
	}
	want := map[int]string{2: "capacity", 3: "time windows", 4: "optional"}
	for node, sub := range want {
		if !strings.Contains(got[node], sub) {
			t.Errorf("node %d reason %q, want it to mention %q", node, got[node], sub)
		}
	}
	if _, ok := got[1]; ok {
		t.Errorf("node 1 should be served")
	}
	if _, err := Check(p, s, CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestSolveUnloadsAtYard(t *testing.T) {
	// one vehicle of capacity 10, 6 pickups of 4: it must unload twice
	pts := [][2]float64{{0, 0}, {1, 1}, {2, 1}, {3, 1}, {1, 2}, {2, 2}, {3, 2}, {0, 1}}
	dem := []float64{0, 4, 4, 4, 4, 4, 4, 0}
	p := planar(pts, dem, 1, 10)
	p.Nodes[7].Kind = KindYard
	p.Vehicles[0].Yard, p.Vehicles[0].UnloadTime = 7, 5
	p.Vehicles[0].End = 7
	s, err := Solve(context.Background(), p, Options{Iterations: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Unserved) != 0 || len(s.Routes) != 1 {
		t.Fatalf("routes %v unserved %v", s.Routes, s.Unserved)
	}
	yards := 0
	for _, c := range s.Routes[0].Stops {
		if c == 7 {
			yards++
		}
	}
	if yards != 2 {
		t.Errorf("route %v visits the yard %d times mid-route, want 2", s.Routes[0].Stops, yards)
	}
	if _, err := Check(p, s, CheckOptions{RequireAll: true}); err != nil {
		t.Fatal(err)
	}
}

func TestSolveTwoCapacities(t *testing.T) {
	// weight fits one vehicle, volume forces two
	p := planar([][2]float64{{0, 0}, {1, 0}, {2, 0}, {3, 0}}, []float64{0, 1, 1, 1}, 3, 100)
	for i := 1; i <= 3; i++ {
		p.Nodes[i].Demand[1] = 2
	}
	for k := range p.Vehicles {
		p.Vehicles[k].Capacity[1] = 4
	}
	s, err := Solve(context.Background(), p, Options{Iterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Routes) != 2 {
		t.Errorf("got %d routes, want 2", len(s.Routes))
	}
	if _, err := Check(p, s, CheckOptions{RequireAll: true}); err != nil {
		t.Fatal(err)
	}
}

func TestLocalSearchImprovesAndStaysFeasible(t *testing.T) {
	p, err := LoadInstance("testdata/R201.txt")
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(p)
	e.precheck()
	e.prepare()
	w := &worker{e: e, rng: newRnd(5), stamp: make([]uint32, e.n+len(e.veh)+1)}
	s := w.emptySolution()
	w.removed = w.removed[:0]
	w.recreate(s, 0.5) // a poor start: half the positions blinked
	before := s.cost
	w.localSearch(s, lsK, 100, nil)
	if s.cost > before+1e-9 {
		t.Fatalf("local search raised the cost from %v to %v", before, s.cost)
	}
	if s.cost >= before-1e-9 {
		t.Errorf("local search found nothing to improve on a poor start (%v)", before)
	}
	got := e.export(s, nil)
	rep, err := Check(p, got, CheckOptions{RequireAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Cost - s.cost; d > 1e-3*rep.Cost || d < -1e-3*rep.Cost {
		t.Errorf("tracked cost %v, checker %v", s.cost, rep.Cost)
	}
}

func TestSolveWarmStartKeepsBestKnown(t *testing.T) {
	p, err := LoadInstance("testdata/X-n120-k6.vrp")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/X-n120-k6.sol")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	init, err := ParseSol(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Solve(context.Background(), p, Options{Iterations: 50, Initial: init})
	if err != nil {
		t.Fatal(err)
	}
	if s.Cost > init.Cost {
		t.Errorf("warm start from cost %v ended at %v", init.Cost, s.Cost)
	}
	if _, err := Check(p, s, CheckOptions{RequireAll: true}); err != nil {
		t.Fatal(err)
	}
}
