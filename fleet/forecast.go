package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/forecast"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

// FillReader reads a fill sensor's stored readings (timeseries.Reader has
// it).
type FillReader interface {
	FillHistory(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.FillReading, error)
}

// ForecastOptions tune Forecasts; zero fields take the defaults.
type ForecastOptions struct {
	// Lookback is how much history a forecast reads (default 21 days).
	Lookback time.Duration
	// TTL is how long a forecast is reused without new readings
	// (default 15 min).
	TTL time.Duration
	// History is how far back the per-bin chart reaches (default 7 days).
	History time.Duration
	// Workers compute forecasts in parallel (default 4).
	Workers int
}

func (o *ForecastOptions) defaults() {
	if o.Lookback <= 0 {
		o.Lookback = 21 * 24 * time.Hour
	}
	if o.TTL <= 0 {
		o.TTL = 15 * time.Minute
	}
	if o.History <= 0 {
		o.History = 7 * 24 * time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
}

// BinForecast is when a bin is predicted to reach its threshold.
type BinForecast struct {
	BinID        string    `json:"bin_id"`
	SiteID       string    `json:"site_id"`
	CustomerID   string    `json:"customer_id,omitempty"`
	Material     string    `json:"material"`
	AsOf         time.Time `json:"as_of"`
	LevelPct     float64   `json:"level_pct"`
	ThresholdPct float64   `json:"threshold_pct"`
	AlreadyFull  bool      `json:"already_full"`
	// FullAt is when the threshold is reached (zero: not within 60 days);
	// Low and High bound it.
	FullAt        time.Time `json:"full_at,omitzero"`
	Low           time.Time `json:"low,omitzero"`
	High          time.Time `json:"high,omitzero"`
	RatePctPerDay float64   `json:"rate_pct_per_day"`
	// EstimatedKg is what the bin holds at its threshold (volume ×
	// threshold × the material's bulk density).
	EstimatedKg float64 `json:"estimated_kg"`
	Points      int     `json:"points"`
}

// BulkDensityKgM3 are typical bulk densities of collected materials, for
// weight estimates; other materials count DefaultDensityKgM3.
var BulkDensityKgM3 = map[string]float64{
	"glass": 300, "paper": 80, "cardboard": 60, "pmd": 35, "plastic": 35, "textile": 150,
	"weee": 220, "wood": 160, "metal": 250, "organic": 500, "residual": 150,
}

// DefaultDensityKgM3 is the bulk density of materials not in BulkDensityKgM3.
const DefaultDensityKgM3 = 150

// EstimateKg estimates what bin b holds at levelPct.
func EstimateKg(b dispatch.Bin, levelPct float64) float64 {
	d, ok := BulkDensityKgM3[strings.ToLower(b.Material)]
	if !ok {
		d = DefaultDensityKgM3
	}
	return math.Round(b.VolumeL / 1000 * levelPct / 100 * d)
}

// LevelPoint is one reading of a bin's chart.
type LevelPoint struct {
	Time     time.Time `json:"ts"`
	LevelPct float64   `json:"level_pct"`
}

// BinHistory is a bin's forecast and recent readings.
type BinHistory struct {
	Forecast BinForecast  `json:"forecast"`
	History  []LevelPoint `json:"history"`
}

// ErrNoHistory is returned for a bin whose sensor has not reported enough.
var ErrNoHistory = fmt.Errorf("no fill history: %w", revloop.ErrNotFound)

type fcEntry struct {
	fc       BinForecast
	err      error
	computed time.Time
	dirty    bool
}

// Forecasts predicts when bins reach their thresholds from their fill
// history, caching each bin's forecast until its sensor reports again
// (Observe) or the TTL passes.
type Forecasts struct {
	cat   *catalog
	fills FillReader
	loc   *time.Location
	opts  ForecastOptions
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]*fcEntry
}

var _ ingest.Observer = (*Forecasts)(nil)

func newForecasts(cat *catalog, fills FillReader, loc *time.Location, opts ForecastOptions) *Forecasts {
	opts.defaults()
	return &Forecasts{cat: cat, fills: fills, loc: loc, opts: opts, now: time.Now, cache: map[string]*fcEntry{}}
}

// Observe marks the forecasts of bins whose sensors reported as stale.
func (f *Forecasts) Observe(_ context.Context, records []ingest.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range records {
		if len(records[i].Fills) == 0 {
			continue
		}
		if b := f.cat.sensorBin(records[i].Device); b != nil {
			if e := f.cache[b.ID]; e != nil {
				e.dirty = true
			}
		}
	}
	return nil
}

func (f *Forecasts) compute(ctx context.Context, b dispatch.Bin) (BinForecast, error) {
	now := f.now()
	rs, err := f.fills.FillHistory(ctx, revloop.DeviceID(b.FillSensorDeviceID), now.Add(-f.opts.Lookback), now.Add(time.Minute))
	if err != nil {
		return BinForecast{}, fmt.Errorf("forecast bin %s: %w", b.ID, err)
	}
	th := b.ThresholdPct
	if th <= 0 || th > 100 {
		th = 80
	}
	fc, err := forecast.Predict(rs, forecast.Options{ThresholdPct: th, Location: f.loc})
	if err != nil || fc.Points == 0 {
		// Too few or unusable readings: the bin has no forecast yet.
		return BinForecast{}, fmt.Errorf("bin %s: %w (%v)", b.ID, ErrNoHistory, err)
	}
	out := BinForecast{BinID: b.ID, SiteID: b.SiteID, CustomerID: b.CustomerID, Material: b.Material, AsOf: fc.AsOf,
		LevelPct: round(fc.LevelPct, 1), ThresholdPct: th, AlreadyFull: fc.AlreadyFull, FullAt: fc.FullAt,
		Low: fc.FullEarliest, High: fc.FullLatest, RatePctPerDay: round(fc.RatePctPerH*24, 2), Points: fc.Points,
		EstimatedKg: EstimateKg(b, th)}
	if fc.AlreadyFull {
		out.FullAt, out.Low, out.High = fc.AsOf, fc.AsOf, fc.AsOf
	}
	return out, nil
}

// get returns a bin's forecast from the cache, recomputing it when stale.
func (f *Forecasts) get(ctx context.Context, b dispatch.Bin) (BinForecast, error) {
	f.mu.Lock()
	e := f.cache[b.ID]
	if e != nil && !e.dirty && f.now().Sub(e.computed) < f.opts.TTL {
		f.mu.Unlock()
		return e.fc, e.err
	}
	f.mu.Unlock()
	fc, err := f.compute(ctx, b)
	if ctx.Err() != nil {
		return fc, err // not cached: the request was cancelled
	}
	f.mu.Lock()
	f.cache[b.ID] = &fcEntry{fc: fc, err: err, computed: f.now()}
	f.mu.Unlock()
	return fc, err
}

// Due returns the bins predicted to reach their threshold within horizon
// (or already full), soonest first; customerID limits them to that
// customer's bins. Bins without sensor history are left out. The route
// planner takes these as optional stops.
func (f *Forecasts) Due(ctx context.Context, customerID string, horizon time.Duration) ([]BinForecast, error) {
	bins := f.cat.allBins()
	var todo []dispatch.Bin
	for _, b := range bins {
		if b.FillSensorDeviceID != "" && (customerID == "" || b.CustomerID == customerID) {
			todo = append(todo, b)
		}
	}
	results := make([]BinForecast, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < f.opts.Workers; w++ {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = f.get(ctx, todo[i])
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	limit := f.now().Add(horizon)
	var out []BinForecast
	for i, r := range results {
		switch {
		case errors.Is(errs[i], ErrNoHistory):
			continue
		case errs[i] != nil:
			return nil, errs[i]
		case r.AlreadyFull || (!r.FullAt.IsZero() && !r.FullAt.After(limit)):
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FullAt.Equal(out[j].FullAt) {
			return out[i].FullAt.Before(out[j].FullAt)
		}
		return out[i].BinID < out[j].BinID
	})
	return out, nil
}

// Bin returns one bin's forecast and its readings of the last History;
// customerID limits the lookup to that customer's bins. A bin without
// sensor history is ErrNoHistory (not found).
func (f *Forecasts) Bin(ctx context.Context, customerID, binID string) (BinHistory, error) {
	b, ok := f.cat.bin(binID)
	if !ok {
		if err := f.cat.refresh(ctx); err != nil {
			return BinHistory{}, err
		}
		b, ok = f.cat.bin(binID)
	}
	if !ok || (customerID != "" && b.CustomerID != customerID) {
		return BinHistory{}, fmt.Errorf("bin %s: %w", binID, store.ErrNotFound)
	}
	if b.FillSensorDeviceID == "" {
		return BinHistory{}, fmt.Errorf("bin %s: no fill sensor: %w", binID, ErrNoHistory)
	}
	fc, err := f.get(ctx, b)
	if err != nil {
		return BinHistory{}, err
	}
	now := f.now()
	rs, err := f.fills.FillHistory(ctx, revloop.DeviceID(b.FillSensorDeviceID), now.Add(-f.opts.History), now.Add(time.Minute))
	if err != nil {
		return BinHistory{}, fmt.Errorf("history of bin %s: %w", binID, err)
	}
	h := make([]LevelPoint, 0, len(rs))
	for _, r := range rs {
		if !math.IsNaN(r.LevelPct) {
			h = append(h, LevelPoint{Time: r.Time, LevelPct: r.LevelPct})
		}
	}
	return BinHistory{Forecast: fc, History: h}, nil
}
