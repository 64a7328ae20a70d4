package routing

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/geo/vrp"
	"github.com/revloop/revloop/store"
)

// Dispatch is what the planner reads and changes of the dispatcher's records.
type Dispatch interface {
	ListPickups(ctx context.Context, sc dispatch.Scope, f dispatch.PickupFilter, p dispatch.Page) ([]dispatch.Pickup, string, error)
	Pickup(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Pickup, error)
	CreatePickup(ctx context.Context, sc dispatch.Scope, p dispatch.Pickup, actor string) (dispatch.Pickup, error)
	TransitionPickup(ctx context.Context, sc dispatch.Scope, id, to, note, actor string) (dispatch.Pickup, error)
	ListSites(ctx context.Context, sc dispatch.Scope, f dispatch.SiteFilter, p dispatch.Page) ([]dispatch.Site, string, error)
	AllVehicles(ctx context.Context) ([]dispatch.Vehicle, error)
	Bin(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Bin, error)
}

var _ Dispatch = (*dispatch.Store)(nil)

// Candidate is a bin forecast to need a pickup: an optional stop.
type Candidate struct {
	BinID    string
	SiteID   string
	Material string
	Kg       float64
	FullAt   time.Time
}

// Candidates lists the bins forecast to reach their threshold within a
// horizon (the fill forecasts).
type Candidates interface {
	Due(ctx context.Context, horizon time.Duration) ([]Candidate, error)
}

// Arrivals tells when a vehicle actually arrived at a site, from the
// geofence events; it reports false when it did not (yet).
type Arrivals interface {
	ArrivedAt(ctx context.Context, vehicleID, siteID string, from, to time.Time) (time.Time, bool, error)
}

// Options are the planner's settings; zero fields take the defaults shown.
type Options struct {
	Location       *time.Location // shift times are local; default Europe/Brussels
	ShiftStart     time.Duration  // from local midnight; default 6 h
	ShiftEnd       time.Duration  // default 18 h
	ServiceTime    time.Duration  // per pickup; default 5 min
	UnloadTime     time.Duration  // at the yard; default 20 min
	DefaultKg      float64        // for pickups without an estimate; default 200
	CandidateKg    float64        // expected mass of a forecast bin; default 150
	CandidateValue float64        // worth of serving a forecast bin; default 40
	Horizon        time.Duration  // forecast horizon; default 48 h
	TimeLimit      time.Duration  // planner budget; default 2 s
	CostPerKm      float64        // default 1.2
	CostPerHour    float64        // default 40
	Provider       vrp.MatrixProvider
	Now            func() time.Time
}

func (o *Options) defaults() {
	if o.Location == nil {
		if loc, err := time.LoadLocation("Europe/Brussels"); err == nil {
			o.Location = loc
		} else {
			o.Location = time.UTC
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	deff := func(f *float64, v float64) {
		if *f <= 0 {
			*f = v
		}
	}
	def(&o.ShiftStart, 6*time.Hour)
	def(&o.ShiftEnd, 18*time.Hour)
	def(&o.ServiceTime, 5*time.Minute)
	def(&o.UnloadTime, 20*time.Minute)
	def(&o.Horizon, 48*time.Hour)
	def(&o.TimeLimit, 2*time.Second)
	deff(&o.DefaultKg, 200)
	deff(&o.CandidateKg, 150)
	deff(&o.CandidateValue, 40)
	deff(&o.CostPerKm, 1.2)
	deff(&o.CostPerHour, 40)
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service plans, stores, commits and re-plans routes.
type Service struct {
	db         *store.DB
	dispatch   Dispatch
	candidates Candidates
	arrivals   Arrivals
	opts       Options
}

// New returns a Service. candidates and arrivals may be nil.
func New(db *store.DB, d Dispatch, candidates Candidates, arrivals Arrivals, opts Options) *Service {
	opts.defaults()
	return &Service{db: db, dispatch: d, candidates: candidates, arrivals: arrivals, opts: opts}
}

// Plan statuses.
const (
	StatusProposed   = "proposed"
	StatusCommitted  = "committed"
	StatusSuperseded = "superseded"
)

// PlanInput asks for a plan for one day.
type PlanInput struct {
	Date            string   `json:"date"` // YYYY-MM-DD, local to the operator
	IncludeForecast bool     `json:"include_forecast"`
	Vehicles        []string `json:"vehicles,omitempty"` // default: every vehicle
	TimeLimitS      float64  `json:"time_limit_s,omitempty"`
}

// Stop is one stop of a stored plan.
type Stop struct {
	Seq           int        `json:"seq"`
	Kind          string     `json:"kind"` // start, pickup, candidate, unload, end
	PickupID      string     `json:"pickup_id,omitempty"`
	BinID         string     `json:"bin_id,omitempty"`
	SiteID        string     `json:"site_id,omitempty"`
	Lat           float64    `json:"lat"`
	Lon           float64    `json:"lon"`
	ETA           time.Time  `json:"eta"`
	Departure     time.Time  `json:"departure"`
	LoadKg        float64    `json:"load_kg"`
	DistanceKm    float64    `json:"distance_km"`
	ActualArrival *time.Time `json:"actual_arrival,omitempty"`
}

// Route is one vehicle's route of a stored plan.
type Route struct {
	VehicleID  string  `json:"vehicle_id"`
	Plate      string  `json:"plate"`
	DistanceKm float64 `json:"distance_km"`
	Cost       float64 `json:"cost"`
	Stops      []Stop  `json:"stops"`
}

// PlanView is a stored plan as the API returns it.
type PlanView struct {
	ID         string               `json:"id"`
	Date       string               `json:"date"`
	Status     string               `json:"status"`
	ParentID   string               `json:"parent_id,omitempty"`
	Created    time.Time            `json:"created"`
	Committed  *time.Time           `json:"committed,omitempty"`
	Routes     []Route              `json:"routes"`
	Unserved   []vrp.UnservedPickup `json:"unserved"`
	Changes    []vrp.StopChange     `json:"changes,omitempty"`
	DistanceKm float64              `json:"distance_km"`
	Cost       float64              `json:"cost"`
	GeoJSON    json.RawMessage      `json:"geojson"`
	SVGURL     string               `json:"svg_url"`
	Planned    []string             `json:"planned_pickups,omitempty"`
}

// meta keeps what a plan's view needs besides the planner's own records.
type meta struct {
	Plates map[string]string `json:"plates"`
	Sites  map[string]string `json:"sites"` // stop id (pickup or bin:) -> site
}

const candidatePrefix = "bin:"

// Plan builds and stores a proposed plan for a day.
func (s *Service) Plan(ctx context.Context, in PlanInput) (PlanView, error) {
	day, err := time.ParseInLocation("2006-01-02", in.Date, s.opts.Location)
	if err != nil {
		return PlanView{}, revloop.Invalid("date", "%q is not a date (YYYY-MM-DD)", in.Date)
	}
	if in.TimeLimitS < 0 || in.TimeLimitS > 300 {
		return PlanView{}, revloop.Invalid("time_limit_s", "want 0 to 300 seconds")
	}
	req, m, err := s.request(ctx, day, in)
	if err != nil {
		return PlanView{}, err
	}
	res, err := vrp.Plan(ctx, req)
	if err != nil {
		return PlanView{}, planError(err)
	}
	return s.save(ctx, in.Date, "", req, res, nil, m)
}

func planError(err error) error {
	if errors.Is(err, vrp.ErrInvalidRequest) {
		return fmt.Errorf("%w: %v", revloop.ErrInvalid, err)
	}
	return err
}

// sites returns every site by id and the first yard's position.
func (s *Service) sites(ctx context.Context) (map[string]dispatch.Site, *vrp.LatLon, error) {
	sites := map[string]dispatch.Site{}
	var yard *vrp.LatLon
	for after := ""; ; {
		page, next, err := s.dispatch.ListSites(ctx, dispatch.All, dispatch.SiteFilter{}, dispatch.Page{Limit: 1000, After: after})
		if err != nil {
			return nil, nil, err
		}
		for _, st := range page {
			sites[st.ID] = st
			if st.Kind == "yard" && yard == nil {
				yard = &vrp.LatLon{Lat: st.Location[1], Lon: st.Location[0]}
			}
		}
		if next == "" {
			return sites, yard, nil
		}
		after = next
	}
}

// pickupStop turns a pickup request at a site into a planner stop.
func (s *Service) pickupStop(p dispatch.Pickup, site dispatch.Site) vrp.PlanPickup {
	kg := p.EstimatedKg
	if kg <= 0 {
		kg = s.opts.DefaultKg
	}
	pp := vrp.PlanPickup{ID: p.ID, At: vrp.LatLon{Lat: site.Location[1], Lon: site.Location[0]}, KG: kg, M3: p.EstimatedM3, Service: s.opts.ServiceTime}
	if !p.WindowFrom.IsZero() && !p.WindowTo.IsZero() {
		pp.Windows = []vrp.TimeWindow{{From: p.WindowFrom, To: p.WindowTo}}
	}
	return pp
}

// request gathers the day's open pickups, forecast candidates and vehicles.
func (s *Service) request(ctx context.Context, day time.Time, in PlanInput) (vrp.PlanRequest, meta, error) {
	m := meta{Plates: map[string]string{}, Sites: map[string]string{}}
	sites, yard, err := s.sites(ctx)
	if err != nil {
		return vrp.PlanRequest{}, m, err
	}
	shiftStart, shiftEnd := day.Add(s.opts.ShiftStart), day.Add(s.opts.ShiftEnd)
	req := vrp.PlanRequest{TimeLimit: s.opts.TimeLimit, Provider: s.opts.Provider, Seed: 1}
	if in.TimeLimitS > 0 {
		req.TimeLimit = time.Duration(in.TimeLimitS * float64(time.Second))
	}
	vehicles, err := s.dispatch.AllVehicles(ctx)
	if err != nil {
		return req, m, err
	}
	want := map[string]bool{}
	for _, v := range in.Vehicles {
		want[v] = true
	}
	for _, v := range vehicles {
		if len(want) > 0 && !want[v.ID] {
			continue
		}
		start := yard
		if d, ok := sites[v.DepotSiteID]; ok {
			start = &vrp.LatLon{Lat: d.Location[1], Lon: d.Location[0]}
		}
		if start == nil {
			return req, m, revloop.Invalid("vehicles", "vehicle %s has no depot and there is no yard site to start from", v.ID)
		}
		req.Vehicles = append(req.Vehicles, vrp.PlanVehicle{ID: v.ID, CapacityKG: v.CapacityKg, CapacityM3: v.CapacityM3,
			ShiftStart: shiftStart, ShiftEnd: shiftEnd, Start: *start, End: *start, Yard: yard, UnloadTime: s.opts.UnloadTime,
			CostPerKM: s.opts.CostPerKm, CostPerHour: s.opts.CostPerHour})
		m.Plates[v.ID] = v.Plate
	}
	if len(req.Vehicles) == 0 {
		return req, m, revloop.Invalid("vehicles", "no vehicle to plan with")
	}
	for after := ""; ; {
		page, next, err := s.dispatch.ListPickups(ctx, dispatch.All, dispatch.PickupFilter{Status: dispatch.PickupRequested}, dispatch.Page{Limit: 1000, After: after})
		if err != nil {
			return req, m, err
		}
		for _, p := range page {
			// A pickup belongs to the day its window touches.
			if !p.WindowTo.IsZero() && p.WindowTo.Before(shiftStart) || !p.WindowFrom.IsZero() && !p.WindowFrom.Before(shiftEnd) {
				continue
			}
			st, ok := sites[p.SiteID]
			if !ok {
				continue
			}
			req.Pickups = append(req.Pickups, s.pickupStop(p, st))
			m.Sites[p.ID] = p.SiteID
		}
		if next == "" {
			break
		}
		after = next
	}
	if in.IncludeForecast && s.candidates != nil {
		// Bins due by the end of the shift plus the horizon.
		cs, err := s.candidates.Due(ctx, shiftEnd.Sub(s.opts.Now())+s.opts.Horizon)
		if err != nil {
			return req, m, err
		}
		for _, c := range cs {
			st, ok := sites[c.SiteID]
			if !ok {
				continue
			}
			kg := c.Kg
			if kg <= 0 {
				kg = s.opts.CandidateKg
			}
			id := candidatePrefix + c.BinID
			req.Pickups = append(req.Pickups, vrp.PlanPickup{ID: id, At: vrp.LatLon{Lat: st.Location[1], Lon: st.Location[0]},
				KG: kg, Service: s.opts.ServiceTime, Optional: true, Value: s.opts.CandidateValue})
			m.Sites[id] = c.SiteID
		}
	}
	return req, m, nil
}

func newID(day string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "plan-" + strings.ReplaceAll(day, "-", "") + "-" + hex.EncodeToString(b)
}

func (s *Service) save(ctx context.Context, day, parent string, req vrp.PlanRequest, res vrp.PlanResult, changes []vrp.StopChange, m meta) (PlanView, error) {
	id := newID(day)
	rq, _ := json.Marshal(req)
	rs, _ := json.Marshal(res)
	ch, _ := json.Marshal(changes)
	mt, _ := json.Marshal(m)
	now := s.opts.Now()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if parent != "" {
			if _, err := tx.Exec(ctx, `UPDATE route_plans SET status = ? WHERE id = ? AND status = ?`, StatusSuperseded, parent, StatusProposed); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO route_plans (id, day, status, parent_id, created_ms, request, result, changes, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, day, StatusProposed, parent, store.Millis(now), string(rq), string(rs), string(ch), string(mt))
		return err
	})
	if err != nil {
		return PlanView{}, fmt.Errorf("save plan: %w", err)
	}
	return s.Get(ctx, id)
}

type stored struct {
	id, day, status, parent, by string
	created, committed          int64
	req                         vrp.PlanRequest
	res                         vrp.PlanResult
	changes                     []vrp.StopChange
	meta                        meta
}

func (s *Service) load(ctx context.Context, q store.Querier, id string) (stored, error) {
	var st stored
	var rq, rs, ch, mt string
	err := q.QueryRow(ctx, `SELECT id, day, status, parent_id, created_ms, committed_ms, committed_by, request, result, changes, meta FROM route_plans WHERE id = ?`, id).
		Scan(&st.id, &st.day, &st.status, &st.parent, &st.created, &st.committed, &st.by, &rq, &rs, &ch, &mt)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("plan %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("plan %q: %w", id, err)
	}
	for _, x := range []struct {
		raw string
		v   any
	}{{rq, &st.req}, {rs, &st.res}, {ch, &st.changes}, {mt, &st.meta}} {
		if err := json.Unmarshal([]byte(x.raw), x.v); err != nil {
			return st, fmt.Errorf("plan %q: %w", id, err)
		}
	}
	st.req.Provider = s.opts.Provider
	return st, nil
}

// Get returns a stored plan; for a committed plan each pickup stop carries
// the vehicle's actual arrival at its site when the geofence events know it.
func (s *Service) Get(ctx context.Context, id string) (PlanView, error) {
	st, err := s.load(ctx, s.db, id)
	if err != nil {
		return PlanView{}, err
	}
	v := PlanView{ID: st.id, Date: st.day, Status: st.status, ParentID: st.parent, Created: store.FromMillis(st.created),
		Unserved: st.res.Unserved, Changes: st.changes, DistanceKm: st.res.DistanceKM, Cost: st.res.Cost, Routes: []Route{},
		SVGURL: "/api/v1/routes/" + st.id + "/map.svg"}
	if v.Unserved == nil {
		v.Unserved = []vrp.UnservedPickup{}
	}
	if st.committed > 0 {
		t := store.FromMillis(st.committed)
		v.Committed = &t
	}
	for _, r := range st.res.Routes {
		route := Route{VehicleID: r.VehicleID, Plate: st.meta.Plates[r.VehicleID], DistanceKm: r.DistanceKM, Cost: r.Cost}
		for i, stop := range r.Stops {
			out := Stop{Seq: i, Kind: stop.Kind, Lat: stop.At.Lat, Lon: stop.At.Lon, ETA: stop.Arrival, Departure: stop.Departure,
				LoadKg: stop.LoadKG, DistanceKm: stop.DistanceKM}
			if stop.PickupID != "" {
				out.SiteID = st.meta.Sites[stop.PickupID]
				if bin, ok := strings.CutPrefix(stop.PickupID, candidatePrefix); ok {
					out.Kind, out.BinID = "candidate", bin
				} else {
					out.PickupID = stop.PickupID
				}
			}
			if st.status == StatusCommitted && out.SiteID != "" && s.arrivals != nil {
				at, ok, err := s.arrivals.ArrivedAt(ctx, r.VehicleID, out.SiteID, stop.Arrival.Add(-4*time.Hour), stop.Arrival.Add(8*time.Hour))
				if err != nil {
					return v, err
				}
				if ok {
					out.ActualArrival = &at
				}
			}
			route.Stops = append(route.Stops, out)
		}
		v.Routes = append(v.Routes, route)
	}
	gj, err := json.Marshal(vrp.GeoJSON(st.res, st.req.Pickups))
	if err != nil {
		return v, err
	}
	v.GeoJSON = gj
	return v, nil
}

// WriteSVG draws a stored plan as an SVG map.
func (s *Service) WriteSVG(ctx context.Context, id string, w io.Writer) error {
	st, err := s.load(ctx, s.db, id)
	if err != nil {
		return err
	}
	return vrp.WriteSVG(w, st.res, st.req.Pickups, 900, 700)
}

// Commit marks a proposed plan's pickups planned; forecast candidates on the
// plan become pickup requests of their bin's site first. Committing twice
// is refused with the plan's status.
func (s *Service) Commit(ctx context.Context, id, actor string) (PlanView, error) {
	st, err := s.load(ctx, s.db, id)
	if err != nil {
		return PlanView{}, err
	}
	if st.status != StatusProposed {
		return PlanView{}, &revloop.TransitionError{Entity: "plan " + id, From: st.status, To: StatusCommitted, Allowed: allowedFrom(st.status)}
	}
	var planned []string
	for _, r := range st.res.Routes {
		for _, stop := range r.Stops {
			if stop.PickupID == "" {
				continue
			}
			pid := stop.PickupID
			if bin, ok := strings.CutPrefix(pid, candidatePrefix); ok {
				b, err := s.dispatch.Bin(ctx, dispatch.All, bin)
				if err != nil {
					return PlanView{}, err
				}
				p, err := s.dispatch.CreatePickup(ctx, dispatch.All, dispatch.Pickup{CustomerID: b.CustomerID, SiteID: b.SiteID, Material: b.Material,
					EstimatedKg: stop.LoadKG, WindowFrom: stop.Arrival.Add(-time.Hour), WindowTo: stop.Departure.Add(time.Hour)}, actor)
				if err != nil {
					return PlanView{}, fmt.Errorf("commit plan %s: pickup for bin %s: %w", id, bin, err)
				}
				pid = p.ID
			}
			if _, err := s.dispatch.TransitionPickup(ctx, dispatch.All, pid, dispatch.PickupPlanned, "plan "+id, actor); err != nil {
				if !errors.Is(err, revloop.ErrConflict) {
					return PlanView{}, fmt.Errorf("commit plan %s: %w", id, err)
				}
				// Already planned by the plan this one re-plans: it stays
				// planned; cancelled since: it stays out.
				if p, perr := s.dispatch.Pickup(ctx, dispatch.All, pid); perr != nil || p.Status != dispatch.PickupPlanned {
					continue
				}
			}
			planned = append(planned, pid)
		}
	}
	// Re-planning a committed plan: what the new plan leaves out is open again.
	if st.parent != "" {
		for _, u := range st.res.Unserved {
			if strings.HasPrefix(u.PickupID, candidatePrefix) {
				continue
			}
			if p, err := s.dispatch.Pickup(ctx, dispatch.All, u.PickupID); err == nil && p.Status == dispatch.PickupPlanned {
				if _, err := s.dispatch.TransitionPickup(ctx, dispatch.All, u.PickupID, dispatch.PickupRequested, "left out by plan "+id+": "+u.Reason, actor); err != nil {
					return PlanView{}, fmt.Errorf("commit plan %s: %w", id, err)
				}
			}
		}
		if _, err := s.db.Exec(ctx, `UPDATE route_plans SET status = ? WHERE id = ?`, StatusSuperseded, st.parent); err != nil {
			return PlanView{}, fmt.Errorf("commit plan %s: %w", id, err)
		}
	}
	if _, err := s.db.Exec(ctx, `UPDATE route_plans SET status = ?, committed_ms = ?, committed_by = ? WHERE id = ?`,
		StatusCommitted, store.Millis(s.opts.Now()), actor, id); err != nil {
		return PlanView{}, fmt.Errorf("commit plan %s: %w", id, err)
	}
	v, err := s.Get(ctx, id)
	sort.Strings(planned)
	v.Planned = planned
	return v, err
}

func allowedFrom(status string) []string {
	if status == StatusProposed {
		return []string{StatusCommitted, StatusSuperseded}
	}
	return []string{}
}

// ReplanInput changes a plan: vehicles out of service and urgent pickups
// (ids of requested pickups) to insert.
type ReplanInput struct {
	PlanID         string   `json:"plan_id"`
	RemoveVehicles []string `json:"remove_vehicles,omitempty"`
	AddPickups     []string `json:"add_pickups,omitempty"`
}

// Replan re-plans a stored plan with least disruption and stores the result
// as a new proposed plan; the changed stops are listed. Pickups of a
// committed plan that the new plan leaves unserved go back to requested when
// the new plan is committed.
func (s *Service) Replan(ctx context.Context, in ReplanInput) (PlanView, error) {
	if in.PlanID == "" {
		return PlanView{}, revloop.Invalid("plan_id", "required")
	}
	if len(in.RemoveVehicles) == 0 && len(in.AddPickups) == 0 {
		return PlanView{}, revloop.Invalid("remove_vehicles", "name vehicles to remove or pickups to add")
	}
	st, err := s.load(ctx, s.db, in.PlanID)
	if err != nil {
		return PlanView{}, err
	}
	if st.status == StatusSuperseded {
		return PlanView{}, &revloop.TransitionError{Entity: "plan " + in.PlanID, From: st.status, To: "replanned", Allowed: []string{}}
	}
	known := map[string]bool{}
	for _, v := range st.req.Vehicles {
		known[v.ID] = true
	}
	for _, v := range in.RemoveVehicles {
		if !known[v] {
			return PlanView{}, revloop.Invalid("remove_vehicles", "vehicle %q is not in plan %s", v, in.PlanID)
		}
	}
	ch := vrp.Change{RemoveVehicles: in.RemoveVehicles}
	if len(in.AddPickups) > 0 {
		sites, _, err := s.sites(ctx)
		if err != nil {
			return PlanView{}, err
		}
		for _, id := range in.AddPickups {
			p, err := s.dispatch.Pickup(ctx, dispatch.All, id)
			if err != nil {
				return PlanView{}, revloop.Invalid("add_pickups", "pickup %q: %v", id, err)
			}
			if p.Status != dispatch.PickupRequested {
				return PlanView{}, revloop.Invalid("add_pickups", "pickup %q is %s, not requested", id, p.Status)
			}
			site, ok := sites[p.SiteID]
			if !ok {
				return PlanView{}, revloop.Invalid("add_pickups", "pickup %q: site %q not found", id, p.SiteID)
			}
			ch.AddPickups = append(ch.AddPickups, s.pickupStop(p, site))
			st.meta.Sites[p.ID] = p.SiteID
		}
	}
	res, next, changes, err := vrp.Replan(ctx, st.req, st.res, ch)
	if err != nil {
		return PlanView{}, planError(err)
	}
	return s.save(ctx, st.day, st.id, next, res, changes, st.meta)
}

// List returns the plans of a day, newest first.
func (s *Service) List(ctx context.Context, day string) ([]PlanView, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM route_plans WHERE day = ? ORDER BY created_ms DESC`, day)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := []PlanView{}
	for _, id := range ids {
		v, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
