// Package emissions computes fleet greenhouse-gas emissions the way ISO 14083
// and the GLEC Framework ask: energy used from distance and a configured
// consumption, well-to-tank (WTT) and tank-to-wheel (TTW) emission factors
// per fuel, transport activity in tonne-kilometres, intensity in g CO2e per
// tonne-km, and allocation of a trip's emissions to the consignments it
// carried in proportion to their tonne-km.
//
// Default factors are the EN 16258:2012 Annex A values for fossil fuels (the
// basis the GLEC Framework carries forward) and typical published values for
// the others; every factor is configurable because fuel blends and grid mixes
// differ by country and year.
package emissions

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/revloop/revloop"
)

// Factor gives the emissions of one unit of a fuel (litre, kg or kWh).
type Factor struct {
	Fuel string `json:"fuel"`
	// Unit is the unit the consumption is measured in: "l", "kg" or "kWh".
	Unit string `json:"unit"`
	// WTTKgPerUnit is the well-to-tank emission factor in kg CO2e per unit.
	WTTKgPerUnit float64 `json:"wtt_kg_per_unit"`
	// TTWKgPerUnit is the tank-to-wheel emission factor in kg CO2e per unit.
	TTWKgPerUnit float64 `json:"ttw_kg_per_unit"`
	Source       string  `json:"source"`
}

// WTWKgPerUnit is the well-to-wheel factor, WTT plus TTW.
func (f Factor) WTWKgPerUnit() float64 { return f.WTTKgPerUnit + f.TTWKgPerUnit }

// DefaultFactors returns the built-in factors keyed by fuel name.
func DefaultFactors() map[string]Factor {
	en := "EN 16258:2012 Annex A"
	return map[string]Factor{
		"diesel":   {"diesel", "l", 0.57, 2.67, en},
		"petrol":   {"petrol", "l", 0.46, 2.42, en},
		"cng":      {"cng", "kg", 0.39, 2.68, en},
		"lng":      {"lng", "kg", 0.49, 2.68, "EN 16258 CNG combustion value with LNG supply chain"},
		"lpg":      {"lpg", "l", 0.27, 1.70, en},
		"hvo":      {"hvo", "l", 0.50, 0.00, "HVO from waste oils: biogenic TTW CO2 reported as zero"},
		"electric": {"electric", "kWh", 0.25, 0.00, "EU average grid mix; set per country"},
	}
}

// Vehicle is what the calculation needs to know about a vehicle.
type Vehicle struct {
	ID   string
	Fuel string
	// EmptyPer100Km and FullPer100Km are consumption in fuel units per 100 km
	// when empty and at full payload; consumption is interpolated linearly
	// in between. FullPer100Km zero means EmptyPer100Km at every load.
	EmptyPer100Km float64
	FullPer100Km  float64
	CapacityKg    float64
}

// Leg is one stretch of a trip driven with a constant load.
type Leg struct {
	DistanceKm float64
	// Loads are the consignments aboard (lot, pickup or customer ids) and
	// their mass in kg. An empty leg has none.
	Loads []Load
}

// Load is one consignment aboard a leg.
type Load struct {
	Ref string // what the share is allocated to: a pickup, lot or customer id
	Kg  float64
}

// Result is the emissions of a set of legs.
type Result struct {
	Vehicle       string  `json:"vehicle"`
	Fuel          string  `json:"fuel"`
	DistanceKm    float64 `json:"distance_km"`
	LoadedKm      float64 `json:"loaded_km"`
	EmptyKm       float64 `json:"empty_km"`
	FuelUsed      float64 `json:"fuel_used"`
	FuelUnit      string  `json:"fuel_unit"`
	TonneKm       float64 `json:"tonne_km"`
	WTTKgCO2e     float64 `json:"wtt_kg_co2e"`
	TTWKgCO2e     float64 `json:"ttw_kg_co2e"`
	WTWKgCO2e     float64 `json:"wtw_kg_co2e"`
	IntensityGTkm float64 `json:"intensity_g_co2e_per_tkm"` // WTW; 0 when no tonne-km
	// Allocated is WTW kg CO2e per load ref, in proportion to tonne-km.
	Allocated map[string]float64 `json:"allocated_kg_co2e"`
}

// Calculator computes emissions with a set of factors.
type Calculator struct {
	factors map[string]Factor
}

// New returns a Calculator; factors overrides or adds to DefaultFactors.
func New(factors map[string]Factor) *Calculator {
	all := DefaultFactors()
	for k, f := range factors {
		all[strings.ToLower(k)] = f
	}
	return &Calculator{factors: all}
}

// Factor returns the factor of a fuel.
func (c *Calculator) Factor(fuel string) (Factor, error) {
	f, ok := c.factors[strings.ToLower(fuel)]
	if !ok {
		names := make([]string, 0, len(c.factors))
		for n := range c.factors {
			names = append(names, n)
		}
		sort.Strings(names)
		return Factor{}, revloop.Invalid("fuel", "no emission factor for fuel %q (have %s)", fuel, strings.Join(names, ", "))
	}
	return f, nil
}

// Compute returns the emissions of a vehicle driving legs.
func (c *Calculator) Compute(v Vehicle, legs []Leg) (Result, error) {
	f, err := c.Factor(v.Fuel)
	if err != nil {
		return Result{}, err
	}
	if v.EmptyPer100Km < 0 || v.FullPer100Km < 0 {
		return Result{}, revloop.Invalid("consumption", "vehicle %s: negative consumption", v.ID)
	}
	r := Result{Vehicle: v.ID, Fuel: f.Fuel, FuelUnit: f.Unit, Allocated: map[string]float64{}}
	tkmByRef := map[string]float64{}
	for i, l := range legs {
		if l.DistanceKm < 0 || math.IsNaN(l.DistanceKm) {
			return Result{}, revloop.Invalid("distance_km", "leg %d: %v", i, l.DistanceKm)
		}
		kg := 0.0
		for _, ld := range l.Loads {
			if ld.Kg < 0 {
				return Result{}, revloop.Invalid("kg", "leg %d load %s: negative mass", i, ld.Ref)
			}
			kg += ld.Kg
			tkmByRef[ld.Ref] += ld.Kg / 1000 * l.DistanceKm
		}
		r.DistanceKm += l.DistanceKm
		if kg > 0 {
			r.LoadedKm += l.DistanceKm
		} else {
			r.EmptyKm += l.DistanceKm
		}
		r.TonneKm += kg / 1000 * l.DistanceKm
		r.FuelUsed += l.DistanceKm / 100 * v.consumption(kg)
	}
	r.WTTKgCO2e = r.FuelUsed * f.WTTKgPerUnit
	r.TTWKgCO2e = r.FuelUsed * f.TTWKgPerUnit
	r.WTWKgCO2e = r.WTTKgCO2e + r.TTWKgCO2e
	if r.TonneKm > 0 {
		r.IntensityGTkm = r.WTWKgCO2e * 1000 / r.TonneKm
		for ref, tkm := range tkmByRef {
			r.Allocated[ref] = r.WTWKgCO2e * tkm / r.TonneKm
		}
	}
	return r, nil
}

func (v Vehicle) consumption(kg float64) float64 {
	if v.FullPer100Km == 0 || v.CapacityKg <= 0 {
		return v.EmptyPer100Km
	}
	share := math.Min(kg/v.CapacityKg, 1)
	return v.EmptyPer100Km + (v.FullPer100Km-v.EmptyPer100Km)*share
}

// String summarises a result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%s: %.1f km (%.1f loaded), %.2f %s %s, %.1f t·km, %.2f kg CO2e WTW (%.1f g/t·km)",
		r.Vehicle, r.DistanceKm, r.LoadedKm, r.FuelUsed, r.FuelUnit, r.Fuel, r.TonneKm, r.WTWKgCO2e, r.IntensityGTkm)
}
