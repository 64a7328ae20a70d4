package ingest

import (
	"math"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

func TestValidateRanges(t *testing.T) {
	recv := time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC)
	nan, inf := math.NaN(), math.Inf(1)
	fix := func(edit func(p *revloop.Position)) Record {
		p := newPosition("trk-1")
		p.Time, p.Lat, p.Lon = recv, 51, 3.7
		edit(&p)
		return Record{Positions: []revloop.Position{p}}
	}
	fill := func(edit func(f *revloop.FillReading)) Record {
		f := newFill("fill-1")
		f.Time, f.LevelPct = recv, 50
		edit(&f)
		return Record{Fills: []revloop.FillReading{f}}
	}
	cases := []struct {
		name   string
		rec    Record
		reason string
		detail string
	}{
		{"fix in range", fix(func(p *revloop.Position) { p.SpeedKmh, p.Sats = 400, 200 }), "", ""},
		{"fix with absent values", fix(func(p *revloop.Position) { p.HDOP = nan }), "", ""},
		{"fix infinite speed", fix(func(p *revloop.Position) { p.SpeedKmh = inf }), ReasonOutOfRange, "speed_kmh +Inf outside 0..400"},
		{"fix negative infinite odometer", fix(func(p *revloop.Position) { p.OdometerKm = -inf }), ReasonOutOfRange, "odometer_km -Inf outside 0..1e+08"},
		{"fix lat and heading out", fix(func(p *revloop.Position) { p.Lat, p.HeadingDeg = 91, 361 }), ReasonOutOfRange, "lat 91 outside -90..90"},
		{"fix at 0,0", fix(func(p *revloop.Position) { p.Lat, p.Lon = 0, 0 }), ReasonOutOfRange, "lat/lon 0,0 (no fix)"},
		{"fix with 201 sats", fix(func(p *revloop.Position) { p.Sats = 201 }), ReasonOutOfRange, "sats 201 outside 0..200"},
		{"fix from the future", fix(func(p *revloop.Position) { p.Time = recv.Add(time.Hour) }), ReasonFutureTS, "ts 2026-03-03T08:30:00Z is 1h0m0s ahead of arrival (limit 5m0s)"},
		{"fix before 2000", fix(func(p *revloop.Position) { p.Time = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) }), ReasonOutOfRange, "ts 1999-12-31T00:00:00Z before 2000-01-01T00:00:00Z"},
		{"future ts before range", fix(func(p *revloop.Position) { p.Time, p.Lat = recv.Add(time.Hour), 100 }), ReasonFutureTS, "ts 2026-03-03T08:30:00Z is 1h0m0s ahead of arrival (limit 5m0s)"},
		{"fill in range", fill(func(f *revloop.FillReading) { f.TempC, f.TiltDeg = -50, 180 }), "", ""},
		{"fill infinite distance", fill(func(f *revloop.FillReading) { f.DistanceMm = inf }), ReasonOutOfRange, "distance_mm +Inf outside 0..20000"},
		{"fill level over 100", fill(func(f *revloop.FillReading) { f.LevelPct = 100.5 }), ReasonOutOfRange, "level_pct 100.5 outside 0..100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(&c.rec, recv, Limits{})
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			reason, detail := ReasonOf(err)
			if err == nil || reason != c.reason || detail != c.detail {
				t.Fatalf("Validate: %v, want %s: %s", err, c.reason, c.detail)
			}
		})
	}
}
