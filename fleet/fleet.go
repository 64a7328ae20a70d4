package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

// Config is what New needs; zero optional fields take the defaults.
type Config struct {
	Log       *slog.Logger
	DB        *store.DB // migrated state store
	Directory Directory
	Positions PositionReader
	Fills     FillReader
	Alerts    *alerts.Service
	Live      Publisher // optional: receives fence events and alerts

	// Location is the local time zone of days and weekdays (default
	// Europe/Brussels).
	Location *time.Location
	Engine   geo.EngineOptions
	// Trips are the default trip and stop thresholds (requests may
	// override MinStop and MinTripDistanceM).
	Trips    geo.TripOptions
	Forecast ForecastOptions
	Monitor  MonitorOptions
	// Refresh is how often sites, vehicles and bins are reloaded
	// (default 30 s).
	Refresh time.Duration
	// Warmup is how much stored history the fence engine replays at start
	// (default 2 h; negative disables).
	Warmup time.Duration
	// Now is the clock of forecasts and warm-up (default time.Now).
	Now func() time.Time
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil || c.Directory == nil || c.Positions == nil || c.Fills == nil || c.Alerts == nil:
		return errors.New("fleet: DB, Directory, Positions, Fills and Alerts are required")
	}
	if err := c.Engine.Validate(); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if err := c.Trips.Validate(); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// Service bundles the fleet's parts: geofence events, trips, forecasts and
// alert monitoring.
type Service struct {
	log       *slog.Logger
	cfg       Config
	cat       *catalog
	Fences    *Fences
	Trips     *Trips
	Forecasts *Forecasts
	Monitor   *Monitor
}

// New builds the service and loads the registry once.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation(DefaultTimezone)
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 30 * time.Second
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cat := newCatalog(cfg.Directory)
	s := &Service{log: cfg.Log, cfg: cfg, cat: cat,
		Fences:    newFences(cfg.Log, cfg.DB, cat, cfg.Alerts, cfg.Live, cfg.Engine),
		Trips:     &Trips{cat: cat, pos: cfg.Positions, loc: cfg.Location, opts: cfg.Trips},
		Forecasts: newForecasts(cat, cfg.Fills, cfg.Location, cfg.Forecast),
		Monitor:   newMonitor(cfg.Log, cfg.DB, cat, cfg.Alerts, cfg.Monitor),
	}
	s.Fences.now, s.Forecasts.now = cfg.Now, cfg.Now
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Observers are the ingest observers of the service: one observer that
// feeds each batch to Forecasts, Fences and Monitor and stores the fence
// events and alert transitions it causes in one transaction.
func (s *Service) Observers() []ingest.Observer {
	return []ingest.Observer{&batchObserver{s: s}}
}

// batchObserver is the service's ingest observer. Its Observe has the
// effects of the Observe methods of Forecasts, Fences and Monitor, in that
// order, with one commit instead of two.
type batchObserver struct{ s *Service }

var _ ingest.Observer = (*batchObserver)(nil)

// Observe marks forecasts stale, feeds the fixes to the fence engine and
// checks the fill readings, then stores the events and alert transitions
// together. When storing fails the fence events stay pending and the
// monitor is left as before the call, so the redelivered batch loses
// nothing and raises nothing twice.
func (o *batchObserver) Observe(ctx context.Context, records []ingest.Record) error {
	f, m := o.s.Fences, o.s.Monitor
	o.s.Forecasts.Observe(ctx, records)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feedLocked(records)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.evaluateLocked(ctx, records); err != nil {
		if ferr := f.flushLocked(ctx); ferr != nil {
			return ferr
		}
		return err
	}
	if len(f.pending) == 0 && len(m.ops) == 0 {
		return nil
	}
	var fenceAlerts, monitorAlerts []alerts.Alert
	err := o.s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if len(f.pending) > 0 {
			if fenceAlerts, err = f.storeLocked(ctx, tx); err != nil {
				return fmt.Errorf("fleet events: %w", err)
			}
		}
		if len(m.ops) > 0 {
			if _, monitorAlerts, err = m.alerts.ApplyIn(ctx, tx, m.ops); err != nil {
				return fmt.Errorf("fleet monitor: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		m.undoLocked()
		return err
	}
	if len(f.pending) > 0 {
		f.storedLocked(fenceAlerts)
	}
	for _, a := range monitorAlerts {
		m.alerts.Notify(a)
	}
	m.doneLocked()
	return nil
}

// Refresh reloads the registry and the fences now.
func (s *Service) Refresh(ctx context.Context) error {
	if err := s.cat.refresh(ctx); err != nil {
		return err
	}
	return s.Fences.Sync(ctx)
}

// Location is the service's local time zone.
func (s *Service) Location() *time.Location { return s.cfg.Location }

// Run replays recent history into the fence engine, then reloads the
// registry every Refresh, recomputes stale forecasts every minute and polls
// device health events until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.Warmup > 0 {
		if err := s.Fences.Warm(ctx, s.cfg.Positions, s.cfg.Now().Add(-s.cfg.Warmup), time.Minute); err != nil && ctx.Err() == nil {
			s.log.Warn("fleet: warm-up", "err", err)
		}
	}
	refresh := time.NewTicker(s.cfg.Refresh)
	defer refresh.Stop()
	// Forecasts made stale by new readings are recomputed in the
	// background, so that requests find them cached.
	recompute := time.NewTicker(time.Minute)
	defer recompute.Stop()
	poll := time.NewTicker(s.Monitor.opts.OfflinePoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("fleet: refresh", "err", err)
			}
		case <-recompute.C:
			if _, err := s.Forecasts.Due(ctx, "", 0); err != nil && ctx.Err() == nil {
				s.log.Warn("fleet: forecasts", "err", err)
			}
		case <-poll.C:
			if _, err := s.Monitor.PollOffline(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("fleet: device events", "err", err)
			}
		}
	}
}
