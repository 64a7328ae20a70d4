package vrp

import (
	"errors"
	"fmt"
	"math"
)

// CheckReport is what Check recomputes for a solution.
type CheckReport struct {
	Cost     float64 // routes only, without penalties for unserved pickups
	Distance float64
	Routes   int
	Served   int
}

// CheckOptions tune Check.
type CheckOptions struct {
	// RequireAll makes an unserved mandatory pickup a violation.
	RequireAll bool
	// Tolerance for time comparisons; zero means 1e-3.
	Tolerance float64
}

// Check validates a solution independently of the solver: every pickup at
// most once (and every mandatory one when opt.RequireAll), capacities per
// trip between yard visits, time windows and shifts, and it recomputes the
// cost. Distances of coordinate problems are recomputed from coordinates in
// float64, not read from the matrix. It returns every violation found,
// joined, wrapped in ErrInfeasible.
func Check(p *Problem, s *Solution, opt CheckOptions) (CheckReport, error) {
	var rep CheckReport
	if err := p.Validate(); err != nil {
		return rep, fmt.Errorf("check: %w", err)
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	tol := opt.Tolerance
	if tol <= 0 {
		tol = 1e-3
	}
	n := len(p.Nodes)
	dist := func(i, j int) float64 {
		a, b := &p.Nodes[i], &p.Nodes[j]
		switch p.Kind {
		case DistEuclidRounded:
			return math.Floor(math.Sqrt((a.X-b.X)*(a.X-b.X)+(a.Y-b.Y)*(a.Y-b.Y)) + 0.5)
		case DistEuclid:
			return math.Sqrt((a.X-b.X)*(a.X-b.X) + (a.Y-b.Y)*(a.Y-b.Y))
		}
		return p.Matrix.D(i, j)
	}
	ttime := func(i, j int) float64 {
		if p.Kind != DistMatrix {
			return dist(i, j)
		}
		return p.Matrix.T(i, j)
	}
	seen := make([]int, n)
	usedVeh := map[int]bool{}
	for ri, r := range s.Routes {
		if r.Vehicle < 0 || r.Vehicle >= len(p.Vehicles) {
			bad("route %d: vehicle %d does not exist", ri+1, r.Vehicle)
			continue
		}
		if usedVeh[r.Vehicle] {
			bad("route %d: vehicle %d used twice", ri+1, r.Vehicle)
		}
		usedVeh[r.Vehicle] = true
		if len(r.Stops) == 0 {
			continue
		}
		v := &p.Vehicles[r.Vehicle]
		rep.Routes++
		loc, t := v.Start, v.Shift.Open
		var load [Dims]float64
		d, busy := 0.0, 0.0
		for _, c := range r.Stops {
			if c < 0 || c >= n {
				bad("route %d: stop %d is not a node", ri+1, c)
				continue
			}
			tr := ttime(loc, c)
			d += dist(loc, c)
			busy += tr
			t += tr
			loc = c
			if c == v.Yard && v.Yard >= 0 {
				t += v.UnloadTime
				busy += v.UnloadTime
				load = [Dims]float64{}
				continue
			}
			nd := &p.Nodes[c]
			if nd.Kind != KindPickup {
				bad("route %d: stop %d is not a pickup nor this vehicle's yard", ri+1, c)
				continue
			}
			seen[c]++
			if len(nd.Windows) > 0 {
				ok := false
				for _, w := range nd.Windows {
					if t <= w.Close+tol {
						t = math.Max(t, w.Open)
						ok = true
						break
					}
				}
				if !ok {
					bad("route %d: pickup %s reached at %.3f after its last window closes", ri+1, nd.ID, t)
				}
			}
			t += nd.Service
			busy += nd.Service
			for k := range Dims {
				load[k] += nd.Demand[k]
				if v.Capacity[k] > 0 && load[k] > v.Capacity[k]+1e-9 {
					bad("route %d: load %v exceeds capacity %v at pickup %s", ri+1, load, v.Capacity, nd.ID)
				}
			}
		}
		tr := ttime(loc, v.End)
		d += dist(loc, v.End)
		busy += tr
		t += tr
		if t > v.Shift.Close+tol {
			bad("route %d: returns at %.3f after the shift ends at %.3f", ri+1, t, v.Shift.Close)
		}
		rep.Distance += d
		rep.Cost += v.CostPerDist*d + v.CostPerTime*busy + v.Fixed
	}
	listed := map[int]bool{}
	for _, u := range s.Unserved {
		if u.Node < 0 || u.Node >= n {
			bad("unserved node %d does not exist", u.Node)
			continue
		}
		listed[u.Node] = true
		if seen[u.Node] > 0 {
			bad("pickup %s is both served and unserved", p.Nodes[u.Node].ID)
		}
	}
	for i, nd := range p.Nodes {
		if nd.Kind != KindPickup {
			continue
		}
		switch {
		case seen[i] > 1:
			bad("pickup %s served %d times", nd.ID, seen[i])
		case seen[i] == 1:
			rep.Served++
		case !listed[i]:
			bad("pickup %s neither served nor reported unserved", nd.ID)
		case opt.RequireAll && !nd.Optional:
			bad("mandatory pickup %s unserved", nd.ID)
		}
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("check: %w: %w", ErrInfeasible, errors.Join(errs...))
	}
	return rep, nil
}
