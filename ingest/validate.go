package ingest

import (
	"encoding/hex"
	"math"
	"time"

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
// one message that share antenna and instant are moved apart by a
// nanosecond each, in payload order, so that none overwrites another and a
// redelivery maps to the same points.
func AppendPoints(dst []timeseries.Point, rec *Record) []timeseries.Point {
	for _, p := range rec.Positions {
		dst = append(dst, timeseries.PositionPoint(p))
	}
	for _, f := range rec.Fills {
		dst = append(dst, timeseries.FillPoint(f))
	}
	if len(rec.Reads) > 0 {
		type key struct {
			ant int
			t   int64
		}
		var seen map[key]int
		if len(rec.Reads) > 1 {
			seen = make(map[key]int, len(rec.Reads))
		}
		for _, r := range rec.Reads {
			if seen != nil {
				k := key{r.Antenna, r.Time.UnixNano()}
				if n := seen[k]; n > 0 {
					r.Time = r.Time.Add(time.Duration(n))
				}
				seen[k]++
			}
			dst = append(dst, timeseries.RFIDPoint(r))
		}
	}
	for _, w := range rec.Weights {
		dst = append(dst, timeseries.WeightPoint(w))
	}
	if rec.Status != nil {
		dst = append(dst, timeseries.StatusPoint(*rec.Status))
	}
	return dst
}
