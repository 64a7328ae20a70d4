package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/geo"
)

// Directory is what fleet reads of the dispatcher's registry
// (dispatch.Store has it).
type Directory interface {
	AllVehicles(ctx context.Context) ([]dispatch.Vehicle, error)
	ListSites(ctx context.Context, sc dispatch.Scope, f dispatch.SiteFilter, p dispatch.Page) ([]dispatch.Site, string, error)
	ListBins(ctx context.Context, sc dispatch.Scope, f dispatch.BinFilter, p dispatch.Page) ([]dispatch.Bin, string, error)
}

var _ Directory = (*dispatch.Store)(nil)

// catalog is an in-memory copy of the registry, indexed the ways the
// observers need, reloaded by refresh.
type catalog struct {
	dir Directory

	mu        sync.RWMutex
	vehicles  map[string]dispatch.Vehicle        // by id
	byTracker map[revloop.DeviceID]string        // vehicle id by tracker device
	sites     map[string]dispatch.Site           // by id
	bins      map[string]dispatch.Bin            // by id
	bySensor  map[revloop.DeviceID]*dispatch.Bin // by fill sensor device (not to be changed)
	fenceIx   *geo.Index                         // the sites' geofences
	loaded    time.Time
}

func newCatalog(dir Directory) *catalog {
	return &catalog{dir: dir, vehicles: map[string]dispatch.Vehicle{}, byTracker: map[revloop.DeviceID]string{},
		sites: map[string]dispatch.Site{}, bins: map[string]dispatch.Bin{}, bySensor: map[revloop.DeviceID]*dispatch.Bin{}}
}

func allPages[T any](ctx context.Context, list func(p dispatch.Page) ([]T, string, error)) ([]T, error) {
	var out []T
	p := dispatch.Page{Limit: 1000}
	for {
		items, next, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		p.After = next
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// refresh reloads the registry and returns the sites as loaded.
func (c *catalog) refresh(ctx context.Context) error {
	vs, err := c.dir.AllVehicles(ctx)
	if err != nil {
		return fmt.Errorf("fleet catalog: vehicles: %w", err)
	}
	sites, err := allPages(ctx, func(p dispatch.Page) ([]dispatch.Site, string, error) {
		return c.dir.ListSites(ctx, dispatch.All, dispatch.SiteFilter{}, p)
	})
	if err != nil {
		return fmt.Errorf("fleet catalog: sites: %w", err)
	}
	bins, err := allPages(ctx, func(p dispatch.Page) ([]dispatch.Bin, string, error) {
		return c.dir.ListBins(ctx, dispatch.All, dispatch.BinFilter{}, p)
	})
	if err != nil {
		return fmt.Errorf("fleet catalog: bins: %w", err)
	}
	vm, tm := make(map[string]dispatch.Vehicle, len(vs)), make(map[revloop.DeviceID]string, len(vs))
	for _, v := range vs {
		vm[v.ID] = v
		if v.TrackerDeviceID != "" {
			tm[revloop.DeviceID(v.TrackerDeviceID)] = v.ID
		}
	}
	sm := make(map[string]dispatch.Site, len(sites))
	ix := geo.NewIndex(0)
	for _, s := range sites {
		sm[s.ID] = s
		if f, err := geo.ParseFence(s.Geofence, s.ID); err == nil {
			f.ID = s.ID
			ix.Add(f)
		}
	}
	bm, bs := make(map[string]dispatch.Bin, len(bins)), make(map[revloop.DeviceID]*dispatch.Bin, len(bins))
	for i, b := range bins {
		bm[b.ID] = b
		if b.FillSensorDeviceID != "" {
			bs[revloop.DeviceID(b.FillSensorDeviceID)] = &bins[i]
		}
	}
	c.mu.Lock()
	c.vehicles, c.byTracker, c.sites, c.bins, c.bySensor, c.fenceIx, c.loaded = vm, tm, sm, bm, bs, ix, time.Now()
	c.mu.Unlock()
	return nil
}

// vehicleOf names the vehicle a tracker rides on: its id, or the device id
// when no vehicle has the tracker.
func (c *catalog) vehicleOf(dev revloop.DeviceID) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if id, ok := c.byTracker[dev]; ok {
		return id
	}
	return string(dev)
}

func (c *catalog) vehicle(id string) (dispatch.Vehicle, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.vehicles[id]
	return v, ok
}

func (c *catalog) allVehicles() []dispatch.Vehicle {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]dispatch.Vehicle, 0, len(c.vehicles))
	for _, v := range c.vehicles {
		out = append(out, v)
	}
	return out
}

func (c *catalog) site(id string) (dispatch.Site, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.sites[id]
	return s, ok
}

func (c *catalog) allSites() map[string]dispatch.Site {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sites
}

// siteAt names the site whose geofence holds p (the first by id), or "".
func (c *catalog) siteAt(p orb.Point) string {
	c.mu.RLock()
	ix := c.fenceIx
	c.mu.RUnlock()
	if ix == nil {
		return ""
	}
	best := ""
	for _, f := range ix.Containing(p, nil) {
		if best == "" || f.ID < best {
			best = f.ID
		}
	}
	return best
}

// sensorBin returns the bin of a fill sensor, or nil; the bin must not be
// changed.
func (c *catalog) sensorBin(dev revloop.DeviceID) *dispatch.Bin {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bySensor[dev]
}

func (c *catalog) bin(id string) (dispatch.Bin, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.bins[id]
	return b, ok
}

func (c *catalog) allBins() []dispatch.Bin {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]dispatch.Bin, 0, len(c.bins))
	for _, b := range c.bins {
		out = append(out, b)
	}
	return out
}
