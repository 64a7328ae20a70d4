package fleet

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/store"
)

// PositionReader reads a tracker's stored fixes (timeseries.Reader has it).
type PositionReader interface {
	Positions(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.Position, error)
}

// MaxReportDays bounds the period of a trips report.
const MaxReportDays = 31

// TripJSON is a trip as the API shows it.
type TripJSON struct {
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	From        [2]float64 `json:"from"` // [lon, lat]
	To          [2]float64 `json:"to"`
	DistanceKm  float64    `json:"distance_km"`
	OdometerKm  *float64   `json:"odometer_km,omitempty"`
	DrivingS    float64    `json:"driving_s"`
	IdleS       float64    `json:"idle_s"`
	MaxSpeedKmh float64    `json:"max_speed_kmh"`
	Fixes       int        `json:"fixes"`
}

// StopJSON is a stop as the API shows it.
type StopJSON struct {
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	DurationS   float64    `json:"duration_s"`
	Point       [2]float64 `json:"point"` // [lon, lat]
	EngineOnS   float64    `json:"engine_on_s"`
	Fixes       int        `json:"fixes"`
	SiteID      string     `json:"site_id,omitempty"` // the site whose fence holds the stop
	IgnitionOff bool       `json:"ignition_off"`
}

// DaySummaryJSON sums a vehicle's day.
type DaySummaryJSON struct {
	Trips       int     `json:"trips"`
	Stops       int     `json:"stops"`
	DistanceKm  float64 `json:"distance_km"`
	DrivingS    float64 `json:"driving_s"`
	IdleS       float64 `json:"idle_s"`
	StopS       float64 `json:"stop_s"`
	MaxSpeedKmh float64 `json:"max_speed_kmh"`
}

// VehicleDay is a vehicle's trips and stops of one local day.
type VehicleDay struct {
	Vehicle string         `json:"vehicle"`
	Date    string         `json:"date"`
	Fixes   int            `json:"fixes"`
	Trips   []TripJSON     `json:"trips"`
	Stops   []StopJSON     `json:"stops"`
	Summary DaySummaryJSON `json:"summary"`
}

// Trips computes trips and stops from the stored fixes on request.
type Trips struct {
	cat  *catalog
	pos  PositionReader
	loc  *time.Location
	opts geo.TripOptions
}

func round(v float64, prec int) float64 {
	p := math.Pow10(prec)
	return math.Round(v*p) / p
}

func fixesOf(ps []revloop.Position) []geo.Fix {
	out := make([]geo.Fix, len(ps))
	for i, p := range ps {
		out[i] = geo.Fix{Time: p.Time, SpeedKmh: p.SpeedKmh, OdometerKm: p.OdometerKm, Ignition: p.Ignition}
		out[i].Point[0], out[i].Point[1] = p.Lon, p.Lat
	}
	return out
}

// ParseDate parses a local day (YYYY-MM-DD) in the fleet's time zone.
func (t *Trips) ParseDate(field, s string) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, s, t.loc)
	if err != nil {
		return time.Time{}, revloop.Invalid(field, "want a date YYYY-MM-DD, got %q", s)
	}
	return d, nil
}

// withDefaults fills zero thresholds of o with the service's.
func (t *Trips) withDefaults(o geo.TripOptions) (geo.TripOptions, error) {
	if err := o.Validate(); err != nil {
		return o, revloop.Invalid("min_stop", "%v", err)
	}
	if o.MinStop == 0 {
		o.MinStop = t.opts.MinStop
	}
	if o.MinTripDistanceM == 0 {
		o.MinTripDistanceM = t.opts.MinTripDistanceM
	}
	if o.StopSpeedKmh == 0 {
		o.StopSpeedKmh = t.opts.StopSpeedKmh
	}
	if o.StopRadiusM == 0 {
		o.StopRadiusM = t.opts.StopRadiusM
	}
	return o, nil
}

// Day returns a vehicle's trips and stops of the local day date.
func (t *Trips) Day(ctx context.Context, vehicleID string, date time.Time, o geo.TripOptions) (VehicleDay, error) {
	v, ok := t.cat.vehicle(vehicleID)
	if !ok {
		if err := t.cat.refresh(ctx); err != nil {
			return VehicleDay{}, err
		}
		if v, ok = t.cat.vehicle(vehicleID); !ok {
			return VehicleDay{}, fmt.Errorf("vehicle %s: %w", vehicleID, store.ErrNotFound)
		}
	}
	o, err := t.withDefaults(o)
	if err != nil {
		return VehicleDay{}, err
	}
	from := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, t.loc)
	to := from.AddDate(0, 0, 1)
	out := VehicleDay{Vehicle: v.ID, Date: from.Format(time.DateOnly), Trips: []TripJSON{}, Stops: []StopJSON{}}
	if v.TrackerDeviceID == "" {
		return out, nil
	}
	ps, err := t.pos.Positions(ctx, revloop.DeviceID(v.TrackerDeviceID), from, to)
	if err != nil {
		return VehicleDay{}, fmt.Errorf("trips of %s: %w", v.ID, err)
	}
	out.Fixes = len(ps)
	trips, stops := geo.DetectTrips(fixesOf(ps), o)
	for _, tr := range trips {
		tj := TripJSON{Start: tr.Start, End: tr.End, From: [2]float64{tr.From.X(), tr.From.Y()}, To: [2]float64{tr.To.X(), tr.To.Y()},
			DistanceKm: round(tr.DistanceM/1000, 3), DrivingS: tr.DrivingTime.Seconds(), IdleS: tr.IdleTime.Seconds(),
			MaxSpeedKmh: tr.MaxSpeedKmh, Fixes: tr.Fixes}
		if !math.IsNaN(tr.OdometerM) {
			km := round(tr.OdometerM/1000, 3)
			tj.OdometerKm = &km
		}
		out.Trips = append(out.Trips, tj)
	}
	for _, s := range stops {
		sj := StopJSON{Start: s.Start, End: s.End, DurationS: s.Duration().Seconds(), Point: [2]float64{s.Point.X(), s.Point.Y()},
			EngineOnS: s.EngineOnTime.Seconds(), Fixes: s.Fixes, IgnitionOff: s.EngineOnTime < s.Duration()/2}
		sj.SiteID = t.cat.siteAt(s.Point)
		out.Stops = append(out.Stops, sj)
	}
	for _, d := range geo.Summarize(v.ID, trips, stops, t.loc) {
		if d.Date != out.Date {
			continue
		}
		out.Summary = DaySummaryJSON{Trips: d.Trips, Stops: d.Stops, DistanceKm: round(d.DistanceKm, 3), DrivingS: d.DrivingTime.Seconds(),
			IdleS: d.IdleTime.Seconds(), StopS: d.StopTime.Seconds(), MaxSpeedKmh: d.MaxSpeedKmh}
	}
	return out, nil
}

// Report summarises every vehicle's trips per local day from the day of
// from to the day of to, both included.
func (t *Trips) Report(ctx context.Context, from, to time.Time, o geo.TripOptions) ([]geo.DaySummary, error) {
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, t.loc)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, t.loc).AddDate(0, 0, 1)
	if !to.After(from) {
		return nil, revloop.Invalid("to", "must not be before from")
	}
	if to.Sub(from) > MaxReportDays*24*time.Hour+time.Hour {
		return nil, revloop.Invalid("to", "at most %d days per report", MaxReportDays)
	}
	o, err := t.withDefaults(o)
	if err != nil {
		return nil, err
	}
	if err := t.cat.refresh(ctx); err != nil {
		return nil, err
	}
	vs := t.cat.allVehicles()
	sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
	var out []geo.DaySummary
	for _, v := range vs {
		if v.TrackerDeviceID == "" {
			continue
		}
		ps, err := t.pos.Positions(ctx, revloop.DeviceID(v.TrackerDeviceID), from, to)
		if err != nil {
			return nil, fmt.Errorf("trips report %s: %w", v.ID, err)
		}
		if len(ps) == 0 {
			continue
		}
		trips, stops := geo.DetectTrips(fixesOf(ps), o)
		for _, d := range geo.Summarize(v.ID, trips, stops, t.loc) {
			d.DistanceKm = round(d.DistanceKm, 3)
			out = append(out, d)
		}
	}
	return out, nil
}
