package vrp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/paulmach/orb"
)

// LatLon is a WGS84 position in degrees.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

func (l LatLon) point() orb.Point { return orb.Point{l.Lon, l.Lat} }

func (l LatLon) valid() bool {
	return l.Lat >= -90 && l.Lat <= 90 && l.Lon >= -180 && l.Lon <= 180
}

// TimeWindow is an interval in which service may start.
type TimeWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// PlanPickup is a pickup to plan. Optional pickups (forecast candidates) are
// served only when their Value exceeds the extra cost of serving them.
type PlanPickup struct {
	ID       string        `json:"id"`
	At       LatLon        `json:"at"`
	KG       float64       `json:"kg"`
	M3       float64       `json:"m3"`
	Service  time.Duration `json:"service"`
	Windows  []TimeWindow  `json:"windows,omitempty"`
	Optional bool          `json:"optional,omitempty"`
	Value    float64       `json:"value,omitempty"`
}

// PlanVehicle is a vehicle available for the plan.
type PlanVehicle struct {
	ID         string    `json:"id"`
	CapacityKG float64   `json:"capacity_kg"` // zero: unlimited
	CapacityM3 float64   `json:"capacity_m3"` // zero: unlimited
	ShiftStart time.Time `json:"shift_start"`
	ShiftEnd   time.Time `json:"shift_end"`
	Start      LatLon    `json:"start"`
	// End is where the route ends; the zero value means Start.
	End LatLon `json:"end"`
	// Yard, when set, is where the vehicle unloads mid-route when full.
	Yard        *LatLon       `json:"yard,omitempty"`
	UnloadTime  time.Duration `json:"unload_time,omitempty"`
	CostPerKM   float64       `json:"cost_per_km"`
	CostPerHour float64       `json:"cost_per_hour"`
	FixedCost   float64       `json:"fixed_cost,omitempty"`
}

// PlanRequest is a planning problem in domain terms.
type PlanRequest struct {
	Pickups  []PlanPickup  `json:"pickups"`
	Vehicles []PlanVehicle `json:"vehicles"`
	// TimeLimit bounds the search; zero means 2 s.
	TimeLimit time.Duration `json:"time_limit,omitempty"`
	Seed      uint64        `json:"seed,omitempty"`
	Threads   int           `json:"threads,omitempty"`
	// Provider computes the matrix; nil means GreatCircle{} (1.3 detour, 30 km/h).
	Provider MatrixProvider `json:"-"`
}

// Stop kinds in a planned route.
const (
	StopStart  = "start"
	StopPickup = "pickup"
	StopUnload = "unload"
	StopEnd    = "end"
)

// PlanStop is one stop of a planned route with its schedule.
type PlanStop struct {
	Kind         string    `json:"kind"`
	PickupID     string    `json:"pickup_id,omitempty"`
	At           LatLon    `json:"at"`
	Arrival      time.Time `json:"arrival"`
	ServiceStart time.Time `json:"service_start"`
	Departure    time.Time `json:"departure"`
	// LoadKG and LoadM3 are on board when leaving the stop.
	LoadKG float64 `json:"load_kg"`
	LoadM3 float64 `json:"load_m3"`
	// DistanceKM is driven from the route start to this stop.
	DistanceKM float64 `json:"distance_km"`
}

// PlanRoute is one vehicle's planned route.
type PlanRoute struct {
	VehicleID  string     `json:"vehicle_id"`
	Stops      []PlanStop `json:"stops"`
	DistanceKM float64    `json:"distance_km"`
	Cost       float64    `json:"cost"`
}

// UnservedPickup is a pickup the plan leaves out, with the reason.
type UnservedPickup struct {
	PickupID string `json:"pickup_id"`
	Reason   string `json:"reason"`
}

// PlanResult is a plan: routes with ordered stops and the pickups left out.
type PlanResult struct {
	Routes     []PlanRoute      `json:"routes"`
	Unserved   []UnservedPickup `json:"unserved"`
	DistanceKM float64          `json:"distance_km"`
	Cost       float64          `json:"cost"`
}

// ErrInvalidRequest reports a malformed plan request.
var ErrInvalidRequest = errors.New("invalid plan request")

// built is a PlanRequest turned into a Problem, with the maps back.
type built struct {
	p       *Problem
	epoch   time.Time
	pickup  map[string]int // pickup id -> node
	vehicle map[string]int // vehicle id -> index
	req     *PlanRequest
}

func (req *PlanRequest) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(req.Vehicles) == 0 {
		bad("no vehicles")
	}
	seen := map[string]bool{}
	for i, pk := range req.Pickups {
		switch {
		case pk.ID == "":
			bad("pickup %d: empty id", i)
		case seen[pk.ID]:
			bad("pickup %q: duplicate id", pk.ID)
		}
		seen[pk.ID] = true
		if !pk.At.valid() {
			bad("pickup %q: position %v out of range", pk.ID, pk.At)
		}
		if pk.KG < 0 || pk.M3 < 0 || !finite(pk.KG) || !finite(pk.M3) || pk.Service < 0 {
			bad("pickup %q: negative or non-finite demand or service time", pk.ID)
		}
		if pk.Optional && (pk.Value < 0 || !finite(pk.Value)) {
			bad("pickup %q: optional value %v", pk.ID, pk.Value)
		}
		for k, w := range pk.Windows {
			if w.To.Before(w.From) || (k > 0 && w.From.Before(pk.Windows[k-1].To)) {
				bad("pickup %q: windows must be ordered and disjoint", pk.ID)
			}
		}
	}
	vseen := map[string]bool{}
	for i, v := range req.Vehicles {
		switch {
		case v.ID == "":
			bad("vehicle %d: empty id", i)
		case vseen[v.ID]:
			bad("vehicle %q: duplicate id", v.ID)
		}
		vseen[v.ID] = true
		if v.ShiftEnd.Before(v.ShiftStart) {
			bad("vehicle %q: shift ends before it starts", v.ID)
		}
		if !v.Start.valid() || !v.End.valid() || (v.Yard != nil && !v.Yard.valid()) {
			bad("vehicle %q: position out of range", v.ID)
		}
		if v.CapacityKG < 0 || v.CapacityM3 < 0 || v.CostPerKM < 0 || v.CostPerHour < 0 || v.FixedCost < 0 || v.UnloadTime < 0 {
			bad("vehicle %q: negative capacity, cost or unload time", v.ID)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, errors.Join(errs...))
	}
	return nil
}

// build turns the request into a Problem: depots and yards first (one node
// per distinct place and kind), then pickups.
func (req *PlanRequest) build(ctx context.Context) (*built, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	b := &built{req: req, pickup: map[string]int{}, vehicle: map[string]int{}}
	b.epoch = req.Vehicles[0].ShiftStart
	for _, v := range req.Vehicles {
		if v.ShiftStart.Before(b.epoch) {
			b.epoch = v.ShiftStart
		}
	}
	sec := func(t time.Time) float64 { return t.Sub(b.epoch).Seconds() }
	p := &Problem{Name: "plan", Kind: DistMatrix}
	var pts []orb.Point
	places := map[[3]float64]int{}
	place := func(l LatLon, kind NodeKind) int {
		key := [3]float64{l.Lat, l.Lon, float64(kind)}
		if i, ok := places[key]; ok {
			return i
		}
		i := len(p.Nodes)
		places[key] = i
		p.Nodes = append(p.Nodes, Node{ID: fmt.Sprintf("%s@%.6f,%.6f", kindName(kind), l.Lat, l.Lon), X: l.Lon, Y: l.Lat, Kind: kind})
		pts = append(pts, l.point())
		return i
	}
	allZero := true
	for _, v := range req.Vehicles {
		if v.CostPerKM != 0 || v.CostPerHour != 0 || v.FixedCost != 0 {
			allZero = false
		}
	}
	for i, v := range req.Vehicles {
		if v.End == (LatLon{}) {
			v.End = v.Start // no end given: back to the start
		}
		pv := Vehicle{ID: v.ID, Capacity: [Dims]float64{v.CapacityKG, v.CapacityM3},
			Shift: Window{sec(v.ShiftStart), sec(v.ShiftEnd)}, Start: place(v.Start, KindDepot), End: place(v.End, KindDepot),
			Yard: -1, UnloadTime: v.UnloadTime.Seconds(),
			CostPerDist: v.CostPerKM / 1000, CostPerTime: v.CostPerHour / 3600, Fixed: v.FixedCost}
		if v.ShiftEnd.IsZero() && v.ShiftStart.IsZero() {
			pv.Shift = unboundedShift
		}
		if allZero {
			pv.CostPerDist = 1.0 / 1000
		}
		if v.Yard != nil {
			pv.Yard = place(*v.Yard, KindYard)
		}
		b.vehicle[v.ID] = i
		p.Vehicles = append(p.Vehicles, pv)
	}
	for _, pk := range req.Pickups {
		nd := Node{ID: pk.ID, X: pk.At.Lon, Y: pk.At.Lat, Kind: KindPickup, Demand: [Dims]float64{pk.KG, pk.M3},
			Service: pk.Service.Seconds(), Optional: pk.Optional, Value: pk.Value}
		for _, w := range pk.Windows {
			nd.Windows = append(nd.Windows, Window{sec(w.From), sec(w.To)})
		}
		b.pickup[pk.ID] = len(p.Nodes)
		p.Nodes = append(p.Nodes, nd)
		pts = append(pts, pk.At.point())
	}
	prov := req.Provider
	if prov == nil {
		prov = GreatCircle{}
	}
	m, err := prov.Matrix(ctx, pts)
	if err != nil {
		return nil, fmt.Errorf("plan: matrix: %w", err)
	}
	if m.N != len(pts) {
		return nil, fmt.Errorf("plan: matrix has %d points, want %d: %w", m.N, len(pts), ErrProvider)
	}
	p.Matrix = m
	b.p = p
	return b, nil
}

func kindName(k NodeKind) string {
	switch k {
	case KindDepot:
		return "depot"
	case KindYard:
		return "yard"
	}
	return "pickup"
}

// Plan solves a domain planning request. Every pickup is either in a route or
// listed in Unserved with the reason; none is dropped silently.
func Plan(ctx context.Context, req PlanRequest) (PlanResult, error) {
	b, err := req.build(ctx)
	if err != nil {
		return PlanResult{}, fmt.Errorf("plan: %w", err)
	}
	limit := req.TimeLimit
	if limit <= 0 {
		limit = 2 * time.Second
	}
	s, err := Solve(ctx, b.p, Options{TimeLimit: limit, Seed: req.Seed, Threads: req.Threads})
	if err != nil {
		return PlanResult{}, fmt.Errorf("plan: %w", err)
	}
	return b.result(s)
}

// result converts a solution into a PlanResult with the schedule of every stop.
func (b *built) result(s *Solution) (PlanResult, error) {
	if _, err := Check(b.p, s, CheckOptions{}); err != nil {
		return PlanResult{}, fmt.Errorf("plan: %w", err)
	}
	p := b.p
	at := func(i int) LatLon { return LatLon{Lat: p.Nodes[i].Y, Lon: p.Nodes[i].X} }
	tm := func(sec float64) time.Time {
		return b.epoch.Add(time.Duration(math.Round(sec*1e3)) * time.Millisecond)
	}
	res := PlanResult{Routes: []PlanRoute{}, Unserved: []UnservedPickup{}}
	for _, r := range s.Routes {
		v := &p.Vehicles[r.Vehicle]
		pr := PlanRoute{VehicleID: v.ID}
		t := v.Shift.Open
		// leave as late as the first stop allows without waiting
		if len(r.Stops) > 0 && len(p.Nodes[r.Stops[0]].Windows) > 0 {
			first := r.Stops[0]
			arr := t + p.Matrix.T(v.Start, first)
			if w := p.Nodes[first].Windows[0]; arr < w.Open {
				t += w.Open - arr
			}
		}
		pr.Stops = append(pr.Stops, PlanStop{Kind: StopStart, At: at(v.Start), Arrival: tm(t), ServiceStart: tm(t), Departure: tm(t)})
		loc := v.Start
		var load [Dims]float64
		dist, busy := 0.0, 0.0
		for _, c := range r.Stops {
			tr := p.Matrix.T(loc, c)
			dist += p.Matrix.D(loc, c)
			busy += tr
			arr := t + tr
			st := PlanStop{At: at(c), Arrival: tm(arr)}
			if c == v.Yard {
				st.Kind = StopUnload
				load = [Dims]float64{}
				t = arr + v.UnloadTime
				busy += v.UnloadTime
				st.ServiceStart = tm(arr)
			} else {
				nd := &p.Nodes[c]
				st.Kind, st.PickupID = StopPickup, nd.ID
				start := arr
				for _, w := range nd.Windows {
					if arr <= w.Close+1e-3 {
						start = math.Max(arr, w.Open)
						break
					}
				}
				st.ServiceStart = tm(start)
				t = start + nd.Service
				busy += nd.Service
				load[0] += nd.Demand[0]
				load[1] += nd.Demand[1]
			}
			st.Departure = tm(t)
			st.LoadKG, st.LoadM3 = load[0], load[1]
			st.DistanceKM = dist / 1000
			pr.Stops = append(pr.Stops, st)
			loc = c
		}
		tr := p.Matrix.T(loc, v.End)
		dist += p.Matrix.D(loc, v.End)
		busy += tr
		t += tr
		pr.Stops = append(pr.Stops, PlanStop{Kind: StopEnd, At: at(v.End), Arrival: tm(t), ServiceStart: tm(t), Departure: tm(t),
			LoadKG: load[0], LoadM3: load[1], DistanceKM: dist / 1000})
		pr.DistanceKM = dist / 1000
		pr.Cost = v.CostPerDist*dist + v.CostPerTime*busy + v.Fixed
		res.Routes = append(res.Routes, pr)
		res.DistanceKM += pr.DistanceKM
		res.Cost += pr.Cost
	}
	for _, u := range s.Unserved {
		res.Unserved = append(res.Unserved, UnservedPickup{PickupID: p.Nodes[u.Node].ID, Reason: u.Reason})
	}
	return res, nil
}

// Change is an event to replan for: urgent pickups to add, vehicles to
// withdraw (breakdown, driver off).
type Change struct {
	AddPickups     []PlanPickup `json:"add_pickups,omitempty"`
	RemoveVehicles []string     `json:"remove_vehicles,omitempty"`
}

// StopChange describes how one pickup moved between two plans. An empty
// FromVehicle (FromIndex -1) means it was not planned before; an empty
// ToVehicle (ToIndex -1) means it is now unserved. Indices count pickups
// only, from 0, along the vehicle's route.
type StopChange struct {
	PickupID    string `json:"pickup_id"`
	FromVehicle string `json:"from_vehicle,omitempty"`
	FromIndex   int    `json:"from_index"`
	ToVehicle   string `json:"to_vehicle,omitempty"`
	ToIndex     int    `json:"to_index"`
}

// Replan applies a change to a plan with least disruption: the stops of the
// previous plan keep their vehicle and order where they still fit; added
// pickups and those of withdrawn vehicles are inserted at their cheapest
// feasible places. It returns the new plan, the new request (to replan again
// later) and the pickups whose vehicle or position changed.
func Replan(ctx context.Context, req PlanRequest, prev PlanResult, ch Change) (PlanResult, PlanRequest, []StopChange, error) {
	next := req
	next.Pickups = append(append([]PlanPickup(nil), req.Pickups...), ch.AddPickups...)
	removed := map[string]bool{}
	for _, id := range ch.RemoveVehicles {
		removed[id] = true
	}
	next.Vehicles = nil
	for _, v := range req.Vehicles {
		if !removed[v.ID] {
			next.Vehicles = append(next.Vehicles, v)
		}
	}
	if len(next.Vehicles) == 0 {
		return PlanResult{}, next, nil, fmt.Errorf("replan: no vehicle left: %w", ErrInvalidRequest)
	}
	b, err := next.build(ctx)
	if err != nil {
		return PlanResult{}, next, nil, fmt.Errorf("replan: %w", err)
	}
	init := &Solution{}
	for _, r := range prev.Routes {
		vi, ok := b.vehicle[r.VehicleID]
		if !ok {
			continue
		}
		rt := Route{Vehicle: vi}
		for _, st := range r.Stops {
			if st.Kind == StopPickup {
				if node, ok := b.pickup[st.PickupID]; ok {
					rt.Stops = append(rt.Stops, node)
				}
			}
		}
		init.Routes = append(init.Routes, rt)
	}
	s, err := Repair(ctx, b.p, init)
	if err != nil {
		return PlanResult{}, next, nil, fmt.Errorf("replan: %w", err)
	}
	res, err := b.result(s)
	if err != nil {
		return PlanResult{}, next, nil, fmt.Errorf("replan: %w", err)
	}
	return res, next, diffPlans(prev, res), nil
}

type stopPos struct {
	vehicle string
	index   int
}

func pickupPositions(r PlanResult) map[string]stopPos {
	out := map[string]stopPos{}
	for _, rt := range r.Routes {
		k := 0
		for _, st := range rt.Stops {
			if st.Kind == StopPickup {
				out[st.PickupID] = stopPos{rt.VehicleID, k}
				k++
			}
		}
	}
	return out
}

// diffPlans lists pickups whose vehicle changed, that appear or disappear,
// or whose order among the pickups kept on the same vehicle changed
// (a pickup that only shifts because another was inserted is unchanged).
func diffPlans(a, b PlanResult) []StopChange {
	pa, pb := pickupPositions(a), pickupPositions(b)
	ra, rb := keptRanks(pa, pb), keptRanks(pb, pa)
	ids := make([]string, 0, len(pa)+len(pb))
	for id := range pa {
		ids = append(ids, id)
	}
	for id := range pb {
		if _, ok := pa[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []StopChange
	for _, id := range ids {
		x, okA := pa[id]
		y, okB := pb[id]
		if okA && okB && x.vehicle == y.vehicle && ra[id] == rb[id] {
			continue
		}
		c := StopChange{PickupID: id, FromIndex: -1, ToIndex: -1}
		if okA {
			c.FromVehicle, c.FromIndex = x.vehicle, x.index
		}
		if okB {
			c.ToVehicle, c.ToIndex = y.vehicle, y.index
		}
		out = append(out, c)
	}
	return out
}

// keptRanks ranks, per vehicle, the pickups of pos that other has on the
// same vehicle.
func keptRanks(pos, other map[string]stopPos) map[string]int {
	type item struct {
		id string
		p  stopPos
	}
	var kept []item
	for id, p := range pos {
		if o, ok := other[id]; ok && o.vehicle == p.vehicle {
			kept = append(kept, item{id, p})
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		if kept[i].p.vehicle != kept[j].p.vehicle {
			return kept[i].p.vehicle < kept[j].p.vehicle
		}
		return kept[i].p.index < kept[j].p.index
	})
	r := map[string]int{}
	counts := map[string]int{}
	for _, it := range kept {
		r[it.id] = counts[it.p.vehicle]
		counts[it.p.vehicle]++
	}
	return r
}
