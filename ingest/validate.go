package ingest

import (
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// Limits are the bounds Validate checks besides the physical ranges.
type Limits struct {
	// MaxSkew is how far a device timestamp may be ahead of arrival; default 5 min.
	MaxSkew time.Duration
	// Oldest is the earliest device timestamp accepted; default 2000-01-01.
	Oldest time.Time
}

func (l Limits) withDefaults() Limits {
	if l.MaxSkew <= 0 {
		l.MaxSkew = 5 * time.Minute
	}
	if l.Oldest.IsZero() {
		l.Oldest = defaultOldest
	}
	return l
}

var defaultOldest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// rangeCheck is one physical range; NaN (absent) always passes.
func rangeCheck(name string, v, lo, hi float64) error {
	if v != v {
		return nil
	}
	if math.IsInf(v, 0) || v < lo || v > hi {
		return reject(ReasonOutOfRange, "%s %v outside %v..%v", name, v, lo, hi)
	}
	return nil
}

// within reports whether rangeCheck passes v: NaN (absent) or a finite
// value in lo..hi (the bounds are finite, so infinities fall outside).
func within(v, lo, hi float64) bool { return !(v < lo || v > hi) }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Validate checks the values of a decoded record against their physical
// ranges and its timestamps against arrival time: not before lim.Oldest and
// not more than lim.MaxSkew after received.
func Validate(rec *Record, received time.Time, lim Limits) error {
	lim = lim.withDefaults()
	latest := received.Add(lim.MaxSkew)
	checkTS := func(t time.Time) error {
		switch {
		case t.After(latest):
			return reject(ReasonFutureTS, "ts %s is %s ahead of arrival (limit %s)",
				t.Format(time.RFC3339Nano), t.Sub(received).Round(time.Second), lim.MaxSkew)
		case t.Before(lim.Oldest):
			return reject(ReasonOutOfRange, "ts %s before %s", t.Format(time.RFC3339Nano), lim.Oldest.Format(time.RFC3339))
		}
		return nil
	}
	tsOK := func(t time.Time) bool { return !t.After(latest) && !t.Before(lim.Oldest) }
	for _, p := range rec.Positions {
		// The common case, everything in range, is decided without
		// building the checks below.
		if tsOK(p.Time) && within(p.Lat, -90, 90) && within(p.Lon, -180, 180) &&
			within(p.SpeedKmh, 0, 400) && within(p.HeadingDeg, 0, 360) && within(p.HDOP, 0, 100) &&
			within(p.OdometerKm, 0, 1e8) && (p.Lat != 0 || p.Lon != 0) && p.Sats <= 200 {
			continue
		}
		if err := firstErr(
			checkTS(p.Time),
			rangeCheck("lat", p.Lat, -90, 90),
			rangeCheck("lon", p.Lon, -180, 180),
			rangeCheck("speed_kmh", p.SpeedKmh, 0, 400),
			rangeCheck("heading_deg", p.HeadingDeg, 0, 360),
			rangeCheck("hdop", p.HDOP, 0, 100),
			rangeCheck("odometer_km", p.OdometerKm, 0, 1e8),
		); err != nil {
			return err
		}
		if p.Lat == 0 && p.Lon == 0 {
			return reject(ReasonOutOfRange, "lat/lon 0,0 (no fix)")
		}
		if p.Sats > 200 {
			return reject(ReasonOutOfRange, "sats %d outside 0..200", p.Sats)
		}
	}
	for _, f := range rec.Fills {
		if tsOK(f.Time) && within(f.LevelPct, 0, 100) && within(f.DistanceMm, 0, 20000) &&
			within(f.TempC, -50, 400) && within(f.BatteryV, 0, 60) && within(f.TiltDeg, 0, 180) {
			continue
		}
		if err := firstErr(
			checkTS(f.Time),
			rangeCheck("level_pct", f.LevelPct, 0, 100),
			rangeCheck("distance_mm", f.DistanceMm, 0, 20000),
			rangeCheck("temp_c", f.TempC, -50, 400),
			rangeCheck("battery_v", f.BatteryV, 0, 60),
			rangeCheck("tilt_deg", f.TiltDeg, 0, 180),
		); err != nil {
			return err
		}
	}
	for _, r := range rec.Reads {
		if err := firstErr(checkTS(r.Time), rangeCheck("rssi_dbm", r.RSSIDbm, -150, 0)); err != nil {
			return err
		}
		if len(r.EPC) < 4 || len(r.EPC) > 128 || len(r.EPC)%2 != 0 {
			return reject(ReasonOutOfRange, "epc %q: want 4 to 128 hex digits, even", r.EPC)
		}
		if _, err := hex.DecodeString(r.EPC); err != nil {
			return reject(ReasonOutOfRange, "epc %q is not hex", r.EPC)
		}
	}
	for _, w := range rec.Weights {
		if err := firstErr(checkTS(w.Time), rangeCheck("kg", w.Kg, -100, 200000)); err != nil {
			return err
		}
	}
	if s := rec.Status; s != nil {
		if err := firstErr(
			checkTS(s.Time),
			rangeCheck("battery_v", s.BatteryV, 0, 60),
			rangeCheck("rssi_dbm", s.RSSIDbm, -150, 0),
			rangeCheck("uptime_s", s.UptimeS, 0, 1e10),
		); err != nil {
			return err
		}
		if len(s.Firmware) > 128 {
			return reject(ReasonOutOfRange, "firmware longer than 128 bytes")
		}
		if s.ConfigVersion < 0 {
			return reject(ReasonOutOfRange, "config_version %d is negative", s.ConfigVersion)
		}
	}
	if n := len(rec.Positions) + len(rec.Fills) + len(rec.Reads) + len(rec.Weights); n == 0 && rec.Status == nil {
		return malformed("message carries no readings")
	}
	return nil
}

// AppendPoints appends the time-series points of rec to dst. Tag reads of
// one message that share reader, antenna and instant are moved apart by a
// nanosecond each, in payload order, so that none overwrites another and a
// redelivery maps to the same points.
//
// The points are those of timeseries.PositionPoint, FillPoint, RFIDPoint,
// WeightPoint and StatusPoint, built here with one allocation for the
// fields, tags and values of all of rec's points instead of several per
// point.
func AppendPoints(dst []timeseries.Point, rec *Record) []timeseries.Point {
	n := len(rec.Positions) + len(rec.Fills) + len(rec.Reads) + len(rec.Weights)
	if rec.Status != nil {
		n++
	}
	if n == 0 {
		return dst
	}
	dst = slices.Grow(dst, n)
	var pb pointBuf
	if len(rec.Positions) > 0 {
		slots := make([]positionSlot, len(rec.Positions))
		for i, p := range rec.Positions {
			s := &slots[i]
			pb.start(s.fields[:], s.floats[:], nil, nil)
			dst = append(dst, pb.position(p))
		}
	}
	if len(rec.Fills) > 0 {
		slots := make([]fillSlot, len(rec.Fills))
		for i, f := range rec.Fills {
			s := &slots[i]
			pb.start(s.fields[:], s.floats[:], nil, s.tags[:])
			dst = append(dst, pb.fill(f))
		}
	}
	if len(rec.Reads) > 0 {
		type key struct {
			ant int
			t   int64
		}
		var seen map[key]int
		if len(rec.Reads) > maxScanReads {
			seen = make(map[key]int, len(rec.Reads))
		}
		slots := make([]rfidSlot, len(rec.Reads))
		for i, r := range rec.Reads {
			var n int
			if seen != nil {
				k := key{r.Antenna, r.Time.UnixNano()}
				n = seen[k]
				seen[k]++
			} else {
				n = sameReadsBefore(rec.Reads, i)
			}
			if n > 0 {
				r.Time = r.Time.Add(time.Duration(n))
			}
			s := &slots[i]
			pb.start(s.fields[:], s.floats[:], s.strs[:], s.tags[:])
			dst = append(dst, pb.rfid(r))
		}
	}
	if len(rec.Weights) > 0 {
		slots := make([]weightSlot, len(rec.Weights))
		for i, w := range rec.Weights {
			s := &slots[i]
			pb.start(s.fields[:], s.floats[:], nil, nil)
			dst = append(dst, pb.weight(w))
		}
	}
	if rec.Status != nil {
		s := new(statusSlot)
		pb.start(s.fields[:], s.floats[:], s.strs[:], nil)
		dst = append(dst, pb.status(*rec.Status))
	}
	return dst
}

// The slots hold the fields, tags and values of one point of each
// measurement, sized for the most a point of it can have.
type (
	positionSlot struct {
		fields [8]timeseries.Field
		floats [6]float64
	}
	fillSlot struct {
		fields [5]timeseries.Field
		floats [5]float64
		tags   [2]timeseries.Tag
	}
	rfidSlot struct {
		fields [2]timeseries.Field
		floats [1]float64
		strs   [1]string
		tags   [1]timeseries.Tag
	}
	weightSlot struct {
		fields [2]timeseries.Field
		floats [1]float64
	}
	statusSlot struct {
		fields [6]timeseries.Field
		floats [3]float64
		strs   [1]string
	}
)

// maxScanReads is the batch size up to which AppendPoints finds reads of
// the same antenna and instant by scanning instead of with a map.
const maxScanReads = 32

// sameReadsBefore counts the reads before reads[i] with its antenna and
// instant.
func sameReadsBefore(reads []revloop.RFIDRead, i int) int {
	n := 0
	ant, t := reads[i].Antenna, reads[i].Time.UnixNano()
	for _, r := range reads[:i] {
		if r.Antenna == ant && r.Time.UnixNano() == t {
			n++
		}
	}
	return n
}

// pointBuf builds one point at a time with its fields, tags and values in
// the slot given to start.
type pointBuf struct {
	fields []timeseries.Field
	floats []float64
	strs   []string
	tags   []timeseries.Tag
}

func (b *pointBuf) start(fields []timeseries.Field, floats []float64, strs []string, tags []timeseries.Tag) {
	b.fields, b.floats, b.strs, b.tags = fields[:0], floats[:0], strs[:0], tags[:0]
}

// float adds a float field unless v is NaN or infinite (absent).
func (b *pointBuf) float(key string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	b.floats = append(b.floats, v)
	b.fields = append(b.fields, timeseries.Field{Key: key, Value: boxedFloat(&b.floats[len(b.floats)-1])})
}

func (b *pointBuf) str(key, v string) {
	b.strs = append(b.strs, v)
	b.fields = append(b.fields, timeseries.Field{Key: key, Value: boxedString(&b.strs[len(b.strs)-1])})
}

func (b *pointBuf) value(key string, v any) {
	b.fields = append(b.fields, timeseries.Field{Key: key, Value: v})
}

// tag adds a tag; a slot without room for tags (a position's, whose
// vehicle tag is rare) gets a slice of its own.
func (b *pointBuf) tag(key, v string) {
	b.tags = append(b.tags, timeseries.Tag{Key: key, Value: v})
}

// finish sets the fields and tags of p; like the timeseries constructors
// it leaves Tags nil when there are none. Both slices are capped so that
// appending to one point's never writes into the slot.
func (b *pointBuf) finish(p *timeseries.Point) {
	p.Fields = slices.Clip(b.fields)
	if len(b.tags) > 0 {
		p.Tags = slices.Clip(b.tags)
	}
}

func (b *pointBuf) position(pos revloop.Position) timeseries.Point {
	p := timeseries.Point{Measurement: revloop.MeasurementPosition, Device: pos.Device, Time: pos.Time}
	if pos.Vehicle != "" {
		b.tag("vehicle", pos.Vehicle)
	}
	b.float("lat", pos.Lat)
	b.float("lon", pos.Lon)
	b.float("speed_kmh", pos.SpeedKmh)
	b.float("heading_deg", pos.HeadingDeg)
	b.float("hdop", pos.HDOP)
	if pos.Sats >= 0 {
		b.value("sats", int64(pos.Sats))
	}
	b.float("odometer_km", pos.OdometerKm)
	if pos.Ignition != nil {
		b.value("ignition", *pos.Ignition)
	}
	b.finish(&p)
	return p
}

func (b *pointBuf) fill(r revloop.FillReading) timeseries.Point {
	p := timeseries.Point{Measurement: revloop.MeasurementFill, Device: r.Device, Time: r.Time}
	if r.Bin != "" {
		b.tag("bin", r.Bin)
	}
	if r.Site != "" {
		b.tag("site", r.Site)
	}
	b.float("level_pct", r.LevelPct)
	b.float("distance_mm", r.DistanceMm)
	b.float("temp_c", r.TempC)
	b.float("battery_v", r.BatteryV)
	b.float("tilt_deg", r.TiltDeg)
	b.finish(&p)
	return p
}

func (b *pointBuf) rfid(r revloop.RFIDRead) timeseries.Point {
	p := timeseries.Point{Measurement: revloop.MeasurementRFIDRead, Device: r.Device, Time: r.Time}
	b.tag("antenna", strconv.Itoa(r.Antenna))
	b.str("epc", r.EPC)
	b.float("rssi_dbm", r.RSSIDbm)
	b.finish(&p)
	return p
}

func (b *pointBuf) weight(r revloop.WeightReading) timeseries.Point {
	p := timeseries.Point{Measurement: revloop.MeasurementWeight, Device: r.Device, Time: r.Time}
	b.value("stable", r.Stable)
	b.float("kg", r.Kg)
	b.finish(&p)
	return p
}

func (b *pointBuf) status(s revloop.DeviceStatus) timeseries.Point {
	p := timeseries.Point{Measurement: revloop.MeasurementDeviceStatus, Device: s.Device, Time: s.Time}
	b.float("battery_v", s.BatteryV)
	b.float("rssi_dbm", s.RSSIDbm)
	if s.Firmware != "" {
		b.str("firmware", s.Firmware)
	}
	b.float("uptime_s", s.UptimeS)
	b.value("online", s.Online)
	if s.ConfigVersion != 0 {
		b.value("config_version", s.ConfigVersion)
	}
	b.finish(&p)
	return p
}

// eface is the layout of an interface value with no methods.
type eface struct {
	typ, data unsafe.Pointer
}

var (
	float64Type = efaceType(float64(0))
	stringType  = efaceType("")
)

func efaceType(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// boxedFloat returns *p as an interface value without allocating: the value
// refers to *p, as the one any(*p) would build refers to a copy. *p must not
// change afterwards; the point slots are written once, before boxing.
func boxedFloat(p *float64) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = float64Type, unsafe.Pointer(p)
	return v
}

// boxedString is boxedFloat for a string.
func boxedString(p *string) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = stringType, unsafe.Pointer(p)
	return v
}
