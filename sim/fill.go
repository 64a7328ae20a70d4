package sim

import (
	"math"
	"time"
)

// FillModel is the true filling process of a bin: a base rate in percent of
// the bin's volume per hour, modulated by weekday and hour of day (local
// time) and by a per-day random factor. It is the ground truth against which
// forecasts are scored.
type FillModel struct {
	// BasePctPerH is the mean filling rate over a week, percent per hour.
	BasePctPerH float64 `json:"base_pct_per_h"`
	// Weekday multiplies the rate by local weekday (index time.Weekday).
	Weekday [7]float64 `json:"weekday_factor"`
	// Hourly multiplies the rate by local hour; its mean is 1.
	Hourly [24]float64 `json:"hourly_factor"`
	// DayNoise is the amplitude of the per-day factor, uniform in [1-a, 1+a].
	DayNoise float64 `json:"day_noise"`
	// Seed makes the per-day factor deterministic.
	Seed uint64 `json:"seed"`
}

// dayFactor is the deterministic per-day random factor.
func (m *FillModel) dayFactor(t time.Time) float64 {
	if m.DayNoise == 0 {
		return 1
	}
	lt := t.In(Loc)
	day := uint64(lt.Year())*400 + uint64(lt.YearDay())
	x := splitmix(m.Seed ^ day*0x9e3779b97f4a7c15)
	u := float64(x>>11) / (1 << 53)
	return 1 + m.DayNoise*(2*u-1)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// RatePctPerH returns the true instantaneous filling rate at t.
func (m *FillModel) RatePctPerH(t time.Time) float64 {
	lt := t.In(Loc)
	wd := m.Weekday[lt.Weekday()]
	if wd == 0 {
		wd = 1
	}
	h := m.Hourly[lt.Hour()]
	if h == 0 {
		h = 1
	}
	return m.BasePctPerH * wd * h * m.dayFactor(t)
}

// Advance integrates the rate from level (percent) at from to to, in steps
// that never cross an hour boundary. The level is capped at 100.
func (m *FillModel) Advance(level float64, from, to time.Time) float64 {
	for from.Before(to) && level < 100 {
		next := from.Truncate(time.Hour).Add(time.Hour)
		if next.After(to) {
			next = to
		}
		level += m.RatePctPerH(from) * next.Sub(from).Hours()
		from = next
	}
	return math.Min(level, 100)
}

// TimeToReach returns when a bin at level (percent) at from reaches target
// percent if nobody empties it, searching at most limit ahead; ok is false
// when the target is not reached within limit.
func (m *FillModel) TimeToReach(level float64, from time.Time, target float64, limit time.Duration) (time.Time, bool) {
	if level >= target {
		return from, true
	}
	end := from.Add(limit)
	for from.Before(end) {
		next := from.Truncate(time.Hour).Add(time.Hour)
		r := m.RatePctPerH(from)
		step := next.Sub(from).Hours()
		if level+r*step >= target {
			if r <= 0 {
				return next, true
			}
			return from.Add(time.Duration((target - level) / r * float64(time.Hour))), true
		}
		level += r * step
		from = next
	}
	return time.Time{}, false
}
