package main

import (
	"context"
	"sync"
	"time"

	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/routing"
)

func init() {
	registerWiring("fleet", wireFleet)
}

// fleetServices holds each app's fleet service, for the wirings that run
// after "fleet" (the route planner takes its forecasts and arrivals).
var fleetServices sync.Map // *app -> *fleet.Service

// wireFleet attaches the fleet: geofence events, forecasts and alert
// monitoring as ingest observers, the registry refresh, device-event poll
// and webhook delivery as runners, and (serve) the fleet API area. Fence
// events and alerts go to the live stream when the dispatch wiring built
// one.
func wireFleet(ctx context.Context, a *app) error {
	var pub fleet.Publisher
	if p, ok := a.API.Dispatch.Live.(fleet.Publisher); ok {
		pub = p
	}
	met := alerts.NewMetrics(a.Registry)
	var alertPub alerts.Publisher
	if pub != nil {
		alertPub = pub
	}
	al := alerts.New(a.DB, alertPub, met)
	svc, err := fleet.New(ctx, fleet.Config{
		Log: a.log.With("part", "fleet"), DB: a.DB, Directory: dispatch.New(a.DB),
		Positions: a.TimeSeries, Fills: a.TimeSeries, Alerts: al, Live: pub,
	})
	if err != nil {
		return err
	}
	a.Ingest.Observers = append(a.Ingest.Observers, svc.Observers()...)
	deliverer := alerts.NewDeliverer(a.log.With("part", "alerts"), a.DB, met, alerts.DeliverOptions{})
	a.Runners = append(a.Runners, svc.Run, deliverer.Run)
	if a.role == roleServe {
		a.API.Fleet = api.FleetDeps{Events: svc.Fences, Trips: svc.Trips, Forecasts: svc.Forecasts, Alerts: al}
	}
	fleetServices.Store(a, svc)
	a.Closers = append(a.Closers, func() error { fleetServices.Delete(a); return nil })
	return nil
}

// fleetCandidates returns the fill forecasts as the route planner's
// optional stops, or nil when the fleet is not wired.
func fleetCandidates(a *app) routing.Candidates {
	if v, ok := fleetServices.Load(a); ok {
		return candidates{v.(*fleet.Service).Forecasts}
	}
	return nil
}

// fleetArrivals returns the geofence arrivals for planned-versus-actual, or
// nil when the fleet is not wired.
func fleetArrivals(a *app) routing.Arrivals {
	if v, ok := fleetServices.Load(a); ok {
		return v.(*fleet.Service).Fences
	}
	return nil
}

// candidates adapts fleet forecasts to routing.Candidates.
type candidates struct{ f *fleet.Forecasts }

var (
	_ routing.Candidates = candidates{}
	_ routing.Arrivals   = (*fleet.Fences)(nil)
)

func (c candidates) Due(ctx context.Context, horizon time.Duration) ([]routing.Candidate, error) {
	fs, err := c.f.Due(ctx, "", horizon)
	if err != nil {
		return nil, err
	}
	out := make([]routing.Candidate, len(fs))
	for i, f := range fs {
		out[i] = routing.Candidate{BinID: f.BinID, SiteID: f.SiteID, Material: f.Material, Kg: f.EstimatedKg, FullAt: f.FullAt}
	}
	return out, nil
}
