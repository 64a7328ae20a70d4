package vrp

import (
	"errors"
	"fmt"
	"math"
)

// Dims is the number of capacity dimensions (weight and volume).
const Dims = 2

// Sentinel errors callers can test with errors.Is.
var (
	ErrInvalidProblem = errors.New("invalid problem")
	ErrInfeasible     = errors.New("infeasible solution")
	ErrFormat         = errors.New("malformed input")
)

// NodeKind says what a node of a problem is.
type NodeKind uint8

// Node kinds.
const (
	KindPickup NodeKind = iota
	KindDepot
	KindYard
)

// Window is a time window [Open, Close] in the problem's time unit.
type Window struct{ Open, Close float64 }

// DistanceKind says how a problem's distances follow from its coordinates.
type DistanceKind uint8

// Distance kinds.
const (
	// DistMatrix means distances come only from the matrix.
	DistMatrix DistanceKind = iota
	// DistEuclidRounded is TSPLIB EUC_2D: Euclidean rounded to the nearest integer.
	DistEuclidRounded
	// DistEuclid is the real Euclidean distance (Solomon).
	DistEuclid
)

// Node is a place a vehicle visits: a pickup, a depot or a yard.
type Node struct {
	ID      string
	X, Y    float64 // planar coordinates, or longitude and latitude
	Kind    NodeKind
	Demand  [Dims]float64
	Service float64 // service time at a pickup
	// Windows are the allowed service start times, sorted and disjoint;
	// empty means any time.
	Windows []Window
	// Optional pickups may be left out at a cost of Value.
	Optional bool
	Value    float64
}

// Vehicle is one vehicle of the fleet.
type Vehicle struct {
	ID string
	// Capacity per dimension; zero or negative means unlimited.
	Capacity [Dims]float64
	// Shift bounds the departure from Start and the arrival at End.
	Shift      Window
	Start, End int // node indices
	// Yard is the node where the vehicle unloads mid-route when full, or -1.
	Yard       int
	UnloadTime float64
	// Cost of the route: CostPerDist per distance unit plus CostPerTime per
	// unit of driving and service time, plus Fixed if the vehicle is used.
	CostPerDist, CostPerTime, Fixed float64
}

// Problem is a routing problem over nodes with a fleet and a matrix.
type Problem struct {
	Name     string
	Nodes    []Node
	Vehicles []Vehicle
	Matrix   *Matrix
	Kind     DistanceKind
	// UnservedPenalty is the cost of leaving a mandatory pickup out; zero
	// means a default far above any route cost.
	UnservedPenalty float64
}

// Route is one vehicle's ordered stops (pickups and yard visits), without
// its start and end depots.
type Route struct {
	Vehicle int
	Stops   []int
}

// Unserved is a pickup the solution leaves out, with the reason.
type Unserved struct {
	Node   int
	Reason string
}

// Solution is a set of routes and the pickups left out.
type Solution struct {
	Routes   []Route
	Unserved []Unserved
	Cost     float64
}

// Validate checks that the problem is well formed.
func (p *Problem) Validate() error {
	n := len(p.Nodes)
	if n == 0 {
		return fmt.Errorf("validate: no nodes: %w", ErrInvalidProblem)
	}
	if p.Matrix == nil || p.Matrix.N != n {
		return fmt.Errorf("validate: matrix does not cover the %d nodes: %w", n, ErrInvalidProblem)
	}
	if len(p.Vehicles) == 0 {
		return fmt.Errorf("validate: no vehicles: %w", ErrInvalidProblem)
	}
	for i, nd := range p.Nodes {
		for d := range Dims {
			if nd.Demand[d] < 0 || math.IsNaN(nd.Demand[d]) || math.IsInf(nd.Demand[d], 0) {
				return fmt.Errorf("validate: node %d demand %v: %w", i, nd.Demand, ErrInvalidProblem)
			}
		}
		if nd.Service < 0 || math.IsNaN(nd.Service) {
			return fmt.Errorf("validate: node %d service time %v: %w", i, nd.Service, ErrInvalidProblem)
		}
		for k, w := range nd.Windows {
			if !(w.Open <= w.Close) || (k > 0 && w.Open < nd.Windows[k-1].Close) {
				return fmt.Errorf("validate: node %d windows %v: %w", i, nd.Windows, ErrInvalidProblem)
			}
		}
	}
	for i, v := range p.Vehicles {
		for _, x := range []int{v.Start, v.End} {
			if x < 0 || x >= n || p.Nodes[x].Kind == KindPickup {
				return fmt.Errorf("validate: vehicle %d depot %d is not a depot or yard node: %w", i, x, ErrInvalidProblem)
			}
		}
		if v.Yard >= n || (v.Yard >= 0 && p.Nodes[v.Yard].Kind == KindPickup) {
			return fmt.Errorf("validate: vehicle %d yard %d is not a yard node: %w", i, v.Yard, ErrInvalidProblem)
		}
		if !(v.Shift.Open <= v.Shift.Close) {
			return fmt.Errorf("validate: vehicle %d shift %v: %w", i, v.Shift, ErrInvalidProblem)
		}
	}
	return nil
}

// capOf returns a capacity with non-positive values read as unlimited.
func capOf(v *Vehicle) [Dims]float64 {
	var c [Dims]float64
	for d := range Dims {
		c[d] = v.Capacity[d]
		if c[d] <= 0 {
			c[d] = math.Inf(1)
		}
	}
	return c
}

// penalty returns the cost of leaving node i out.
func (p *Problem) penalty(i int) float64 {
	if p.Nodes[i].Optional {
		return p.Nodes[i].Value
	}
	if p.UnservedPenalty > 0 {
		return p.UnservedPenalty
	}
	return 1e9
}

// Pickups returns the indices of the pickup nodes.
func (p *Problem) Pickups() []int {
	var out []int
	for i, nd := range p.Nodes {
		if nd.Kind == KindPickup {
			out = append(out, i)
		}
	}
	return out
}

// unboundedShift is the shift used when a format gives none.
var unboundedShift = Window{0, math.Inf(1)}
