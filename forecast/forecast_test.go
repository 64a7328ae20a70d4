package forecast

import (
	"errors"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/sim"
)

var monday = time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)

// synth returns readings every step from start: level(t) from fn, with the
// listed indexes replaced by spikes.
func synth(start time.Time, step time.Duration, n int, fn func(h float64) float64, spikes map[int]float64) []revloop.FillReading {
	out := make([]revloop.FillReading, n)
	for i := range out {
		t := start.Add(time.Duration(i) * step)
		lvl := fn(t.Sub(start).Hours())
		if v, ok := spikes[i]; ok {
			lvl = v
		}
		out[i] = revloop.FillReading{Bin: "b1", Time: t, LevelPct: lvl}
	}
	return out
}

func TestPredictDrawn(t *testing.T) {
	tests := []struct {
		name      string
		readings  []revloop.FillReading
		opts      Options
		wantLevel float64 // ±2
		wantHours float64 // time to full, ±5 %; 0 = already full
		wantErr   error
	}{
		{
			name:      "steady 1 %/h",
			readings:  synth(monday, 30*time.Minute, 60, func(h float64) float64 { return 10 + h }, nil),
			wantLevel: 39.5, wantHours: 40.5,
		},
		{
			name: "spikes from lost echoes and obstructions",
			readings: synth(monday, 30*time.Minute, 60, func(h float64) float64 { return 10 + h },
				map[int]float64{5: 0, 17: 100, 18: 100, 33: 0, 59: 100}),
			wantLevel: 39.5, wantHours: 40.5,
		},
		{
			name: "emptying starts a new cycle",
			readings: synth(monday, time.Hour, 100, func(h float64) float64 {
				if h < 70 {
					return 10 + h
				}
				return 2 + (h-70)*1
			}, nil),
			wantLevel: 31, wantHours: 49,
		},
		{
			name: "young cycle borrows the rate of past cycles",
			readings: synth(monday, time.Hour, 100, func(h float64) float64 {
				if h < 95 {
					return 5 + math.Mod(h, 47)*1.5 // emptied at 47 h and 94 h
				}
				return 1.5 + (h-94)*1.5
			}, nil),
			wantLevel: 8.5, wantHours: 47.7,
		},
		{
			name:      "already above the threshold",
			readings:  synth(monday, time.Hour, 30, func(h float64) float64 { return 60 + h }, nil),
			wantLevel: 89, wantHours: 0,
		},
		{
			name:      "custom threshold",
			readings:  synth(monday, time.Hour, 30, func(h float64) float64 { return 10 + 2*h }, nil),
			opts:      Options{ThresholdPct: 95},
			wantLevel: 68, wantHours: 13.5,
		},
		{
			name:     "out-of-range readings are ignored",
			readings: append(synth(monday, time.Hour, 2, func(h float64) float64 { return 10 + h }, nil), revloop.FillReading{Time: monday.Add(5 * time.Hour), LevelPct: 250}),
			wantErr:  ErrNotEnoughData,
		},
		{
			name:      "flat history never fills",
			readings:  synth(monday, time.Hour, 30, func(h float64) float64 { return 30 }, nil),
			wantLevel: 30, wantHours: -1,
		},
		{
			name:     "bad threshold",
			readings: synth(monday, time.Hour, 30, func(h float64) float64 { return 10 + h }, nil),
			opts:     Options{ThresholdPct: 120},
			wantErr:  ErrBadOptions,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc, err := Predict(tc.readings, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(fc.LevelPct-tc.wantLevel) > 2 {
				t.Errorf("level %.1f, want %.1f", fc.LevelPct, tc.wantLevel)
			}
			got := fc.TimeToFull().Hours()
			switch {
			case tc.wantHours == 0 && !fc.AlreadyFull:
				t.Errorf("not flagged full at level %.1f", fc.LevelPct)
			case tc.wantHours < 0 && !fc.FullAt.IsZero():
				t.Errorf("full at %s, want never", fc.FullAt)
			case tc.wantHours > 0 && math.Abs(got-tc.wantHours) > 0.05*tc.wantHours:
				t.Errorf("time to full %.1f h, want %.1f h (rate %.3f)", got, tc.wantHours, fc.RatePctPerH)
			}
			if tc.wantHours > 0 && (fc.FullEarliest.After(fc.FullAt) || (!fc.FullLatest.IsZero() && fc.FullLatest.Before(fc.FullAt))) {
				t.Errorf("band %s..%s does not hold %s", fc.FullEarliest, fc.FullLatest, fc.FullAt)
			}
		})
	}
}

func TestWeekdayProfileRecovered(t *testing.T) {
	// Weekends fill twice as fast; emptied at 85 %.
	rate := func(t time.Time) float64 {
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return 1.0
		}
		return 0.5
	}
	var rs []revloop.FillReading
	lvl := 5.0
	for tt := monday; tt.Before(monday.Add(21 * 24 * time.Hour)); tt = tt.Add(time.Hour) {
		rs = append(rs, revloop.FillReading{Time: tt, LevelPct: lvl})
		lvl += rate(tt)
		if lvl >= 85 {
			lvl = 3
		}
	}
	fc, err := Predict(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !fc.Seasonal {
		t.Fatal("three weeks of history but no weekday profile")
	}
	weekend := (fc.Weekday[time.Saturday] + fc.Weekday[time.Sunday]) / 2
	week := (fc.Weekday[time.Tuesday] + fc.Weekday[time.Wednesday]) / 2
	if r := weekend / week; r < 1.7 || r > 2.3 {
		t.Errorf("weekend/weekday factor ratio %.2f, want about 2 (%v)", r, fc.Weekday)
	}
	short, err := Predict(rs[:10*24], Options{})
	if err != nil {
		t.Fatal(err)
	}
	if short.Seasonal {
		t.Error("weekday profile from ten days of history")
	}
}

// TestForecastAccuracyOnSimulatedBins scores predictions on the
// simulator's bins (noise, outliers, weekday and hourly patterns, emptying
// at 90 %) against the true time the level reaches 80 %.
func TestForecastAccuracyOnSimulatedBins(t *testing.T) {
	w := sim.NewWorld(21, 1, 40)
	start := monday
	end := start.Add(35 * 24 * time.Hour)
	type score struct{ sum, rel, n, inBand float64 }
	var seasonal, plain score
	for _, b := range w.Bins {
		trace, _ := w.BinTrace(b, start, end, 90)
		readings := make([]revloop.FillReading, len(trace))
		for i, p := range trace {
			readings[i] = p.Reading
		}
		lastCut := time.Time{}
		for i, p := range trace {
			at := p.Reading.Time
			if at.Before(start.Add(21*24*time.Hour)) || at.Sub(lastCut) < 60*time.Hour || p.TrueLevelPct < 20 || p.TrueLevelPct > 60 {
				continue
			}
			truth, ok := b.Fill.TimeToReach(p.TrueLevelPct, at, 80, 60*24*time.Hour)
			if !ok {
				continue
			}
			lastCut = at
			for _, c := range []struct {
				s    *score
				opts Options
			}{
				{&seasonal, Options{Location: sim.Loc}},
				{&plain, Options{Location: sim.Loc, SeasonalMinDays: 1e6}},
			} {
				fc, err := Predict(readings[:i+1], c.opts)
				if err != nil {
					t.Fatalf("%s at %s: %v", b.ID, at, err)
				}
				errH := 60 * 24.0
				if !fc.FullAt.IsZero() {
					errH = math.Abs(fc.FullAt.Sub(truth).Hours())
				}
				c.s.sum += errH
				c.s.rel += errH / truth.Sub(at).Hours()
				c.s.n++
				if !fc.FullEarliest.After(truth) && (fc.FullLatest.IsZero() || !fc.FullLatest.Before(truth)) {
					c.s.inBand++
				}
			}
		}
	}
	if seasonal.n < 40 {
		t.Fatalf("only %.0f forecast points", seasonal.n)
	}
	maeS, maeP := seasonal.sum/seasonal.n, plain.sum/plain.n
	relS := seasonal.rel / seasonal.n
	t.Logf("forecast of the time to 80%% on %d simulated bins, %.0f forecasts from 20-60%% full: MAE %.1f h (%.1f%% of the horizon) with the weekday profile, band holds the truth %.0f%%; %.1f h without the profile",
		len(w.Bins), seasonal.n, maeS, 100*relS, 100*seasonal.inBand/seasonal.n, maeP)
	if relS > 0.10 {
		t.Errorf("mean relative error %.1f%%, want at most 10%%", 100*relS)
	}
	if maeS > 12 {
		t.Errorf("MAE %.1f h, want at most 12 h", maeS)
	}
	if maeS > maeP*1.05 {
		t.Errorf("weekday profile makes it worse: %.1f h vs %.1f h", maeS, maeP)
	}
	if seasonal.inBand/seasonal.n < 0.5 {
		t.Errorf("band holds the truth only %.0f%% of the time", 100*seasonal.inBand/seasonal.n)
	}
}

func TestSelectNth(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
	}{
		{"sorted", []float64{1, 2, 3, 4, 5, 6}},
		{"reversed", []float64{9, 7, 5, 3, 1}},
		{"duplicates", []float64{2, 2, 2, 1, 1, 3, 3, 2}},
		{"single", []float64{4}},
		{"mixed", []float64{0.5, -1, 7, 3.25, 3.25, -8, 12, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := append([]float64(nil), tc.in...)
			sort.Float64s(want)
			for k := range tc.in {
				s := append([]float64(nil), tc.in...)
				selectNth(s, k)
				if s[k] != want[k] {
					t.Fatalf("k=%d: got %v, want %v", k, s[k], want[k])
				}
				for i := range s {
					if (i < k && s[i] > s[k]) || (i > k && s[i] < s[k]) {
						t.Fatalf("k=%d: not partitioned: %v", k, s)
					}
				}
			}
		})
	}
}

func BenchmarkPredict(b *testing.B) {
	w := sim.NewWorld(21, 1, 1)
	trace, _ := w.BinTrace(w.Bins[0], monday, monday.Add(28*24*time.Hour), 90)
	rs := make([]revloop.FillReading, len(trace))
	for i, p := range trace {
		rs[i] = p.Reading
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Predict(rs, Options{Location: sim.Loc}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rs)), "readings/op")
}
