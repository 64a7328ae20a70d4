package emissions

import (
	"errors"
	"math"
	"testing"

	"github.com/revloop/revloop"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

// TestComputeByHand recomputes a collection round by hand: a diesel truck
// (30 l/100 km empty, 40 l/100 km at its 10 t payload) drives 10 km empty to
// a customer, picks up 2 t (pickup A), drives 20 km to a second customer,
// adds 3 t (pickup B), and drives 30 km to the yard.
func TestComputeByHand(t *testing.T) {
	c := New(nil)
	v := Vehicle{ID: "truck-1", Fuel: "diesel", EmptyPer100Km: 30, FullPer100Km: 40, CapacityKg: 10000}
	legs := []Leg{
		{DistanceKm: 10},
		{DistanceKm: 20, Loads: []Load{{"A", 2000}}},
		{DistanceKm: 30, Loads: []Load{{"A", 2000}, {"B", 3000}}},
	}
	r, err := c.Compute(v, legs)
	if err != nil {
		t.Fatal(err)
	}
	// Fuel: 10/100*30 + 20/100*(30+10*0.2) + 30/100*(30+10*0.5) = 3 + 6.4 + 10.5 = 19.9 l.
	// WTW: 19.9 * (0.57 + 2.67) = 64.476 kg. Tonne-km: 2*20 + 5*30 = 190.
	// A: 2*20 + 2*30 = 100 t·km; B: 3*30 = 90 t·km.
	wantFuel, wantWTW, wantTkm := 19.9, 19.9*3.24, 190.0
	if !near(r.FuelUsed, wantFuel) || !near(r.WTWKgCO2e, wantWTW) || !near(r.TonneKm, wantTkm) {
		t.Fatalf("fuel %.6f WTW %.6f tkm %.6f; want %.6f %.6f %.6f", r.FuelUsed, r.WTWKgCO2e, r.TonneKm, wantFuel, wantWTW, wantTkm)
	}
	if !near(r.TTWKgCO2e, 19.9*2.67) || !near(r.WTTKgCO2e, 19.9*0.57) {
		t.Errorf("TTW %.6f WTT %.6f", r.TTWKgCO2e, r.WTTKgCO2e)
	}
	if !near(r.IntensityGTkm, wantWTW*1000/190) {
		t.Errorf("intensity %.6f, want %.6f", r.IntensityGTkm, wantWTW*1000/190)
	}
	if !near(r.Allocated["A"], wantWTW*100/190) || !near(r.Allocated["B"], wantWTW*90/190) {
		t.Errorf("allocation %+v", r.Allocated)
	}
	if !near(r.LoadedKm, 50) || !near(r.EmptyKm, 10) || !near(r.DistanceKm, 60) {
		t.Errorf("distances: loaded %v empty %v total %v", r.LoadedKm, r.EmptyKm, r.DistanceKm)
	}
	sum := 0.0
	for _, v := range r.Allocated {
		sum += v
	}
	if !near(sum, r.WTWKgCO2e) {
		t.Errorf("allocations add up to %v, want %v", sum, r.WTWKgCO2e)
	}
}

func TestComputeRejects(t *testing.T) {
	c := New(map[string]Factor{"biogas": {Fuel: "biogas", Unit: "kg", WTTKgPerUnit: 0.6}})
	cases := []struct {
		name  string
		v     Vehicle
		legs  []Leg
		field string
	}{
		{"unknown fuel", Vehicle{Fuel: "coal"}, nil, "fuel"},
		{"negative distance", Vehicle{Fuel: "diesel"}, []Leg{{DistanceKm: -1}}, "distance_km"},
		{"negative load", Vehicle{Fuel: "diesel"}, []Leg{{DistanceKm: 1, Loads: []Load{{"x", -5}}}}, "kg"},
		{"negative consumption", Vehicle{Fuel: "diesel", EmptyPer100Km: -3}, nil, "consumption"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Compute(tc.v, tc.legs)
			var fe *revloop.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a %s field error", err, tc.field)
			}
		})
	}
	if _, err := c.Factor("BIOGAS"); err != nil {
		t.Errorf("configured fuel not found: %v", err)
	}
}

func TestEmptyTripHasNoIntensity(t *testing.T) {
	r, err := New(nil).Compute(Vehicle{ID: "e", Fuel: "electric", EmptyPer100Km: 120}, []Leg{{DistanceKm: 50}})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.FuelUsed, 60) || !near(r.WTWKgCO2e, 15) || r.IntensityGTkm != 0 || len(r.Allocated) != 0 {
		t.Fatalf("got %+v", r)
	}
}
