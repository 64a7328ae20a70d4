package compliance

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/compliance/emissions"
	"github.com/revloop/revloop/geo"
)

// fakeTracks serves a straight-line track per device.
type fakeTracks map[revloop.DeviceID][]revloop.Position

func (f fakeTracks) Positions(_ context.Context, d revloop.DeviceID, from, to time.Time) ([]revloop.Position, error) {
	var out []revloop.Position
	for _, p := range f[d] {
		if !p.Time.Before(from) && p.Time.Before(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

// drive appends fixes every 10 s moving east at 36 km/h from start for d,
// then stands still for 10 minutes.
func drive(track []revloop.Position, dev revloop.DeviceID, start time.Time, from orb.Point, d time.Duration) ([]revloop.Position, orb.Point) {
	pt := from
	for t := time.Duration(0); t <= d; t += 10 * time.Second {
		track = append(track, revloop.Position{Device: dev, Time: start.Add(t), Lat: pt[1], Lon: pt[0], SpeedKmh: 36})
		pt = geo.Destination(pt, 90, 100)
	}
	end := start.Add(d)
	last := track[len(track)-1]
	for t := 10 * time.Second; t <= 10*time.Minute; t += 10 * time.Second {
		track = append(track, revloop.Position{Device: dev, Time: end.Add(t), Lat: last.Lat, Lon: last.Lon})
	}
	return track, orb.Point{last.Lon, last.Lat}
}

func TestEmissionsRecomputeByHand(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.db.Exec(ctx, `INSERT INTO vehicles (id, plate, capacity_kg, capacity_m3, fuel_type, consumption_per_100km, consumption_unit, tracker_device_id, created_ms, updated_ms)
		VALUES ('truck-1', '1-ABC-001', 12000, 30, 'diesel', 35, 'l', 'trk-1', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	// truck-1 drives 20 minutes (about 12 km) ending 10 minutes before its
	// first ticket's gross weighing, then 10 minutes empty after the day's work.
	var track []revloop.Position
	track, at := drive(track, "trk-1", t0.Add(-40*time.Minute), orb.Point{3.70, 51.05}, 20*time.Minute)
	track, _ = drive(track, "trk-1", t0.Add(10*time.Hour), at, 10*time.Minute)
	res, err := f.svc().Emissions(ctx, Period{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)}, fakeTracks{"trk-1": track}, emissions.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Vehicles) != 1 {
		t.Fatalf("vehicles %d", len(res.Vehicles))
	}
	v := res.Vehicles[0]
	if v.Trips != 2 || v.Rounds != 1 {
		t.Fatalf("trips %d rounds %d", v.Trips, v.Rounds)
	}
	// By hand: loaded trip of L km with 4 t net collected → 2 t average aboard.
	loaded, empty := v.LoadedKm, v.EmptyKm
	if math.Abs(loaded-12) > 0.3 || math.Abs(empty-6) > 0.3 {
		t.Fatalf("loaded %.2f km, empty %.2f km; want about 12 and 6", loaded, empty)
	}
	fuel := (loaded + empty) / 100 * 35
	wtw := fuel * (0.57 + 2.67)
	if math.Abs(v.FuelUsed-fuel) > 1e-9 || math.Abs(v.WTWKgCO2e-wtw) > 1e-9 {
		t.Fatalf("fuel %.6f wtw %.6f, by hand %.6f %.6f", v.FuelUsed, v.WTWKgCO2e, fuel, wtw)
	}
	tkm := 2.0 * loaded
	if math.Abs(v.TonneKm-tkm) > 1e-9 || math.Abs(res.Intensity-wtw*1000/tkm) > 1e-9 {
		t.Fatalf("tkm %.6f intensity %.6f, by hand %.6f %.6f", v.TonneKm, res.Intensity, tkm, wtw*1000/tkm)
	}
	if math.Abs(res.ByCustomer["cust-a"]-wtw) > 1e-9 || len(res.ByLot) != 1 {
		t.Fatalf("allocation %+v %+v, want all %.6f to cust-a's one lot", res.ByCustomer, res.ByLot, wtw)
	}
}
