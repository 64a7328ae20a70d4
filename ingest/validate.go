package ingest

import (
	"encoding/hex"
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

// checks keeps the first failure of a record's checks: once one has
// failed the others do nothing, so they run in order, stop at the first
// failure, and build no error while everything is in range.
type checks struct {
	err              error
	received, latest time.Time
	lim              Limits
}

// ts checks a timestamp against arrival: not before lim.Oldest, not more
// than lim.MaxSkew after it.
func (c *checks) ts(t time.Time) {
	switch {
	case c.err != nil:
	case t.After(c.latest):
		c.err = reject(ReasonFutureTS, "ts %s is %s ahead of arrival (limit %s)",
			t.Format(time.RFC3339Nano), t.Sub(c.received).Round(time.Second), c.lim.MaxSkew)
	case t.Before(c.lim.Oldest):
		c.err = reject(ReasonOutOfRange, "ts %s before %s", t.Format(time.RFC3339Nano), c.lim.Oldest.Format(time.RFC3339))
	}
}

// rng checks that v is NaN (absent) or a finite value in lo..hi (the
// bounds are finite, so infinities fall outside).
func (c *checks) rng(name string, v, lo, hi float64) {
	if c.err == nil && (v < lo || v > hi) {
		c.err = reject(ReasonOutOfRange, "%s %v outside %v..%v", name, v, lo, hi)
	}
}

// fail records err() when bad holds.
func (c *checks) fail(bad bool, err func() error) {
	if c.err == nil && bad {
		c.err = err()
	}
}

// Validate checks the values of a decoded record against their physical
// ranges and its timestamps against arrival time: not before lim.Oldest and
// not more than lim.MaxSkew after received.
func Validate(rec *Record, received time.Time, lim Limits) error {
	lim = lim.withDefaults()
	c := checks{received: received, latest: received.Add(lim.MaxSkew), lim: lim}
	for _, p := range rec.Positions {
		c.ts(p.Time)
		c.rng("lat", p.Lat, -90, 90)
		c.rng("lon", p.Lon, -180, 180)
		c.rng("speed_kmh", p.SpeedKmh, 0, 400)
		c.rng("heading_deg", p.HeadingDeg, 0, 360)
		c.rng("hdop", p.HDOP, 0, 100)
		c.rng("odometer_km", p.OdometerKm, 0, 1e8)
		c.fail(p.Lat == 0 && p.Lon == 0, func() error { return reject(ReasonOutOfRange, "lat/lon 0,0 (no fix)") })
		c.fail(p.Sats > 200, func() error { return reject(ReasonOutOfRange, "sats %d outside 0..200", p.Sats) })
	}
	for _, f := range rec.Fills {
		c.ts(f.Time)
		c.rng("level_pct", f.LevelPct, 0, 100)
		c.rng("distance_mm", f.DistanceMm, 0, 20000)
		c.rng("temp_c", f.TempC, -50, 400)
		c.rng("battery_v", f.BatteryV, 0, 60)
		c.rng("tilt_deg", f.TiltDeg, 0, 180)
	}
	for _, r := range rec.Reads {
		c.ts(r.Time)
		c.rng("rssi_dbm", r.RSSIDbm, -150, 0)
		c.fail(len(r.EPC) < 4 || len(r.EPC) > 128 || len(r.EPC)%2 != 0,
			func() error { return reject(ReasonOutOfRange, "epc %q: want 4 to 128 hex digits, even", r.EPC) })
		if c.err == nil {
			if _, err := hex.DecodeString(r.EPC); err != nil {
				c.err = reject(ReasonOutOfRange, "epc %q is not hex", r.EPC)
			}
		}
	}
	for _, w := range rec.Weights {
		c.ts(w.Time)
		c.rng("kg", w.Kg, -100, 200000)
	}
	if s := rec.Status; s != nil {
		c.ts(s.Time)
		c.rng("battery_v", s.BatteryV, 0, 60)
		c.rng("rssi_dbm", s.RSSIDbm, -150, 0)
		c.rng("uptime_s", s.UptimeS, 0, 1e10)
		c.fail(len(s.Firmware) > 128, func() error { return reject(ReasonOutOfRange, "firmware longer than 128 bytes") })
		c.fail(s.ConfigVersion < 0, func() error { return reject(ReasonOutOfRange, "config_version %d is negative", s.ConfigVersion) })
	}
	if c.err != nil {
		return c.err
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
