package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// Message is one MQTT message handed to the pipeline by a Source.
type Message struct {
	Topic    string
	Payload  []byte
	Received time.Time
	// Ack acknowledges the message to the broker; the pipeline calls it once,
	// after the message is durably handled. Nil means nothing to acknowledge.
	Ack func()
}

// Source delivers messages. Run sends to out until ctx ends and then
// returns; it must not send after returning and never closes out.
type Source interface {
	Run(ctx context.Context, out chan<- Message) error
}

// Options tune the pipeline. Zero values take the defaults named.
type Options struct {
	// BatchPoints flushes a batch when it holds this many points; default 5000.
	BatchPoints int
	// BatchDelay flushes a batch this long after its first message; default 200ms.
	BatchDelay time.Duration
	// MaxPayloadBytes dead-letters larger payloads as oversized; default 256 KiB.
	MaxPayloadBytes int
	// Limits bound timestamps (future skew, default 5 min).
	Limits Limits
	// DecodeWorkers decode in parallel; default GOMAXPROCS.
	DecodeWorkers int
	// QueueLen is the capacity of each queue between stages; default 1024.
	QueueLen int
	// Writers write batches concurrently; default 2.
	Writers int
	// RetryMin and RetryMax bound the exponential backoff of retried writes;
	// defaults 100ms and 10s.
	RetryMin, RetryMax time.Duration
	// DrainTimeout is how long Run keeps flushing after its context ends;
	// default 15s. What is not written by then is not acknowledged, so the
	// broker delivers it again.
	DrainTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.BatchPoints <= 0 {
		o.BatchPoints = 5000
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 200 * time.Millisecond
	}
	if o.MaxPayloadBytes <= 0 {
		o.MaxPayloadBytes = 256 << 10
	}
	o.Limits = o.Limits.withDefaults()
	if o.DecodeWorkers <= 0 {
		o.DecodeWorkers = runtime.GOMAXPROCS(0)
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 1024
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports settings that cannot work.
func (o Options) Validate() error {
	switch {
	case o.BatchPoints < 0 || o.BatchDelay < 0 || o.MaxPayloadBytes < 0 || o.QueueLen < 0 || o.Writers < 0:
		return revloop.Invalid("ingest", "batch, payload, queue and writer limits must not be negative")
	case o.Limits.MaxSkew < 0:
		return revloop.Invalid("max-skew", "must not be negative")
	}
	return nil
}

// Deps are what the pipeline reads from and writes to.
type Deps struct {
	Source      Source
	Store       timeseries.Writer
	DeadLetters DeadLetterWriter
	// Devices, when set, rejects messages of unknown or revoked devices.
	Devices DeviceChecker
	// Enricher, when set, adds registry tags before points are built.
	Enricher  Enricher
	Observers []Observer
	Metrics   *Metrics
}

// ErrMissingDep is returned by New when a required dependency is nil.
var ErrMissingDep = errors.New("ingest: missing dependency")

// Pipeline is the ingest path from a Source to the stores.
type Pipeline struct {
	log  *slog.Logger
	opts Options
	deps Deps
	m    *Metrics

	storeErr atomic.Pointer[error] // last retryable write error, nil when healthy
	running  atomic.Bool
}

// New builds a pipeline. Source, Store and DeadLetters are required.
func New(log *slog.Logger, opts Options, deps Deps) (*Pipeline, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Source == nil:
		return nil, fmt.Errorf("%w: source", ErrMissingDep)
	case deps.Store == nil:
		return nil, fmt.Errorf("%w: time-series store", ErrMissingDep)
	case deps.DeadLetters == nil:
		return nil, fmt.Errorf("%w: dead-letter store", ErrMissingDep)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := deps.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Pipeline{log: log, opts: opts.withDefaults(), deps: deps, m: m}, nil
}

// AddObserver adds an observer; call it before Run.
func (p *Pipeline) AddObserver(o Observer) { p.deps.Observers = append(p.deps.Observers, o) }

// StoreError returns the error of the last failed write while writes keep
// failing, nil when the store is healthy.
func (p *Pipeline) StoreError() error {
	if e := p.storeErr.Load(); e != nil {
		return *e
	}
	return nil
}

// item is one message travelling through the stages.
type item struct {
	msg    Message
	rec    Record
	points []timeseries.Point
	dl     *DeadLetter // set when the message is rejected
}

type batch struct {
	items  []*item
	points int
}

// Run runs every stage until ctx ends, then drains: messages already
// received are decoded, written and acknowledged (for at most DrainTimeout).
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("ingest: pipeline already running")
	}
	defer p.running.Store(false)
	o := p.opts
	// wctx outlives ctx by the drain timeout so that in-flight batches are
	// flushed on shutdown.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	stopDrain := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(o.DrainTimeout, wcancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	defer stopDrain()

	in := make(chan Message, o.QueueLen)
	// The queues between stages carry chunks of up to chunkMax messages.
	chunks := max(o.QueueLen/chunkMax, 1)
	decoded := make(chan []*item, chunks)
	enriched := make(chan []*item, chunks)
	batches := make(chan *batch) // unbuffered: a send succeeds only when a writer is idle
	written := make(chan *batch, o.Writers)

	var wg sync.WaitGroup
	var srcErr error
	wg.Go(func() {
		srcErr = p.deps.Source.Run(ctx, in)
		close(in)
	})
	var dwg sync.WaitGroup
	for range o.DecodeWorkers {
		dwg.Go(func() { p.decodeStage(in, decoded) })
	}
	wg.Go(func() { dwg.Wait(); close(decoded) })
	wg.Go(func() { p.validateStage(wctx, decoded, enriched) })
	wg.Go(func() { p.batchStage(enriched, batches) })
	var wwg sync.WaitGroup
	for range o.Writers {
		wwg.Go(func() { p.writeStage(wctx, batches, written) })
	}
	wg.Go(func() { wwg.Wait(); close(written) })
	wg.Go(func() { p.observeStage(wctx, written) })

	sampleDone := make(chan struct{})
	var swg sync.WaitGroup
	swg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.m.queueDepth.WithLabelValues("decode").Set(float64(len(in)))
				p.m.queueDepth.WithLabelValues("validate").Set(float64(len(decoded)))
				p.m.queueDepth.WithLabelValues("batch").Set(float64(len(enriched)))
				p.m.queueDepth.WithLabelValues("write").Set(float64(len(batches)))
				p.m.queueDepth.WithLabelValues("observe").Set(float64(len(written)))
			case <-sampleDone:
				return
			}
		}
	})
	wg.Wait()
	close(sampleDone)
	swg.Wait()
	if c, ok := p.deps.Source.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			p.log.Warn("ingest: closing source", "err", err)
		}
	}
	if srcErr != nil && !errors.Is(srcErr, context.Canceled) {
		return fmt.Errorf("ingest: source: %w", srcErr)
	}
	return nil
}

// drop forgets a message without acknowledging it (the broker delivers it
// again).
func (p *Pipeline) drop(it *item) { p.m.Inflight.Dec() }

func (p *Pipeline) rejectItem(it *item, err error) {
	reason, detail := ReasonOf(err)
	dl := NewDeadLetter(it.msg.Topic, it.msg.Payload, it.msg.Received, reason, detail, p.opts.MaxPayloadBytes)
	it.dl = &dl
	it.points = nil
}

// chunkMax bounds how many messages a stage hands to the next at once.
// Passing chunks instead of single messages costs one hand-over (and at
// most one goroutine wake-up) per chunk; under load the chunks fill, at
// low rates they hold one message and add no delay.
const chunkMax = 256

// decodeStage checks size and topic and decodes the payload of whatever
// messages are waiting, and passes them on as one chunk.
func (p *Pipeline) decodeStage(in <-chan Message, out chan<- []*item) {
	msgs := make([]Message, 0, chunkMax)
	for msg := range in {
		msgs = append(msgs[:0], msg)
	drain:
		for len(msgs) < chunkMax {
			select {
			case m, ok := <-in:
				if !ok {
					break drain
				}
				msgs = append(msgs, m)
			default:
				break drain
			}
		}
		n := float64(len(msgs))
		p.m.Received.Add(n)
		p.m.Inflight.Add(n)
		now := time.Time{}
		store := make([]item, len(msgs))
		chunk := make([]*item, 0, len(msgs))
		for i, msg := range msgs {
			msgs[i] = Message{}
			if msg.Received.IsZero() {
				if now.IsZero() {
					now = p.opts.Now()
				}
				msg.Received = now
			}
			it := &store[i]
			it.msg = msg
			if p.decode(it) {
				chunk = append(chunk, it)
			}
		}
		if len(chunk) > 0 {
			out <- chunk
		}
	}
}

// decode checks the message's size and topic and decodes its payload; it reports
// false for a message with nothing to store, already acknowledged.
func (p *Pipeline) decode(it *item) bool {
	msg := it.msg
	switch {
	case len(msg.Payload) > p.opts.MaxPayloadBytes:
		p.rejectItem(it, reject(ReasonOversized, "payload of %d bytes exceeds the limit of %d", len(msg.Payload), p.opts.MaxPayloadBytes))
	case isDownlink(msg.Topic):
		// revloop's own retained config downlinks: nothing to store.
		if msg.Ack != nil {
			msg.Ack()
		}
		p.m.Inflight.Dec()
		return false
	default:
		rec, err := Decode(msg.Topic, msg.Payload, msg.Received)
		if err != nil {
			p.rejectItem(it, err)
		} else {
			it.rec = rec
		}
	}
	return true
}

func isDownlink(topic string) bool {
	_, ch, err := revloop.ParseTopic(topic)
	return err == nil && ch == revloop.ChannelConfig
}

// validateStage checks ranges, timestamps and, when configured, the device,
// then enriches the item and builds its points. One goroutine does both:
// a queue between them cost a hand-over per message and bought nothing,
// both being sequential.
func (p *Pipeline) validateStage(ctx context.Context, in <-chan []*item, out chan<- []*item) {
	defer close(out)
	for chunk := range in {
		kept := chunk[:0]
		decoded := 0
		for _, it := range chunk {
			if it.dl == nil {
				if err := Validate(&it.rec, it.msg.Received, p.opts.Limits); err != nil {
					p.rejectItem(it, err)
				}
			}
			if it.dl == nil && p.deps.Devices != nil {
				reason, err := p.checkDevice(ctx, it.rec.Device)
				if err != nil {
					p.drop(it)
					continue
				}
				if reason != "" {
					p.rejectItem(it, reject(ReasonDeviceRejected, "%s", reason))
				}
			}
			if it.dl == nil {
				decoded++
				p.enrich(ctx, it)
			}
			kept = append(kept, it)
		}
		p.m.Decoded.Add(float64(decoded))
		if len(kept) > 0 {
			out <- kept
		}
	}
}

func (p *Pipeline) checkDevice(ctx context.Context, id revloop.DeviceID) (string, error) {
	for attempt := 0; ; attempt++ {
		reason, err := p.deps.Devices.CheckDevice(ctx, id)
		if err == nil {
			return reason, nil
		}
		p.log.Warn("ingest: device check failed; retrying", "device", id, "err", err)
		if err := p.sleep(ctx, attempt, 0); err != nil {
			return "", err
		}
	}
}

// enrich adds registry tags to a valid item and builds its points.
func (p *Pipeline) enrich(ctx context.Context, it *item) {
	if p.deps.Enricher != nil {
		if err := p.deps.Enricher.Enrich(ctx, &it.rec); err != nil {
			p.log.Warn("ingest: enrich failed; storing as decoded", "device", it.rec.Device, "err", err)
		}
	}
	it.points = AppendPoints(make([]timeseries.Point, 0, pointCount(&it.rec)), &it.rec)
}

func pointCount(r *Record) int {
	n := len(r.Positions) + len(r.Fills) + len(r.Reads) + len(r.Weights)
	if r.Status != nil {
		n++
	}
	return n
}

// batchStage groups items into batches by size and time. Besides the two
// limits it commits as a group: once a batch holds an eighth of BatchPoints,
// it goes to a writer as soon as one is idle and no message is waiting.
// Ingest is acknowledged only after the write, so the broker's in-flight
// window bounds what is in the pipeline; a batch that waited for a full
// BatchPoints or for BatchDelay while that window is smaller would leave
// the writers idle and the throughput bounded by window/BatchDelay.
func (p *Pipeline) batchStage(in <-chan []*item, out chan<- *batch) {
	defer close(out)
	var (
		cur   *batch
		timer = time.NewTimer(time.Hour)
		early = max(p.opts.BatchPoints/8, 1)
	)
	timer.Stop()
	flush := func() {
		if cur != nil {
			timer.Stop()
			out <- cur
			cur = nil
		}
	}
	for {
		var idle chan<- *batch // nil (never ready) unless a group commit may go
		if cur != nil && cur.points >= early && len(in) == 0 {
			idle = out
		}
		select {
		case chunk, ok := <-in:
			if !ok {
				flush()
				return
			}
			for _, it := range chunk {
				if cur == nil {
					cur = &batch{items: make([]*item, 0, 256)}
					timer.Reset(p.opts.BatchDelay)
				}
				cur.items = append(cur.items, it)
				cur.points += max(len(it.points), 1)
				if cur.points >= p.opts.BatchPoints {
					flush()
				}
			}
		case idle <- cur:
			timer.Stop()
			cur = nil
		case <-timer.C:
			flush()
		}
	}
}

// writeStage writes a batch's points (bisecting rejected batches) and its
// dead letters.
func (p *Pipeline) writeStage(ctx context.Context, in <-chan *batch, out chan<- *batch) {
	for b := range in {
		if ctx.Err() != nil {
			p.dropBatch(b)
			continue
		}
		var ok []*item
		for _, it := range b.items {
			if it.dl == nil && len(it.points) > 0 {
				ok = append(ok, it)
			}
		}
		if err := p.writeItems(ctx, ok); err != nil {
			p.dropBatch(b)
			continue
		}
		var dls []DeadLetter
		for _, it := range b.items {
			if it.dl != nil {
				dls = append(dls, *it.dl)
			}
		}
		if len(dls) > 0 {
			if err := p.putDeadLetters(ctx, dls); err != nil {
				p.dropBatch(b)
				continue
			}
		}
		out <- b
	}
}

func (p *Pipeline) dropBatch(b *batch) {
	for _, it := range b.items {
		p.drop(it)
	}
}

// writeItems writes the points of items, retrying retryable errors and
// bisecting rejected batches until the offending messages are isolated and
// dead-lettered. It fails only when ctx ends.
func (p *Pipeline) writeItems(ctx context.Context, items []*item) error {
	if len(items) == 0 {
		return nil
	}
	n := 0
	for _, it := range items {
		n += len(it.points)
	}
	pts := make([]timeseries.Point, 0, n)
	for _, it := range items {
		pts = append(pts, it.points...)
	}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := p.deps.Store.Write(ctx, pts)
		p.m.WriteSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			p.storeErr.Store(nil)
			p.m.Written.Add(float64(len(pts)))
			p.m.BatchPoints.Observe(float64(len(pts)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if timeseries.IsRetryable(err) {
			p.storeErr.Store(&err)
			p.m.WriteRetries.Inc()
			p.log.Warn("ingest: write failed; retrying", "points", len(pts), "attempt", attempt+1, "err", err)
			var we *timeseries.WriteError
			var after time.Duration
			if errors.As(err, &we) {
				after = we.RetryAfter
			}
			if err := p.sleep(ctx, attempt, after); err != nil {
				return err
			}
			continue
		}
		p.storeErr.Store(nil)
		if len(items) == 1 {
			p.rejectItem(items[0], reject(ReasonStoreRejected, "%v", err))
			return nil
		}
		mid := len(items) / 2
		if err := p.writeItems(ctx, items[:mid]); err != nil {
			return err
		}
		return p.writeItems(ctx, items[mid:])
	}
}

func (p *Pipeline) putDeadLetters(ctx context.Context, dls []DeadLetter) error {
	for attempt := 0; ; attempt++ {
		err := p.deps.DeadLetters.PutDeadLetters(ctx, dls)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.log.Warn("ingest: dead-letter write failed; retrying", "count", len(dls), "err", err)
		if err := p.sleep(ctx, attempt, 0); err != nil {
			return err
		}
	}
}

// observeStage runs the observers over each written batch and then
// acknowledges its messages.
func (p *Pipeline) observeStage(ctx context.Context, in <-chan *batch) {
	var recs []Record
	for b := range in {
		recs = recs[:0]
		for _, it := range b.items {
			if it.dl == nil {
				recs = append(recs, it.rec)
			} else {
				p.m.Rejected.WithLabelValues(it.dl.Reason).Inc()
			}
		}
		if !p.observe(ctx, recs) {
			p.dropBatch(b)
			continue
		}
		for _, it := range b.items {
			if it.msg.Ack != nil {
				it.msg.Ack()
			}
		}
		n := float64(len(b.items))
		p.m.Acked.Add(n)
		p.m.Inflight.Sub(n)
	}
}

func (p *Pipeline) observe(ctx context.Context, recs []Record) bool {
	if len(recs) == 0 {
		return true
	}
	for _, o := range p.deps.Observers {
		for attempt := 0; ; attempt++ {
			err := o.Observe(ctx, recs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return false
			}
			p.m.ObserverErrs.Inc()
			p.log.Error("ingest: observer failed; retrying", "observer", fmt.Sprintf("%T", o), "attempt", attempt+1, "err", err)
			if p.sleep(ctx, attempt, 0) != nil {
				return false
			}
		}
	}
	return true
}

// sleep waits the backoff of attempt (or after, when longer), or until ctx
// ends.
func (p *Pipeline) sleep(ctx context.Context, attempt int, after time.Duration) error {
	d := p.opts.RetryMin << min(attempt, 20)
	if d > p.opts.RetryMax || d <= 0 {
		d = p.opts.RetryMax
	}
	d = d/2 + rand.N(d/2+1)
	if after > d {
		d = min(after, 5*p.opts.RetryMax)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
