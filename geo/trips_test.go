package geo

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func loadTrack(t *testing.T) []Fix {
	t.Helper()
	f, err := os.Open("testdata/track.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []Fix
	for _, r := range rows[1:] {
		ts, err := time.Parse(time.RFC3339Nano, r[0])
		if err != nil {
			t.Fatal(err)
		}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		ign := r[6] == "true"
		out = append(out, Fix{Time: ts, Point: orb.Point{num(r[2]), num(r[1])}, SpeedKmh: num(r[3]), OdometerKm: num(r[5]), Ignition: &ign})
	}
	return out
}

type trueStop struct {
	start, end time.Time
	p          orb.Point
}

// loadTrueStops reads the simulator's halts, merging consecutive waits at
// the same place.
func loadTrueStops(t *testing.T) []trueStop {
	t.Helper()
	b, err := os.ReadFile("testdata/track_stops.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []trueStop
	for _, r := range rows[1:] {
		s, _ := time.Parse(time.RFC3339Nano, r[0])
		e, _ := time.Parse(time.RFC3339Nano, r[1])
		lat, _ := strconv.ParseFloat(r[2], 64)
		lon, _ := strconv.ParseFloat(r[3], 64)
		p := orb.Point{lon, lat}
		if n := len(out); n > 0 && out[n-1].end.Equal(s) && DistanceM(out[n-1].p, p) < 1 {
			out[n-1].end = e
			continue
		}
		out = append(out, trueStop{s, e, p})
	}
	return out
}

func TestDetectTripsOnRecordedTrack(t *testing.T) {
	fixes := loadTrack(t)
	opts := TripOptions{MinStop: 3 * time.Minute}
	trips, stops := DetectTrips(fixes, opts)
	truth := loadTrueStops(t)
	first, last := fixes[0].Time, fixes[len(fixes)-1].Time
	// Every true halt of at least MinStop + 1 min (fixes come every 30 s
	// while standing) is found, with its start and end within 90 s.
	matched := map[int]bool{}
	for _, ts := range truth {
		if ts.end.Sub(ts.start) < opts.MinStop+time.Minute {
			continue
		}
		found := false
		for i, s := range stops {
			if s.Start.Before(ts.end) && ts.start.Before(s.End) {
				found = true
				matched[i] = true
				startOK := ts.start.Before(first) || math.Abs(s.Start.Sub(ts.start).Seconds()) < 90
				endOK := ts.end.After(last) || math.Abs(s.End.Sub(ts.end).Seconds()) < 90
				if !startOK || !endOK || DistanceM(s.Point, ts.p) > 30 {
					t.Errorf("halt %s-%s detected as %s-%s, %.0f m away", ts.start.Format("15:04:05"), ts.end.Format("15:04:05"),
						s.Start.Format("15:04:05"), s.End.Format("15:04:05"), DistanceM(s.Point, ts.p))
				}
			}
		}
		if !found {
			t.Errorf("halt %s-%s not detected", ts.start.Format("15:04:05"), ts.end.Format("15:04:05"))
		}
	}
	for i, s := range stops {
		if !matched[i] {
			// Only halts the truth knows (possibly the short ones) may be
			// detected; traffic halts are shorter than MinStop.
			ok := false
			for _, ts := range truth {
				if s.Start.Before(ts.end) && ts.start.Before(s.End) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("spurious stop %s-%s", s.Start.Format("15:04:05"), s.End.Format("15:04:05"))
			}
		}
	}
	// Distances agree with the odometer within 3 %.
	var gps, odo float64
	for _, tr := range trips {
		if math.IsNaN(tr.OdometerM) {
			t.Fatalf("trip without odometer distance: %+v", tr)
		}
		gps += tr.DistanceM
		odo += tr.OdometerM
		if tr.DrivingTime+tr.IdleTime != tr.End.Sub(tr.Start) {
			t.Errorf("driving %s + idle %s != trip duration %s", tr.DrivingTime, tr.IdleTime, tr.End.Sub(tr.Start))
		}
	}
	if len(trips) < 5 || math.Abs(gps-odo) > 0.03*odo {
		t.Errorf("%d trips, GPS distance %.0f m vs odometer %.0f m", len(trips), gps, odo)
	}
	t.Logf("%d fixes: %d trips (%.1f km), %d stops, %d true halts", len(fixes), len(trips), gps/1000, len(stops), len(truth))
}

func at(h, m, s int) time.Time { return time.Date(2026, 3, 3, h, m, s, 0, time.UTC) }

func TestDetectTripsDrawn(t *testing.T) {
	nan := math.NaN()
	// A straight drive east at 36 km/h (10 m/s) with fixes every 10 s.
	drive := func(from orb.Point, start time.Time, n int) []Fix {
		var out []Fix
		for i := 0; i < n; i++ {
			out = append(out, Fix{Time: start.Add(time.Duration(i) * 10 * time.Second), Point: east(from, float64(i)*100), SpeedKmh: 36, OdometerKm: nan})
		}
		return out
	}
	park := func(p orb.Point, start time.Time, d time.Duration) []Fix {
		var out []Fix
		for t := time.Duration(0); t <= d; t += 30 * time.Second {
			out = append(out, Fix{Time: start.Add(t), Point: Destination(p, float64(t/time.Second%360), 4), SpeedKmh: 0, OdometerKm: nan})
		}
		return out
	}
	tests := []struct {
		name           string
		fixes          func() []Fix
		trips, stops   int
		distM, toleran float64
	}{
		{name: "drive, stop, drive", fixes: func() []Fix {
			f := drive(center, at(8, 0, 0), 30) // 2.9 km
			p := east(center, 2900)
			f = append(f, park(p, at(8, 5, 0), 10*time.Minute)...)
			return append(f, drive(p, at(8, 15, 30), 20)...)
		}, trips: 2, stops: 1, distM: 2900 + 1900 + 150, toleran: 200},
		{name: "halt shorter than the minimum is idle", fixes: func() []Fix {
			f := drive(center, at(8, 0, 0), 30)
			p := east(center, 2900)
			f = append(f, park(p, at(8, 5, 0), 2*time.Minute)...)
			return append(f, drive(p, at(8, 7, 30), 20)...)
		}, trips: 1, stops: 0, distM: 4950, toleran: 200},
		{name: "repositioning merges stops", fixes: func() []Fix {
			f := park(center, at(8, 0, 0), 10*time.Minute)
			f = append(f, Fix{Time: at(8, 10, 30), Point: east(center, 80), SpeedKmh: 10, OdometerKm: nan})
			f = append(f, park(east(center, 150), at(8, 11, 0), 10*time.Minute)...)
			return f
		}, trips: 0, stops: 1},
		{name: "empty", fixes: func() []Fix { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trips, stops := DetectTrips(tc.fixes(), TripOptions{})
			if len(trips) != tc.trips || len(stops) != tc.stops {
				t.Fatalf("%d trips %d stops, want %d and %d", len(trips), len(stops), tc.trips, tc.stops)
			}
			var d float64
			for _, tr := range trips {
				d += tr.DistanceM
			}
			if tc.trips > 0 && math.Abs(d-tc.distM) > tc.toleran {
				t.Errorf("distance %.0f m, want %.0f ± %.0f", d, tc.distM, tc.toleran)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	trips := []Trip{
		{Start: at(7, 0, 0), End: at(7, 30, 0), DistanceM: 12000, DrivingTime: 25 * time.Minute, IdleTime: 5 * time.Minute, MaxSpeedKmh: 70},
		{Start: at(22, 0, 0), End: at(22, 20, 0), DistanceM: 8000, DrivingTime: 20 * time.Minute},
	}
	stops := []Stop{
		{Start: at(7, 30, 0), End: at(7, 40, 0), EngineOnTime: 10 * time.Minute},
		{Start: at(22, 20, 0), End: at(22, 20, 0).Add(10 * time.Hour)}, // overnight, engine off
	}
	days := Summarize("veh-01", trips, stops, time.UTC)
	if len(days) != 2 {
		t.Fatalf("%d days, want 2", len(days))
	}
	d := days[0]
	if d.Date != "2026-03-03" || d.Trips != 2 || d.Stops != 2 || d.DistanceKm != 20 || d.DrivingTime != 45*time.Minute ||
		d.IdleTime != 15*time.Minute || d.StopTime != 10*time.Minute+100*time.Minute || d.MaxSpeedKmh != 70 {
		t.Errorf("day 1: %+v", d)
	}
	if days[1].StopTime != 8*time.Hour+20*time.Minute || days[1].Trips != 0 {
		t.Errorf("day 2: %+v", days[1])
	}
	var buf bytes.Buffer
	if err := WriteSummaryCSV(&buf, days); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || lines[0] != strings.Join(SummaryCSVHeader, ",") ||
		!strings.HasPrefix(lines[1], "veh-01,2026-03-03,2,2,20.000,2700,900,6600,70.0,2026-03-03T07:00:00Z,2026-03-03T22:20:00Z") {
		t.Errorf("csv:\n%s", buf.String())
	}
	b, err := json.Marshal(days[0])
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["driving_s"] != 2700.0 || back["vehicle"] != "veh-01" {
		t.Errorf("json %s (%v)", b, err)
	}
}
