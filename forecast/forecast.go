package forecast

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/revloop/revloop"
)

// ErrNotEnoughData is returned when the history cannot support a forecast.
var ErrNotEnoughData = errors.New("not enough fill history")

// ErrBadOptions is returned for invalid options.
var ErrBadOptions = errors.New("invalid forecast options")

// Options tunes Predict. Zero fields take the defaults shown.
type Options struct {
	// ThresholdPct is the level to forecast (default 80).
	ThresholdPct float64
	// EmptyDropPct and EmptyBelowPct: a drop of at least EmptyDropPct
	// points to at most EmptyBelowPct percent is an emptying (defaults 25
	// and 20).
	EmptyDropPct, EmptyBelowPct float64
	// HampelHalfWindow readings on each side and HampelK scaled MADs
	// (defaults 3 and 3); deviations under HampelMinPct points are never
	// outliers (default 4).
	HampelHalfWindow int
	HampelK          float64
	HampelMinPct     float64
	// SeasonalMinDays of history enable the weekday profile (default 14).
	SeasonalMinDays float64
	// YoungCycle is the age under which the current cycle's rate is
	// blended with past cycles' (default 24 h).
	YoungCycle time.Duration
	// Lookback limits the history used (default 56 days).
	Lookback time.Duration
	// Horizon is the longest forecast (default 60 days); beyond it FullAt
	// stays zero.
	Horizon time.Duration
	// Location is the bins' local time zone for weekdays (default UTC).
	Location *time.Location
	// AsOf is the time of the forecast (default: the last reading).
	AsOf time.Time
}

func (o *Options) defaults() {
	if o.ThresholdPct == 0 {
		o.ThresholdPct = 80
	}
	if o.EmptyDropPct == 0 {
		o.EmptyDropPct = 25
	}
	if o.EmptyBelowPct == 0 {
		o.EmptyBelowPct = 20
	}
	if o.HampelHalfWindow == 0 {
		o.HampelHalfWindow = 3
	}
	if o.HampelK == 0 {
		o.HampelK = 3
	}
	if o.HampelMinPct == 0 {
		o.HampelMinPct = 4
	}
	if o.SeasonalMinDays == 0 {
		o.SeasonalMinDays = 14
	}
	if o.YoungCycle == 0 {
		o.YoungCycle = 24 * time.Hour
	}
	if o.Lookback == 0 {
		o.Lookback = 56 * 24 * time.Hour
	}
	if o.Horizon == 0 {
		o.Horizon = 60 * 24 * time.Hour
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
}

// Validate checks the options after defaults.
func (o *Options) Validate() error {
	switch {
	case !(o.ThresholdPct > 0 && o.ThresholdPct <= 100):
		return fmt.Errorf("%w: threshold %v not in (0, 100]", ErrBadOptions, o.ThresholdPct)
	case o.EmptyDropPct < 0 || o.EmptyBelowPct < 0 || o.HampelHalfWindow < 0 || o.HampelK < 0:
		return fmt.Errorf("%w: negative value", ErrBadOptions)
	case o.Horizon < 0 || o.Lookback < 0 || o.YoungCycle < 0:
		return fmt.Errorf("%w: negative duration", ErrBadOptions)
	}
	return nil
}

// Forecast is the prediction for one bin.
type Forecast struct {
	Bin  string    `json:"bin,omitempty"`
	AsOf time.Time `json:"as_of"`
	// LevelPct is the estimated current level (noise removed).
	LevelPct float64 `json:"level_pct"`
	// RatePctPerH is the filling rate now (weekday profile applied);
	// RateLow/High bound it.
	RatePctPerH     float64 `json:"rate_pct_per_h"`
	RateLowPctPerH  float64 `json:"rate_low_pct_per_h"`
	RateHighPctPerH float64 `json:"rate_high_pct_per_h"`
	ThresholdPct    float64 `json:"threshold_pct"`
	// FullAt is when the level reaches ThresholdPct; FullEarliest and
	// FullLatest bound it. Zero times mean "not within the horizon".
	FullAt       time.Time `json:"full_at,omitzero"`
	FullEarliest time.Time `json:"full_earliest,omitzero"`
	FullLatest   time.Time `json:"full_latest,omitzero"`
	// AlreadyFull is set when the level is at or above the threshold.
	AlreadyFull bool `json:"already_full"`
	// Weekday holds the weekday factors (index time.Weekday) when Seasonal.
	Seasonal   bool       `json:"seasonal"`
	Weekday    [7]float64 `json:"weekday_factor"`
	CycleStart time.Time  `json:"cycle_start"`
	Cycles     int        `json:"cycles"`
	Points     int        `json:"points"`
	Outliers   int        `json:"outliers"`
}

// TimeToFull returns FullAt - AsOf (0 when already full, -1 when unknown).
func (f Forecast) TimeToFull() time.Duration {
	if f.AlreadyFull {
		return 0
	}
	if f.FullAt.IsZero() {
		return -1
	}
	return f.FullAt.Sub(f.AsOf)
}

type point struct {
	t   time.Time
	lvl float64
}

// Predict forecasts when the bin whose readings are given reaches the
// threshold. Readings may come in any order; readings with a level outside
// [0, 100] or a zero time are ignored.
func Predict(readings []revloop.FillReading, opts Options) (Forecast, error) {
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return Forecast{}, fmt.Errorf("forecast: %w", err)
	}
	pts := make([]point, 0, len(readings))
	bin := ""
	for _, r := range readings {
		if r.Time.IsZero() || math.IsNaN(r.LevelPct) || r.LevelPct < 0 || r.LevelPct > 100 {
			continue
		}
		if !opts.AsOf.IsZero() && r.Time.After(opts.AsOf) {
			continue
		}
		pts = append(pts, point{r.Time, r.LevelPct})
		if bin == "" {
			bin = r.Bin
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	if len(pts) == 0 {
		return Forecast{}, fmt.Errorf("forecast: %w: no valid reading", ErrNotEnoughData)
	}
	asOf := opts.AsOf
	if asOf.IsZero() {
		asOf = pts[len(pts)-1].t
	}
	cut := asOf.Add(-opts.Lookback)
	k := sort.Search(len(pts), func(i int) bool { return !pts[i].t.Before(cut) })
	pts = pts[k:]
	if len(pts) < 3 {
		return Forecast{}, fmt.Errorf("forecast: %w: %d readings", ErrNotEnoughData, len(pts))
	}
	fc := Forecast{Bin: bin, AsOf: asOf, ThresholdPct: opts.ThresholdPct, Points: len(pts)}

	clean, outliers := hampel(pts, opts.HampelHalfWindow, opts.HampelK, opts.HampelMinPct)
	fc.Outliers = outliers
	cycles := splitCycles(clean, opts.EmptyDropPct, opts.EmptyBelowPct)
	fc.Cycles = len(cycles)
	cur := cycles[len(cycles)-1]
	fc.CycleStart = cur[0].t

	// Weekday profile from the level gained per weekday.
	prof := [7]float64{1, 1, 1, 1, 1, 1, 1}
	span := clean[len(clean)-1].t.Sub(clean[0].t)
	if span.Hours()/24 >= opts.SeasonalMinDays {
		if p, ok := weekdayProfile(cycles, opts.Location); ok {
			prof, fc.Seasonal = p, true
		}
	}
	fc.Weekday = prof
	clk := newClock(clean[0].t, asOf.Add(opts.Horizon), prof, opts.Location)
	tau := clk.tau

	// Rates (per seasonal hour): the current cycle's, blended with the
	// median of past cycles' while it is young. A first pass without the
	// daily pattern gives the rate that measures the pattern; a second
	// pass removes the pattern from the readings.
	hourOf := func(t time.Time) float64 {
		lt := t.In(opts.Location)
		return float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
	}
	var daily [24]float64
	dev := func(t time.Time) float64 { return interpDaily(daily, hourOf(t)) }
	rate, lo, hi, err := cycleRate(cycles, tau, dev, asOf, opts.YoungCycle)
	if err != nil {
		return Forecast{}, err
	}
	if span >= 7*24*time.Hour && rate > 0 {
		// Bins fill by day and hardly at night: the mean deviation from
		// each cycle's line by local hour, with a week of history.
		if d, ok := dailyPattern(cycles, tau, rate, opts.Location); ok {
			daily = d
			if rate, lo, hi, err = cycleRate(cycles, tau, dev, asOf, opts.YoungCycle); err != nil {
				return Forecast{}, err
			}
		}
	}

	// Current level: robust intercept of the current cycle along the model.
	level := cur[len(cur)-1].lvl
	if len(cur) >= 3 {
		res := make([]float64, len(cur))
		for i, p := range cur {
			res[i] = p.lvl - rate*tau(p.t) - dev(p.t)
		}
		level = median(res) + rate*tau(asOf) + dev(asOf)
	}
	level = math.Max(0, math.Min(100, level))
	base := level - rate*tau(asOf) - dev(asOf)
	fc.LevelPct = level
	wd := prof[asOf.In(opts.Location).Weekday()]
	fc.RatePctPerH = rate * wd

	if level >= opts.ThresholdPct {
		fc.AlreadyFull = true
		fc.FullAt, fc.FullEarliest, fc.FullLatest = asOf, asOf, asOf
		fc.RateLowPctPerH, fc.RateHighPctPerH = lo*wd, hi*wd
		return fc, nil
	}
	reach := func(r float64) time.Time {
		if r <= 0 {
			return time.Time{}
		}
		end := asOf.Add(opts.Horizon)
		const step = 10 * time.Minute
		prev := level
		for t := asOf.Add(step); !t.After(end); t = t.Add(step) {
			l := base + rate*tau(asOf) + r*(tau(t)-tau(asOf)) + dev(t)
			if l >= opts.ThresholdPct {
				f := 1.0
				if l > prev {
					f = (opts.ThresholdPct - prev) / (l - prev)
				}
				return t.Add(-step).Add(time.Duration(math.Max(0, math.Min(1, f)) * float64(step)))
			}
			prev = l
		}
		return time.Time{}
	}
	fc.FullAt = reach(rate)
	// Band: the rate's confidence interval combined with day-to-day
	// variation, which averages out over longer horizons.
	relLo, relHi := 0.0, 0.0
	if rate > 0 {
		relLo, relHi = (rate-lo)/rate, (hi-rate)/rate
	}
	sd := dailyVariation(cycles, tau, opts.Location)
	days := 1.0
	if !fc.FullAt.IsZero() {
		days = math.Max(1, fc.FullAt.Sub(asOf).Hours()/24)
	}
	v := 1.645 * sd / math.Sqrt(days)
	relLo, relHi = math.Min(0.95, math.Hypot(relLo, v)), math.Hypot(relHi, v)
	lo, hi = rate*(1-relLo), rate*(1+relHi)
	fc.RateLowPctPerH, fc.RateHighPctPerH = lo*wd, hi*wd
	fc.FullEarliest = reach(hi)
	fc.FullLatest = reach(lo)
	return fc, nil
}

// cycleRate returns the filling rate per seasonal hour and its interval
// from the readings minus the daily pattern dev.
func cycleRate(cycles [][]point, tau func(time.Time) float64, dev func(time.Time) float64, asOf time.Time, young time.Duration) (rate, lo, hi float64, err error) {
	adj := func(c []point) []point {
		c = unsaturated(c)
		out := make([]point, len(c))
		for i, p := range c {
			out[i] = point{p.t, p.lvl - dev(p.t)}
		}
		return out
	}
	var pastRates []float64
	for _, c := range cycles[:len(cycles)-1] {
		if c[len(c)-1].t.Sub(c[0].t) < 12*time.Hour {
			continue
		}
		if r, _, _, ok := theilSen(adj(c), tau, 120); ok && r > 0 {
			pastRates = append(pastRates, r)
		}
	}
	cur := cycles[len(cycles)-1]
	curRate, lo, hi, curOK := theilSen(adj(cur), tau, 300)
	switch {
	case curOK && len(pastRates) == 0:
		rate = curRate
	case curOK:
		w := math.Min(1, float64(asOf.Sub(cur[0].t))/float64(young))
		hist := median(pastRates)
		rate = w*curRate + (1-w)*hist
		spread := 1.4826 * mad(pastRates)
		lo = math.Min(w*lo+(1-w)*(hist-spread), rate)
		hi = math.Max(w*hi+(1-w)*(hist+spread), rate)
	case len(pastRates) > 0:
		rate = median(pastRates)
		spread := 1.4826 * mad(pastRates)
		lo, hi = rate-spread, rate+spread
	default:
		return 0, 0, 0, fmt.Errorf("forecast: %w: no filling cycle long enough for a rate", ErrNotEnoughData)
	}
	rate = math.Max(rate, 0)
	return rate, math.Max(lo, 0), math.Max(hi, rate), nil
}

// dailyPattern returns the mean deviation (percentage points) of readings
// from their cycle's line by local hour, zero-mean; all zeros when some
// hour has fewer than 8 readings.
func dailyPattern(cycles [][]point, tau func(time.Time) float64, rate float64, loc *time.Location) ([24]float64, bool) {
	var sum [24]float64
	var cnt [24]int
	for _, c := range cycles {
		c = unsaturated(c)
		if len(c) < 6 || c[len(c)-1].t.Sub(c[0].t) < 24*time.Hour {
			continue
		}
		res := make([]float64, len(c))
		for i, p := range c {
			res[i] = p.lvl - rate*tau(p.t)
		}
		a := median(res)
		for i, p := range c {
			h := p.t.In(loc).Hour()
			sum[h] += res[i] - a
			cnt[h]++
		}
	}
	var d [24]float64
	mean := 0.0
	for h := range d {
		if cnt[h] < 8 {
			return [24]float64{}, false
		}
		d[h] = sum[h] / float64(cnt[h])
		mean += d[h] / 24
	}
	for h := range d {
		d[h] -= mean
	}
	return d, true
}

// interpDaily interpolates the hourly pattern (values at hour centres) at
// fractional hour h, wrapping around midnight.
func interpDaily(d [24]float64, h float64) float64 {
	x := h - 0.5
	if x < 0 {
		x += 24
	}
	i := int(x) % 24
	f := x - math.Floor(x)
	return d[i]*(1-f) + d[(i+1)%24]*f
}

// dailyVariation returns the robust relative spread of day-by-day rates
// around the model (0.15 when fewer than five days can be measured).
func dailyVariation(cycles [][]point, tau func(time.Time) float64, loc *time.Location) float64 {
	var ratios []float64
	for _, c := range cycles {
		c = unsaturated(c)
		// Level change over each run of readings within one local day,
		// divided by the seasonal hours it spans.
		i := 0
		for i < len(c) {
			lt := c[i].t.In(loc)
			j := i
			for j+1 < len(c) && c[j+1].t.In(loc).YearDay() == lt.YearDay() {
				j++
			}
			if c[j].t.Sub(c[i].t) >= 20*time.Hour && j-i >= 6 {
				dt := tau(c[j].t) - tau(c[i].t)
				// Medians of the first and last quarter damp sensor noise.
				q := max(1, (j-i+1)/4)
				a := make([]float64, 0, q)
				b := make([]float64, 0, q)
				for k := 0; k < q; k++ {
					a = append(a, c[i+k].lvl)
					b = append(b, c[j-k].lvl)
				}
				if dt > 0 {
					ratios = append(ratios, (median(b)-median(a))/dt)
				}
			}
			i = j + 1
		}
	}
	if len(ratios) < 5 {
		return 0.15
	}
	m := median(ratios)
	if m <= 0 {
		return 0.15
	}
	return math.Min(1, 1.4826*mad(ratios)/m)
}

// hampel replaces readings that deviate from their window's median by
// more than k scaled MADs (and at least minDev points) by that median.
func hampel(pts []point, half int, k, minDev float64) ([]point, int) {
	out := make([]point, len(pts))
	copy(out, pts)
	n := 0
	win := make([]float64, 0, 2*half+1)
	for i := range pts {
		win = win[:0]
		for j := max(0, i-half); j <= min(len(pts)-1, i+half); j++ {
			win = append(win, pts[j].lvl)
		}
		m := median(win)
		s := 1.4826 * mad(win)
		if d := math.Abs(pts[i].lvl - m); d > k*s && d > minDev {
			out[i].lvl = m
			n++
		}
	}
	return out, n
}

// splitCycles cuts the series at emptyings.
func splitCycles(pts []point, drop, below float64) [][]point {
	var cycles [][]point
	start := 0
	peak := pts[0].lvl
	for i := 1; i < len(pts); i++ {
		if pts[i].lvl <= below && peak-pts[i].lvl >= drop {
			cycles = append(cycles, pts[start:i])
			start, peak = i, pts[i].lvl
			continue
		}
		peak = math.Max(peak, pts[i].lvl)
	}
	return append(cycles, pts[start:])
}

// unsaturated drops the readings of a full bin (level no longer rising).
func unsaturated(c []point) []point {
	n := len(c)
	for n > 0 && c[n-1].lvl >= 97 {
		n--
	}
	return c[:n]
}

// theilSen returns the median of pairwise slopes of level over seasonal
// hours and its 90 % confidence interval (Sen 1968). Long series are
// thinned to maxPts points.
func theilSen(c []point, tau func(time.Time) float64, maxPts int) (slope, lo, hi float64, ok bool) {
	if len(c) < 3 {
		return 0, 0, 0, false
	}
	step := 1
	if len(c) > maxPts {
		step = (len(c) + maxPts - 1) / maxPts
	}
	xs := make([]float64, 0, len(c)/step+1)
	ys := make([]float64, 0, cap(xs))
	for i := 0; i < len(c); i += step {
		xs = append(xs, tau(c[i].t))
		ys = append(ys, c[i].lvl)
	}
	if xs[len(xs)-1]-xs[0] < 2 {
		return 0, 0, 0, false
	}
	n := len(xs)
	slopes := make([]float64, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if dx := xs[j] - xs[i]; dx > 0 {
				slopes = append(slopes, (ys[j]-ys[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0, 0, 0, false
	}
	N := len(slopes)
	m := N / 2
	selectNth(slopes, m)
	slope = slopes[m]
	if N%2 == 0 {
		// The lower middle is the largest value left of m.
		lower := slopes[0]
		for _, v := range slopes[:m] {
			lower = math.Max(lower, v)
		}
		slope = (slope + lower) / 2
	}
	nf := float64(n)
	c90 := 1.645 * math.Sqrt(nf*(nf-1)*(2*nf+5)/18)
	li := int(math.Max(0, math.Floor((float64(N)-c90)/2)))
	ui := int(math.Min(float64(N-1), math.Ceil((float64(N)+c90)/2)))
	li, ui = min(li, m), max(ui, m)
	selectNth(slopes[:m+1], li)
	selectNth(slopes[m:], ui-m)
	return slope, slopes[li], slopes[ui], true
}

// selectNth reorders s so that s[k] is the k-th smallest value, smaller
// or equal values before it and larger or equal after (quickselect).
func selectNth(s []float64, k int) {
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three as pivot.
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		p := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < p {
				i++
			}
			for s[j] > p {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// weekdayProfile returns per-weekday rate factors (mean 1) from the level
// gained between consecutive readings within cycles, assigned to the
// weekday of each interval's midpoint.
func weekdayProfile(cycles [][]point, loc *time.Location) ([7]float64, bool) {
	var gain, hours [7]float64
	for _, c := range cycles {
		c = unsaturated(c)
		for i := 1; i < len(c); i++ {
			dt := c[i].t.Sub(c[i-1].t).Hours()
			if dt <= 0 || dt > 12 {
				continue
			}
			mid := c[i-1].t.Add(c[i].t.Sub(c[i-1].t) / 2).In(loc).Weekday()
			gain[mid] += c[i].lvl - c[i-1].lvl
			hours[mid] += dt
		}
	}
	var rates [7]float64
	sum := 0.0
	for d := range rates {
		if hours[d] < 24 {
			return [7]float64{1, 1, 1, 1, 1, 1, 1}, false
		}
		rates[d] = math.Max(gain[d]/hours[d], 0)
		sum += rates[d]
	}
	if sum <= 0 {
		return [7]float64{1, 1, 1, 1, 1, 1, 1}, false
	}
	var prof [7]float64
	for d := range prof {
		prof[d] = math.Min(3, math.Max(0.3, rates[d]/(sum/7)))
	}
	return prof, true
}

// clock maps time to seasonal hours: hours weighted by the weekday factor,
// tabulated per hour from origin.
type clock struct {
	origin time.Time
	cum    []float64 // seasonal hours from origin to origin + k hours
	fac    []float64 // factor of hour k
}

func newClock(origin, end time.Time, prof [7]float64, loc *time.Location) *clock {
	origin = origin.Truncate(time.Hour)
	n := int(end.Sub(origin).Hours()) + 2
	c := &clock{origin: origin, cum: make([]float64, n+1), fac: make([]float64, n)}
	for k := 0; k < n; k++ {
		c.fac[k] = prof[origin.Add(time.Duration(k)*time.Hour).In(loc).Weekday()]
		c.cum[k+1] = c.cum[k] + c.fac[k]
	}
	return c
}

// tau returns the seasonal hours from the clock's origin to t.
func (c *clock) tau(t time.Time) float64 {
	x := t.Sub(c.origin).Hours()
	k := int(math.Floor(x))
	switch {
	case k < 0:
		return x * c.fac[0]
	case k >= len(c.fac):
		last := len(c.fac) - 1
		return c.cum[last+1] + (x-float64(last+1))*c.fac[last]
	}
	return c.cum[k] + (x-float64(k))*c.fac[k]
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return medianSorted(s)
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func mad(xs []float64) float64 {
	m := median(xs)
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return median(d)
}
