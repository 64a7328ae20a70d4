package compliance

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/paulmach/orb"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/compliance/emissions"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/report"
	"github.com/revloop/revloop/store"
)

// Tracks reads vehicle positions (the time-series store).
type Tracks interface {
	Positions(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.Position, error)
}

// VehicleEmissions is one vehicle's emissions over a period.
type VehicleEmissions struct {
	emissions.Result
	Plate  string `json:"plate"`
	Trips  int    `json:"trips"`
	Rounds int    `json:"collection_rounds"`
}

// FleetEmissions are the emissions of the fleet over a period with their
// allocation to customers and lots.
type FleetEmissions struct {
	Period     Period             `json:"period"`
	Vehicles   []VehicleEmissions `json:"vehicles"`
	ByCustomer map[string]float64 `json:"kg_co2e_by_customer"`
	ByLot      map[string]float64 `json:"kg_co2e_by_lot"`
	TotalKg    float64            `json:"total_kg_co2e"`
	TonneKm    float64            `json:"tonne_km"`
	Intensity  float64            `json:"intensity_g_co2e_per_tkm"`
}

// Emissions computes ISO 14083-style emissions of every vehicle with a
// tracker over the period.
//
// Distance comes from the vehicle's GPS track (trips between stops). A
// collection round is the driving between the vehicle leaving the yard (the
// tare of its previous ticket, or the period start) and arriving with a load
// (the gross weighing of the next ticket); the load grows from nothing to the
// ticket's net weight along the round, so the round is counted with half the
// net weight aboard, split between the lots received from that ticket in
// proportion to their mass. Driving outside rounds is empty running.
func (s *Service) Emissions(ctx context.Context, p Period, tracks Tracks, calc *emissions.Calculator) (FleetEmissions, error) {
	out := FleetEmissions{Period: p, ByCustomer: map[string]float64{}, ByLot: map[string]float64{}}
	rows, err := s.db.Query(ctx, `SELECT id, plate, fuel_type, consumption_per_100km, capacity_kg, tracker_device_id FROM vehicles
		WHERE tracker_device_id <> '' ORDER BY id`)
	if err != nil {
		return out, fmt.Errorf("emissions: %w", err)
	}
	type veh struct {
		id, plate, fuel, tracker string
		cons, capKg              float64
	}
	var vs []veh
	for rows.Next() {
		var v veh
		if err := rows.Scan(&v.id, &v.plate, &v.fuel, &v.cons, &v.capKg, &v.tracker); err != nil {
			rows.Close()
			return out, fmt.Errorf("emissions: %w", err)
		}
		vs = append(vs, v)
	}
	rows.Close()
	lotCustomer := map[string]string{}
	for _, v := range vs {
		pos, err := tracks.Positions(ctx, revloop.DeviceID(v.tracker), p.From, p.To)
		if err != nil {
			return out, fmt.Errorf("emissions %s: %w", v.id, err)
		}
		fixes := make([]geo.Fix, len(pos))
		for i, q := range pos {
			fixes[i] = geo.Fix{Time: q.Time, Point: orb.Point{q.Lon, q.Lat}, SpeedKmh: q.SpeedKmh, OdometerKm: q.OdometerKm, Ignition: q.Ignition}
		}
		trips, _ := geo.DetectTrips(fixes, geo.TripOptions{})
		rounds, err := s.rounds(ctx, []string{v.id, v.plate}, p, lotCustomer)
		if err != nil {
			return out, err
		}
		legs := legsOf(trips, rounds)
		res, err := calc.Compute(emissions.Vehicle{ID: v.id, Fuel: v.fuel, EmptyPer100Km: v.cons, CapacityKg: v.capKg}, legs)
		if err != nil {
			return out, fmt.Errorf("emissions %s: %w", v.id, err)
		}
		out.Vehicles = append(out.Vehicles, VehicleEmissions{Result: res, Plate: v.plate, Trips: len(trips), Rounds: len(rounds)})
		for lot, kg := range res.Allocated {
			out.ByLot[lot] += kg
			out.ByCustomer[lotCustomer[lot]] += kg
		}
		out.TotalKg += res.WTWKgCO2e
		out.TonneKm += res.TonneKm
	}
	if out.TonneKm > 0 {
		out.Intensity = out.TotalKg * 1000 / out.TonneKm
	}
	return out, nil
}

// round is one collection round: driving in (start, end] with the lots of
// one ticket arriving at end.
type round struct {
	start, end time.Time
	loads      []emissions.Load // half of each lot's mass, by lot id
}

// rounds lists the collection rounds of a vehicle (known by id or plate on
// its tickets) ending in the period.
func (s *Service) rounds(ctx context.Context, names []string, p Period, lotCustomer map[string]string) ([]round, error) {
	rows, err := s.db.Query(ctx, `SELECT t.id, t.gross_ms, t.tare_ms FROM yard_tickets t
		WHERE t.current AND t.vehicle IN (?, ?) AND t.gross_ms >= ? AND t.gross_ms < ? AND t.net_kg IS NOT NULL ORDER BY t.gross_ms`,
		names[0], names[1], store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return nil, fmt.Errorf("emissions rounds: %w", err)
	}
	type tk struct {
		id          string
		gross, tare int64
	}
	var tks []tk
	for rows.Next() {
		var t tk
		if err := rows.Scan(&t.id, &t.gross, &t.tare); err != nil {
			rows.Close()
			return nil, fmt.Errorf("emissions rounds: %w", err)
		}
		tks = append(tks, t)
	}
	rows.Close()
	var out []round
	prevEnd := p.From
	for _, t := range tks {
		r := round{start: prevEnd, end: store.FromMillis(t.gross)}
		lrows, err := s.db.Query(ctx, `SELECT l.id, l.kg, l.customer FROM yard_transitions x JOIN yard_lot_history h ON h.transition = x.id AND h.role = 'output'
			JOIN yard_lots l ON l.id = h.lot WHERE x.kind = 'receive' AND l.ticket = ?`, t.id)
		if err != nil {
			return nil, fmt.Errorf("emissions rounds: %w", err)
		}
		for lrows.Next() {
			var id, cust string
			var kg float64
			if err := lrows.Scan(&id, &kg, &cust); err != nil {
				lrows.Close()
				return nil, fmt.Errorf("emissions rounds: %w", err)
			}
			r.loads = append(r.loads, emissions.Load{Ref: id, Kg: kg / 2})
			lotCustomer[id] = cust
		}
		lrows.Close()
		out = append(out, r)
		if t.tare > 0 {
			prevEnd = store.FromMillis(t.tare)
		} else {
			prevEnd = r.end
		}
	}
	return out, nil
}

// legsOf turns trips into legs, loaded when a trip ends inside a round.
func legsOf(trips []geo.Trip, rounds []round) []emissions.Leg {
	legs := make([]emissions.Leg, 0, len(trips))
	for _, t := range trips {
		leg := emissions.Leg{DistanceKm: t.DistanceM / 1000}
		i := sort.Search(len(rounds), func(i int) bool { return !rounds[i].end.Before(t.End) })
		if i < len(rounds) && t.End.After(rounds[i].start) {
			leg.Loads = rounds[i].loads
		}
		legs = append(legs, leg)
	}
	return legs
}

// EmissionsReport renders fleet emissions per vehicle and per customer.
func EmissionsReport(e FleetEmissions, generated time.Time) *report.Report {
	r := &report.Report{Title: "Fleet emissions (ISO 14083)", Subtitle: "Well-to-wheel CO2e from GPS distance, configured consumption and emission factors",
		From: e.Period.From, To: e.Period.To, Generated: generated}
	r.Sections = append(r.Sections, report.Section{Heading: "Summary", Figures: []report.Figure{
		{Label: "Emissions (WTW)", Value: e.TotalKg, Unit: "kg CO2e"},
		{Label: "Transport activity", Value: e.TonneKm, Unit: "t·km"},
		{Label: "Intensity", Value: e.Intensity, Unit: "g CO2e/t·km"},
	}})
	vt := &report.Table{Columns: []report.Column{{Name: "Vehicle"}, {Name: "Plate"}, {Name: "Fuel"}, {Name: "Distance", Unit: "km", Numeric: true},
		{Name: "Loaded", Unit: "km", Numeric: true}, {Name: "Empty", Unit: "km", Numeric: true}, {Name: "Fuel used", Numeric: true},
		{Name: "Activity", Unit: "t·km", Numeric: true}, {Name: "WTT", Unit: "kg CO2e", Numeric: true}, {Name: "TTW", Unit: "kg CO2e", Numeric: true},
		{Name: "WTW", Unit: "kg CO2e", Numeric: true}, {Name: "Intensity", Unit: "g/t·km", Numeric: true}}}
	chart := &report.Chart{Kind: report.Bar, Title: "WTW emissions per vehicle (kg CO2e)", Series: []report.Series{{Name: "kg CO2e"}}}
	var dist, wtw float64
	for _, v := range e.Vehicles {
		vt.Rows = append(vt.Rows, []any{v.Vehicle, v.Plate, v.Fuel, v.DistanceKm, v.LoadedKm, v.EmptyKm, fmt.Sprintf("%.1f %s", v.FuelUsed, v.FuelUnit),
			v.TonneKm, v.WTTKgCO2e, v.TTWKgCO2e, v.WTWKgCO2e, v.IntensityGTkm})
		chart.Labels = append(chart.Labels, v.Plate)
		chart.Series[0].Values = append(chart.Series[0].Values, v.WTWKgCO2e)
		dist += v.DistanceKm
		wtw += v.WTWKgCO2e
	}
	vt.Totals = []any{"total", "", "", dist, nil, nil, nil, e.TonneKm, nil, nil, wtw, e.Intensity}
	r.Sections = append(r.Sections, report.Section{Heading: "Per vehicle", Table: vt, Chart: chart})
	ct := &report.Table{Columns: []report.Column{{Name: "Customer"}, {Name: "Allocated", Unit: "kg CO2e", Numeric: true}}}
	custs := make([]string, 0, len(e.ByCustomer))
	for c := range e.ByCustomer {
		custs = append(custs, c)
	}
	sort.Strings(custs)
	for _, c := range custs {
		ct.Rows = append(ct.Rows, []any{c, e.ByCustomer[c]})
	}
	r.Sections = append(r.Sections, report.Section{Heading: "Allocated to customers", Text: "Allocated in proportion to each customer's tonne-km.", Table: ct})
	return r
}
