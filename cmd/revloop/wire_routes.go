package main

import (
	"context"
	"time"

	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/geo/vrp"
	"github.com/revloop/revloop/routing"
)

// routingFlags are the route planner's settings.
type routingFlags struct {
	timeLimit time.Duration
	osrmURL   string
	timezone  string
}

func (f *routingFlags) register(s *config.Set) {
	s.Duration(&f.timeLimit, "plan-time-limit", 2*time.Second, "route planner time budget per plan")
	s.String(&f.osrmURL, "osrm-url", "", "OSRM server (http://host:5000) for road distances and times; empty uses great-circle distance with a detour factor")
	s.String(&f.timezone, "timezone", "Europe/Brussels", "the operator's time zone: plan days and shifts are local to it")
}

func init() {
	registerWiring("routes", func(ctx context.Context, a *app) error {
		if a.role != roleServe {
			return nil
		}
		loc, err := time.LoadLocation(a.cfg.routing.timezone)
		if err != nil {
			return err
		}
		opts := routing.Options{Location: loc, TimeLimit: a.cfg.routing.timeLimit}
		if a.cfg.routing.osrmURL != "" {
			opts.Provider = &vrp.OSRM{BaseURL: a.cfg.routing.osrmURL}
		}
		a.API.Routes.Planner = routing.New(a.DB, dispatch.New(a.DB), fleetCandidates(a), fleetArrivals(a), opts)
		return nil
	})
}
