package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/config"
	dsp "github.com/revloop/revloop/dispatch"
)

func init() {
	register(&command{name: "seed", summary: "load a simulator world (customers, sites, bins, vehicles) into the state store", run: runSeed})
}

// seedWorld is the part of the simulator's world file (revloop simulate
// --world-out) that the dispatch resources hold. Other members are ignored.
type seedWorld struct {
	Customers []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"customers"`
	Sites []struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Kind     string          `json:"kind"`
		Customer string          `json:"customer"`
		Address  string          `json:"address"`
		Fence    json.RawMessage `json:"fence"`
	} `json:"sites"`
	Bins []struct {
		ID       string  `json:"id"`
		Site     string  `json:"site"`
		Material string  `json:"material"`
		EWC      string  `json:"ewc"`
		VolumeM3 float64 `json:"volume_m3"`
		EPC      string  `json:"rfid_epc"`
		Sensor   string  `json:"sensor"`
	} `json:"bins"`
	Vehicles []struct {
		ID                  string  `json:"id"`
		Plate               string  `json:"plate"`
		Depot               string  `json:"depot"`
		CapacityKg          float64 `json:"capacity_kg"`
		CapacityM3          float64 `json:"capacity_m3"`
		FuelType            string  `json:"fuel_type"`
		ConsumptionPer100Km float64 `json:"consumption_per_100km"`
		ConsumptionUnit     string  `json:"consumption_unit"`
		Tracker             string  `json:"tracker"`
		EPC                 string  `json:"rfid_epc"`
	} `json:"vehicles"`
}

type seedCount struct{ created, updated int }

func (c seedCount) String() string {
	return fmt.Sprintf("%d created, %d updated", c.created, c.updated)
}

// upsert creates an object, or replaces it when its id exists.
func upsert(c *seedCount, create, update func() error) error {
	err := create()
	if errors.Is(err, revloop.ErrConflict) {
		if err := update(); err != nil {
			return err
		}
		c.updated++
		return nil
	}
	if err == nil {
		c.created++
	}
	return err
}

func runSeed(ctx context.Context, e *env, args []string) error {
	set := config.NewSet("seed", e.stderr)
	var sf storeFlags
	sf.register(set)
	var file string
	set.String(&file, "world", "", "world JSON file written by 'revloop simulate --world-out FILE --world-only'")
	if err := set.Parse(args); err != nil {
		return err
	}
	if file == "" {
		return errors.New("seed: --world FILE is required (make one with 'revloop simulate --world-out FILE --world-only')")
	}
	if set.FlagSet().NArg() > 0 {
		return fmt.Errorf("seed: unexpected argument %q", set.FlagSet().Arg(0))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var w seedWorld
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("seed: %s: %w", file, err)
	}
	db, _, err := sf.open(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer db.Close()
	st := dsp.New(db)

	var cc, sc, bc, vc seedCount
	for _, c := range w.Customers {
		v := dsp.Customer{ID: c.ID, Name: c.Name, Kind: c.Kind}
		if err := upsert(&cc, func() error { _, err := st.CreateCustomer(ctx, v); return err },
			func() error { _, err := st.UpdateCustomer(ctx, v); return err }); err != nil {
			return fmt.Errorf("seed: customer %s: %w", c.ID, err)
		}
	}
	fmt.Fprintf(e.stderr, "customers: %s\n", cc)
	for _, s := range w.Sites {
		v := dsp.Site{ID: s.ID, Name: s.Name, Kind: s.Kind, CustomerID: s.Customer, Address: s.Address, Geofence: s.Fence}
		if err := upsert(&sc, func() error { _, err := st.CreateSite(ctx, v); return err },
			func() error { _, err := st.UpdateSite(ctx, v); return err }); err != nil {
			return fmt.Errorf("seed: site %s: %w", s.ID, err)
		}
	}
	fmt.Fprintf(e.stderr, "sites: %s\n", sc)
	for i, b := range w.Bins {
		v := dsp.Bin{ID: b.ID, SiteID: b.Site, Material: b.Material, EWCCode: b.EWC, VolumeL: b.VolumeM3 * 1000, RFIDTag: b.EPC, FillSensorDeviceID: b.Sensor}
		if err := upsert(&bc, func() error { _, err := st.CreateBin(ctx, v); return err },
			func() error { _, err := st.UpdateBin(ctx, v); return err }); err != nil {
			return fmt.Errorf("seed: bin %s: %w", b.ID, err)
		}
		if (i+1)%1000 == 0 {
			fmt.Fprintf(e.stderr, "bins: %d/%d\n", i+1, len(w.Bins))
		}
	}
	fmt.Fprintf(e.stderr, "bins: %s\n", bc)
	for _, x := range w.Vehicles {
		v := dsp.Vehicle{ID: x.ID, Plate: x.Plate, DepotSiteID: x.Depot, CapacityKg: x.CapacityKg, CapacityM3: x.CapacityM3, FuelType: x.FuelType,
			ConsumptionPer100Km: x.ConsumptionPer100Km, ConsumptionUnit: x.ConsumptionUnit, TrackerDeviceID: x.Tracker, RFIDTag: x.EPC}
		if err := upsert(&vc, func() error { _, err := st.CreateVehicle(ctx, v); return err },
			func() error { _, err := st.UpdateVehicle(ctx, v); return err }); err != nil {
			return fmt.Errorf("seed: vehicle %s: %w", x.ID, err)
		}
	}
	fmt.Fprintf(e.stderr, "vehicles: %s\n", vc)
	fmt.Fprintf(e.stdout, "seeded %s from %s: %d customers, %d sites, %d bins, %d vehicles\n", db.Dialect(), file,
		len(w.Customers), len(w.Sites), len(w.Bins), len(w.Vehicles))
	return nil
}
