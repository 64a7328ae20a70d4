package dispatch

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
)

// VehicleSource lists the fleet for the live view's tracker index.
type VehicleSource interface {
	AllVehicles(ctx context.Context) ([]Vehicle, error)
}

// LatestReader seeds the live view with the newest stored fixes at start.
type LatestReader interface {
	LatestPositions(ctx context.Context, devices ...revloop.DeviceID) ([]revloop.Position, error)
}

// FillHistoryReader is implemented by time-series readers that can seed the
// bins' current fill at start.
type FillHistoryReader interface {
	FillHistory(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.FillReading, error)
}

// FillSensorSource is implemented by vehicle sources that also list the
// bins' fill sensors (Store does).
type FillSensorSource interface {
	FillSensors(ctx context.Context) ([]revloop.DeviceID, error)
}

// FillLookback is how far back Load looks for a bin's latest fill reading.
const FillLookback = 7 * 24 * time.Hour

// LiveOptions tune the live view.
type LiveOptions struct {
	// Refresh is how often the pre-encoded positions are rebuilt when new
	// fixes arrived; default 1 s.
	Refresh time.Duration
	// VehicleRefresh is how often the vehicle list is reloaded; default 30 s
	// (Invalidate reloads at once).
	VehicleRefresh time.Duration
	// StreamBuffer is each stream subscriber's buffer; default 256 messages.
	StreamBuffer int
}

// Snapshot is the fleet's latest positions as a pre-encoded GeoJSON
// FeatureCollection, plain and gzip-compressed.
type Snapshot struct {
	JSON  []byte
	Gzip  []byte
	ETag  string
	Built time.Time
	Count int
}

// Live is the in-memory live view: the latest fix of every tracker and the
// latest reading of every fill sensor, fed by ingest as an Observer, and
// the positions FeatureCollection the API serves without touching a store.
type Live struct {
	log      *slog.Logger
	opts     LiveOptions
	vehicles VehicleSource
	latest   LatestReader
	hub      *Hub

	mu     sync.RWMutex
	fixes  map[revloop.DeviceID]revloop.Position
	fills  map[revloop.DeviceID]revloop.FillReading
	fleet  map[revloop.DeviceID]Vehicle // by tracker
	order  []revloop.DeviceID           // trackers of fleet, by vehicle id
	enc    map[revloop.DeviceID][]byte  // encoded feature of each fleet tracker's fix
	dirty  atomic.Bool
	snap   atomic.Pointer[Snapshot]
	gen    atomic.Uint64
	reload chan struct{}
}

var _ ingest.Observer = (*Live)(nil)

// NewLive returns a live view over vehicles; latest may be nil.
func NewLive(log *slog.Logger, opts LiveOptions, vehicles VehicleSource, latest LatestReader) *Live {
	if opts.Refresh <= 0 {
		opts.Refresh = time.Second
	}
	if opts.VehicleRefresh <= 0 {
		opts.VehicleRefresh = 30 * time.Second
	}
	l := &Live{log: log, opts: opts, vehicles: vehicles, latest: latest, hub: NewHub(opts.StreamBuffer),
		fixes: map[revloop.DeviceID]revloop.Position{}, fills: map[revloop.DeviceID]revloop.FillReading{},
		fleet: map[revloop.DeviceID]Vehicle{}, enc: map[revloop.DeviceID][]byte{}, reload: make(chan struct{}, 1)}
	l.snap.Store(encodeSnapshot(nil, 0, time.Now(), 0))
	return l
}

// Hub returns the live stream's fan-out hub.
func (l *Live) Hub() *Hub { return l.hub }

// Observe takes the newest fixes and fill readings of accepted records and
// streams positions to subscribers. Older fixes than the one held (late
// data) are ignored here; they are stored by ingest all the same.
func (l *Live) Observe(_ context.Context, records []ingest.Record) error {
	stream := l.hub.Subscribers() > 0
	var streamed [][]byte
	l.mu.Lock()
	for i := range records {
		r := &records[i]
		for _, p := range r.Positions {
			if cur, ok := l.fixes[p.Device]; ok && !p.Time.After(cur.Time) {
				continue
			}
			var enc []byte
			if v, ok := l.fleet[p.Device]; ok {
				p.Vehicle = v.ID
				// A fresh slice: the old one may be part of a stream message.
				enc = encodePosition(nil, p, v.Plate)
				l.enc[p.Device] = enc
				l.dirty.Store(true)
			} else if stream {
				enc = encodePosition(nil, p, "")
			}
			l.fixes[p.Device] = p
			if stream {
				streamed = append(streamed, enc)
			}
		}
		for _, f := range r.Fills {
			if cur, ok := l.fills[f.Device]; ok && !f.Time.After(cur.Time) {
				continue
			}
			l.fills[f.Device] = f
		}
	}
	l.mu.Unlock()
	for _, b := range streamed {
		l.hub.Publish(Message{Type: "position", Data: b})
	}
	return nil
}

// PublishEvent sends a derived event (fence enter/exit, alert, ...) to
// stream subscribers of type "event".
func (l *Live) PublishEvent(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	l.hub.Publish(Message{Type: "event", Data: b})
	return nil
}

// Fill returns the latest reading of a fill sensor.
func (l *Live) Fill(dev revloop.DeviceID) (revloop.FillReading, bool) {
	l.mu.RLock()
	f, ok := l.fills[dev]
	l.mu.RUnlock()
	return f, ok
}

// Positions returns the current snapshot; it never blocks on a store.
func (l *Live) Positions() *Snapshot { return l.snap.Load() }

// Invalidate asks for the vehicle list to be reloaded (after a vehicle was
// created, changed or deleted).
func (l *Live) Invalidate() {
	select {
	case l.reload <- struct{}{}:
	default:
	}
}

// Run loads the fleet and the newest stored fixes, then keeps the snapshot
// fresh until ctx ends.
func (l *Live) Run(ctx context.Context) error {
	l.Load(ctx)
	tick := time.NewTicker(l.opts.Refresh)
	defer tick.Stop()
	vtick := time.NewTicker(l.opts.VehicleRefresh)
	defer vtick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if l.dirty.Load() {
				l.Rebuild()
			}
		case <-vtick.C:
			l.loadVehicles(ctx)
			l.Rebuild()
		case <-l.reload:
			l.loadVehicles(ctx)
			l.Rebuild()
		}
	}
}

// Load reads the fleet and the newest stored fixes and builds the first
// snapshot; Run calls it. Failures are logged: the view then fills from
// live fixes.
func (l *Live) Load(ctx context.Context) {
	l.loadVehicles(ctx)
	if l.latest != nil {
		ps, err := l.latest.LatestPositions(ctx)
		if err != nil {
			l.log.Warn("live: loading latest positions", "err", err)
		}
		l.Observe(ctx, []ingest.Record{{Positions: ps}})
	}
	l.Rebuild()
	l.loadFills(ctx)
}

// loadFills seeds the latest fill of every bin sensor from the time-series
// store, when both sources can tell.
func (l *Live) loadFills(ctx context.Context) {
	fr, ok1 := l.latest.(FillHistoryReader)
	fs, ok2 := l.vehicles.(FillSensorSource)
	if !ok1 || !ok2 {
		return
	}
	devs, err := fs.FillSensors(ctx)
	if err != nil {
		l.log.Warn("live: listing fill sensors", "err", err)
		return
	}
	now := time.Now()
	var latest []revloop.FillReading
	for _, d := range devs {
		rs, err := fr.FillHistory(ctx, d, now.Add(-FillLookback), now.Add(time.Minute))
		if err != nil {
			l.log.Warn("live: loading fill history", "device", d, "err", err)
			return
		}
		if len(rs) > 0 {
			latest = append(latest, rs[len(rs)-1])
		}
	}
	l.Observe(ctx, []ingest.Record{{Fills: latest}})
}

// Refresh reloads the vehicle list and rebuilds the snapshot at once.
func (l *Live) Refresh(ctx context.Context) {
	l.loadVehicles(ctx)
	l.Rebuild()
}

func (l *Live) loadVehicles(ctx context.Context) {
	vs, err := l.vehicles.AllVehicles(ctx)
	if err != nil {
		l.log.Warn("live: loading vehicles", "err", err)
		return
	}
	fleet := make(map[revloop.DeviceID]Vehicle, len(vs))
	for _, v := range vs {
		if v.TrackerDeviceID != "" {
			fleet[revloop.DeviceID(v.TrackerDeviceID)] = v
		}
	}
	order := make([]revloop.DeviceID, 0, len(fleet))
	for dev := range fleet {
		order = append(order, dev)
	}
	sort.Slice(order, func(i, j int) bool { return fleet[order[i]].ID < fleet[order[j]].ID })
	l.mu.Lock()
	l.fleet, l.order = fleet, order
	enc := make(map[revloop.DeviceID][]byte, len(fleet))
	for dev, v := range fleet {
		if p, ok := l.fixes[dev]; ok {
			p.Vehicle = v.ID
			l.fixes[dev] = p
			enc[dev] = encodePosition(nil, p, v.Plate)
		}
	}
	l.enc = enc
	l.mu.Unlock()
	l.dirty.Store(true)
}

// Rebuild assembles the snapshot from the encoded fixes; only fixes that
// changed were encoded again since the last one.
func (l *Live) Rebuild() {
	l.dirty.Store(false)
	var b bytes.Buffer
	n := 0
	l.mu.RLock()
	b.Grow(len(l.order)*240 + 64)
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for _, dev := range l.order {
		f, ok := l.enc[dev]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(f)
		n++
	}
	l.mu.RUnlock()
	b.WriteString(`]}`)
	l.snap.Store(encodeSnapshot(b.Bytes(), n, time.Now(), l.gen.Add(1)))
}

func encodeSnapshot(body []byte, n int, now time.Time, gen uint64) *Snapshot {
	if body == nil {
		body = []byte(`{"type":"FeatureCollection","features":[]}`)
	}
	var gz bytes.Buffer
	gz.Grow(len(body) / 6)
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(body)
	zw.Close()
	return &Snapshot{JSON: body, Gzip: gz.Bytes(), ETag: `"` + strconv.FormatInt(now.UnixNano(), 36) + "-" + strconv.FormatUint(gen, 36) + `"`, Built: now, Count: n}
}

// encodePosition appends a GeoJSON Point Feature for p.
func encodePosition(b []byte, p revloop.Position, plate string) []byte {
	b = append(b, `{"type":"Feature","id":`...)
	id := p.Vehicle
	if id == "" {
		id = string(p.Device)
	}
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"geometry":{"type":"Point","coordinates":[`...)
	b = appendFloat(b, p.Lon, 6)
	b = append(b, ',')
	b = appendFloat(b, p.Lat, 6)
	b = append(b, `]},"properties":{"device":`...)
	b = strconv.AppendQuote(b, string(p.Device))
	if p.Vehicle != "" {
		b = append(b, `,"vehicle":`...)
		b = strconv.AppendQuote(b, p.Vehicle)
	}
	if plate != "" {
		b = append(b, `,"plate":`...)
		b = strconv.AppendQuote(b, plate)
	}
	b = append(b, `,"ts":"`...)
	b = p.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	for _, f := range []struct {
		k string
		v float64
		d int
	}{{"speed_kmh", p.SpeedKmh, 1}, {"heading_deg", p.HeadingDeg, 0}, {"odometer_km", p.OdometerKm, 1}} {
		if !math.IsNaN(f.v) && !math.IsInf(f.v, 0) {
			b = append(b, `,"`...)
			b = append(b, f.k...)
			b = append(b, `":`...)
			b = appendFloat(b, f.v, f.d)
		}
	}
	if p.Ignition != nil {
		b = append(b, `,"ignition":`...)
		b = strconv.AppendBool(b, *p.Ignition)
	}
	return append(b, `}}`...)
}

func appendFloat(b []byte, v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'f', prec, 64)
}
