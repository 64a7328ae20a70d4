package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/revloop/revloop"
)

// World is the part of the simulator's world file (revloop simulate
// --world-out) that the dispatch resources hold; other members are ignored.
type World struct {
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

// ReadWorld decodes a world file.
func ReadWorld(r io.Reader) (*World, error) {
	var w World
	if err := json.NewDecoder(r).Decode(&w); err != nil {
		return nil, fmt.Errorf("read world: %w: %v", revloop.ErrInvalid, err)
	}
	return &w, nil
}

// SeedCount says how many objects of one kind a seed created and replaced.
type SeedCount struct {
	Kind             string
	Created, Updated int
}

func (c SeedCount) String() string {
	return fmt.Sprintf("%s: %d created, %d updated", c.Kind, c.Created, c.Updated)
}

// upsert creates an object, or replaces it when its id exists.
func (c *SeedCount) upsert(create, update func() error) error {
	err := create()
	if errors.Is(err, revloop.ErrConflict) {
		if err := update(); err != nil {
			return err
		}
		c.Updated++
		return nil
	}
	if err == nil {
		c.Created++
	}
	return err
}

// Seed loads a world into the store: customers, sites, bins and vehicles
// are created, or replaced when their id exists, so seeding twice is
// harmless. progress, when not nil, is called after each kind.
func (s *Store) Seed(ctx context.Context, w *World, progress func(SeedCount)) ([]SeedCount, error) {
	counts := []SeedCount{{Kind: "customers"}, {Kind: "sites"}, {Kind: "bins"}, {Kind: "vehicles"}}
	done := func(i int) {
		if progress != nil {
			progress(counts[i])
		}
	}
	for _, c := range w.Customers {
		v := Customer{ID: c.ID, Name: c.Name, Kind: c.Kind}
		if err := counts[0].upsert(func() error { _, err := s.CreateCustomer(ctx, v); return err },
			func() error { _, err := s.UpdateCustomer(ctx, v); return err }); err != nil {
			return counts, fmt.Errorf("seed customer %s: %w", c.ID, err)
		}
	}
	done(0)
	for _, x := range w.Sites {
		v := Site{ID: x.ID, Name: x.Name, Kind: x.Kind, CustomerID: x.Customer, Address: x.Address, Geofence: x.Fence}
		if err := counts[1].upsert(func() error { _, err := s.CreateSite(ctx, v); return err },
			func() error { _, err := s.UpdateSite(ctx, v); return err }); err != nil {
			return counts, fmt.Errorf("seed site %s: %w", x.ID, err)
		}
	}
	done(1)
	for _, b := range w.Bins {
		v := Bin{ID: b.ID, SiteID: b.Site, Material: b.Material, EWCCode: b.EWC, VolumeL: b.VolumeM3 * 1000, RFIDTag: b.EPC, FillSensorDeviceID: b.Sensor}
		if err := counts[2].upsert(func() error { _, err := s.CreateBin(ctx, v); return err },
			func() error { _, err := s.UpdateBin(ctx, v); return err }); err != nil {
			return counts, fmt.Errorf("seed bin %s: %w", b.ID, err)
		}
	}
	done(2)
	for _, x := range w.Vehicles {
		v := Vehicle{ID: x.ID, Plate: x.Plate, DepotSiteID: x.Depot, CapacityKg: x.CapacityKg, CapacityM3: x.CapacityM3, FuelType: x.FuelType,
			ConsumptionPer100Km: x.ConsumptionPer100Km, ConsumptionUnit: x.ConsumptionUnit, TrackerDeviceID: x.Tracker, RFIDTag: x.EPC}
		if err := counts[3].upsert(func() error { _, err := s.CreateVehicle(ctx, v); return err },
			func() error { _, err := s.UpdateVehicle(ctx, v); return err }); err != nil {
			return counts, fmt.Errorf("seed vehicle %s: %w", x.ID, err)
		}
	}
	done(3)
	return counts, nil
}
