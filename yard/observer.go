package yard

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
)

var _ ingest.Observer = (*Observer)(nil)

// Observer derives gate passages and weighbridge tickets from the rfid and
// weight records ingest accepts. It keeps presence and scale state in
// memory, in event time; what it derives is stored idempotently, and what it
// could not store yet is kept and stored on the next call, so a batch
// delivered again after an error does no harm.
type Observer struct {
	svc *Service
	log *slog.Logger

	mu        sync.Mutex
	det       *Detector
	weigher   *Weigher
	gateYard  map[revloop.DeviceID]string
	loaded    time.Time
	passages  []Passage
	weighings []Weighing
	weighed   int64 // weighings detected
}

// configTTL is how long the observer trusts its copy of the gate and scale
// configuration before reading it again.
const configTTL = 10 * time.Second

// NewObserver returns an observer that stores into svc.
func NewObserver(svc *Service, log *slog.Logger) *Observer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Observer{svc: svc, log: log, det: NewDetector(svc.opts.Detector), weigher: NewWeigher(svc.opts.Weigh),
		gateYard: map[revloop.DeviceID]string{}}
}

// Stats returns the passage detector's counters.
func (o *Observer) Stats() DetectorStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.det.Stats()
}

func (o *Observer) reload(ctx context.Context, force bool) error {
	now := time.Now()
	if !force && now.Sub(o.loaded) < configTTL {
		return nil
	}
	gates, err := o.svc.Gates(ctx)
	if err != nil {
		return err
	}
	for _, g := range gates {
		o.det.SetGate(g)
		o.gateYard[g.Reader] = g.Yard
	}
	scales, err := o.svc.Scales(ctx)
	if err != nil {
		return err
	}
	for _, sc := range scales {
		o.weigher.SetScale(sc.Scale, sc.Yard)
	}
	o.loaded = now
	return nil
}

// Observe implements ingest.Observer.
func (o *Observer) Observe(ctx context.Context, records []ingest.Record) error {
	var reads []revloop.RFIDRead
	var weights []revloop.WeightReading
	for _, r := range records {
		reads = append(reads, r.Reads...)
		weights = append(weights, r.Weights...)
	}
	if len(reads) == 0 && len(weights) == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	unknown := false
	for _, r := range reads {
		unknown = unknown || !o.det.HasGate(r.Device)
	}
	for _, w := range weights {
		unknown = unknown || !o.weigher.HasScale(w.Device)
	}
	if err := o.reload(ctx, unknown && time.Since(o.loaded) > time.Second); err != nil {
		return fmt.Errorf("yard observe: %w", err)
	}
	o.passages = o.det.Process(reads, o.passages)
	n := len(o.weighings)
	o.weighings = o.weigher.Process(weights, o.weighings)
	o.weighed += int64(len(o.weighings) - n)
	return o.persist(ctx, o.svc.opts.Now(), false)
}

// Tick closes the presences whose departure window has passed by the wall
// clock now and resolves the weighings that waited long enough; Run calls
// it every second.
func (o *Observer) Tick(ctx context.Context, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.passages = o.det.Expire(now, o.passages)
	return o.persist(ctx, now, false)
}

// Flush closes every open presence and resolves every pending weighing
// (at shutdown).
func (o *Observer) Flush(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.passages = o.det.Flush(o.passages)
	return o.persist(ctx, o.svc.opts.Now(), true)
}

// Run ticks every second until ctx ends, then flushes.
func (o *Observer) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return o.Flush(fctx)
		case now := <-t.C:
			if err := o.Tick(ctx, now); err != nil {
				o.log.Warn("yard: tick failed; will retry", "err", err)
			}
		}
	}
}

func (o *Observer) persist(ctx context.Context, now time.Time, force bool) error {
	if err := o.svc.SavePassages(ctx, o.passages); err != nil {
		return fmt.Errorf("yard observe: %w", err)
	}
	o.passages = o.passages[:0]
	if err := o.svc.SaveWeighings(ctx, o.weighings); err != nil {
		return fmt.Errorf("yard observe: %w", err)
	}
	o.weighings = o.weighings[:0]
	watermark := map[string]time.Time{}
	for reader, yard := range o.gateYard {
		if wm := o.det.Watermark(reader); wm.After(watermark[yard]) {
			watermark[yard] = wm
		}
	}
	win, grace := o.svc.opts.LinkWindow, o.svc.opts.Detector.Depart+5*time.Second
	_, err := o.svc.ResolveWeighings(ctx, func(w Weighing) bool {
		due := w.Time.Add(win)
		return force || !watermark[w.Yard].Before(due.Add(o.svc.opts.Detector.Depart)) || now.After(due.Add(grace))
	})
	if err != nil {
		return fmt.Errorf("yard observe: %w", err)
	}
	return nil
}
