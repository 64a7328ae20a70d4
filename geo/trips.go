package geo

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/paulmach/orb"
)

// Fix is one position of a vehicle for trip and stop detection. Unknown
// values are NaN (speed, odometer) or nil (ignition).
type Fix struct {
	Time       time.Time
	Point      orb.Point
	SpeedKmh   float64
	OdometerKm float64
	Ignition   *bool
}

// TripOptions are the thresholds of DetectTrips. Zero fields take the
// defaults shown.
type TripOptions struct {
	// StopSpeedKmh: a fix at or below this speed may belong to a stop, and
	// motion slower than this counts as idle (default 5).
	StopSpeedKmh float64
	// StopRadiusM: the fixes of a stop stay within this distance of their
	// centroid (default 60).
	StopRadiusM float64
	// MinStop is the shortest stop; shorter halts are idle time within a
	// trip (default 3 min).
	MinStop time.Duration
	// MinTripDistanceM: movements shorter than this between two stops
	// merge the stops (repositioning on a site) and are not trips
	// (default 300).
	MinTripDistanceM float64
}

// Validate reports negative or NaN thresholds (zero means default).
func (o TripOptions) Validate() error {
	if o.MinStop < 0 || !(o.StopSpeedKmh >= 0) || !(o.StopRadiusM >= 0) || !(o.MinTripDistanceM >= 0) {
		return fmt.Errorf("trip detection: %w: negative or NaN threshold", ErrBadOptions)
	}
	return nil
}

func (o *TripOptions) defaults() {
	if o.StopSpeedKmh <= 0 {
		o.StopSpeedKmh = 5
	}
	if o.StopRadiusM <= 0 {
		o.StopRadiusM = 60
	}
	if o.MinStop <= 0 {
		o.MinStop = 3 * time.Minute
	}
	if o.MinTripDistanceM <= 0 {
		o.MinTripDistanceM = 300
	}
}

// Stop is a period in which the vehicle stayed in one place.
type Stop struct {
	Start, End time.Time
	Point      orb.Point // centroid of the fixes
	// EngineOnTime is the part of the stop with ignition reported on.
	EngineOnTime time.Duration
	Fixes        int
}

// Duration returns End - Start.
func (s Stop) Duration() time.Duration { return s.End.Sub(s.Start) }

// Trip is a movement between two stops (or the ends of the track).
type Trip struct {
	Start, End time.Time
	From, To   orb.Point
	// DistanceM sums the great-circle distances between consecutive fixes.
	DistanceM float64
	// OdometerM is the odometer difference, NaN when fixes carry none.
	OdometerM float64
	// DrivingTime is spent moving, IdleTime standing still (traffic,
	// halts shorter than MinStop); together they make End - Start.
	DrivingTime, IdleTime time.Duration
	MaxSpeedKmh           float64
	Fixes                 int
}

// DetectTrips splits a vehicle's fixes (in any order; duplicates by time
// are dropped) into trips and stops.
func DetectTrips(fixes []Fix, opts TripOptions) ([]Trip, []Stop) {
	opts.defaults()
	fs := make([]Fix, 0, len(fixes))
	for _, f := range fixes {
		if validPoint(f.Point) && !f.Time.IsZero() {
			fs = append(fs, f)
		}
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Time.Before(fs[j].Time) })
	n := 0
	for i := range fs {
		if n > 0 && fs[i].Time.Equal(fs[n-1].Time) {
			continue
		}
		fs[n] = fs[i]
		n++
	}
	fs = fs[:n]
	if n == 0 {
		return nil, nil
	}
	slow := func(f Fix) bool { return math.IsNaN(f.SpeedKmh) || f.SpeedKmh <= opts.StopSpeedKmh }

	// Stay points: maximal runs of slow fixes within StopRadiusM of their
	// running centroid lasting at least MinStop. A vehicle standing with
	// the ignition off reports rarely, so a stay lasts until the first fix
	// after it when that fix is still near (the vehicle just left).
	type span struct{ i, j, next int } // stop fixes i..j; the trip after it starts at next
	var stays []span
	for i := 0; i < n; {
		if !slow(fs[i]) {
			i++
			continue
		}
		sx, sy := fs[i].Point[0], fs[i].Point[1]
		j := i
		centroid := func() orb.Point { return orb.Point{sx / float64(j-i+1), sy / float64(j-i+1)} }
		for j+1 < n && slow(fs[j+1]) {
			if DistanceM(centroid(), fs[j+1].Point) > opts.StopRadiusM {
				break
			}
			j++
			sx += fs[j].Point[0]
			sy += fs[j].Point[1]
		}
		next := j
		if j+1 < n && DistanceM(centroid(), fs[j+1].Point) <= 2*opts.StopRadiusM {
			next = j + 1
		}
		if fs[next].Time.Sub(fs[i].Time) >= opts.MinStop {
			stays = append(stays, span{i, j, next})
			i = j + 1
		} else {
			i++
		}
	}
	// Merge stays separated by a movement shorter than MinTripDistanceM.
	pathLen := func(a, b int) float64 {
		d := 0.0
		for k := a + 1; k <= b; k++ {
			d += DistanceM(fs[k-1].Point, fs[k].Point)
		}
		return d
	}
	merged := stays[:0]
	for _, s := range stays {
		if m := len(merged); m > 0 && (s.i <= merged[m-1].next || pathLen(merged[m-1].next, s.i) < opts.MinTripDistanceM) {
			merged[m-1].j, merged[m-1].next = s.j, s.next
			continue
		}
		merged = append(merged, s)
	}
	stays = merged

	var stops []Stop
	for _, s := range stays {
		st := Stop{Start: fs[s.i].Time, End: fs[s.next].Time, Fixes: s.j - s.i + 1}
		var sx, sy float64
		for k := s.i; k <= s.j; k++ {
			sx += fs[k].Point[0]
			sy += fs[k].Point[1]
			if k < s.next && fs[k].Ignition != nil && *fs[k].Ignition {
				st.EngineOnTime += fs[k+1].Time.Sub(fs[k].Time)
			}
		}
		st.Point = orb.Point{sx / float64(st.Fixes), sy / float64(st.Fixes)}
		stops = append(stops, st)
	}

	var trips []Trip
	addTrip := func(a, b int) {
		if b <= a {
			return
		}
		tr := Trip{Start: fs[a].Time, End: fs[b].Time, From: fs[a].Point, To: fs[b].Point, OdometerM: math.NaN(), Fixes: b - a + 1}
		for k := a + 1; k <= b; k++ {
			d := DistanceM(fs[k-1].Point, fs[k].Point)
			dt := fs[k].Time.Sub(fs[k-1].Time)
			tr.DistanceM += d
			v := d / dt.Seconds() * 3.6
			if (!math.IsNaN(fs[k].SpeedKmh) && fs[k].SpeedKmh > opts.StopSpeedKmh) || v > opts.StopSpeedKmh {
				tr.DrivingTime += dt
			} else {
				tr.IdleTime += dt
			}
			if s := fs[k].SpeedKmh; !math.IsNaN(s) && s > tr.MaxSpeedKmh {
				tr.MaxSpeedKmh = s
			}
		}
		if o1, o2 := fs[a].OdometerKm, fs[b].OdometerKm; !math.IsNaN(o1) && !math.IsNaN(o2) && o2 >= o1 {
			tr.OdometerM = (o2 - o1) * 1000
		}
		if tr.DistanceM >= opts.MinTripDistanceM {
			trips = append(trips, tr)
		}
	}
	prev := 0
	for _, s := range stays {
		addTrip(prev, s.i)
		prev = s.next
	}
	addTrip(prev, n-1)
	return trips, stops
}

// DaySummary is one vehicle's activity on one local calendar day. Trips
// count on the day they start; stop time is split at midnight.
type DaySummary struct {
	Vehicle      string
	Date         string // YYYY-MM-DD, local
	Trips        int
	Stops        int
	DistanceKm   float64
	DrivingTime  time.Duration
	IdleTime     time.Duration // standing with the engine on: in trips and in stops
	StopTime     time.Duration
	MaxSpeedKmh  float64
	FirstDeparts time.Time
	LastArrives  time.Time
}

type daySummaryJSON struct {
	Vehicle      string    `json:"vehicle"`
	Date         string    `json:"date"`
	Trips        int       `json:"trips"`
	Stops        int       `json:"stops"`
	DistanceKm   float64   `json:"distance_km"`
	DrivingS     float64   `json:"driving_s"`
	IdleS        float64   `json:"idle_s"`
	StopS        float64   `json:"stop_s"`
	MaxSpeedKmh  float64   `json:"max_speed_kmh"`
	FirstDeparts time.Time `json:"first_departs,omitzero"`
	LastArrives  time.Time `json:"last_arrives,omitzero"`
}

// MarshalJSON encodes durations as seconds (driving_s, idle_s, stop_s).
func (d DaySummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(daySummaryJSON{d.Vehicle, d.Date, d.Trips, d.Stops, math.Round(d.DistanceKm*1000) / 1000,
		d.DrivingTime.Seconds(), d.IdleTime.Seconds(), d.StopTime.Seconds(), d.MaxSpeedKmh, d.FirstDeparts, d.LastArrives})
}

// Summarize aggregates trips and stops per local day (loc nil = UTC),
// ordered by date.
func Summarize(vehicle string, trips []Trip, stops []Stop, loc *time.Location) []DaySummary {
	if loc == nil {
		loc = time.UTC
	}
	days := map[string]*DaySummary{}
	get := func(t time.Time) *DaySummary {
		k := t.In(loc).Format(time.DateOnly)
		d := days[k]
		if d == nil {
			d = &DaySummary{Vehicle: vehicle, Date: k}
			days[k] = d
		}
		return d
	}
	for _, tr := range trips {
		d := get(tr.Start)
		d.Trips++
		d.DistanceKm += tr.DistanceM / 1000
		d.DrivingTime += tr.DrivingTime
		d.IdleTime += tr.IdleTime
		d.MaxSpeedKmh = math.Max(d.MaxSpeedKmh, tr.MaxSpeedKmh)
		if d.FirstDeparts.IsZero() || tr.Start.Before(d.FirstDeparts) {
			d.FirstDeparts = tr.Start
		}
		if tr.End.After(d.LastArrives) {
			d.LastArrives = tr.End
		}
	}
	for _, s := range stops {
		get(s.Start).Stops++
		frac := 0.0
		if s.Duration() > 0 {
			frac = float64(s.EngineOnTime) / float64(s.Duration())
		}
		for t := s.Start; t.Before(s.End); {
			lt := t.In(loc)
			midnight := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
			end := s.End
			if midnight.Before(end) {
				end = midnight
			}
			d := get(t)
			d.StopTime += end.Sub(t)
			d.IdleTime += time.Duration(frac * float64(end.Sub(t)))
			t = end
		}
	}
	out := make([]DaySummary, 0, len(days))
	for _, d := range days {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}

// SummaryCSVHeader is the header row WriteSummaryCSV writes.
var SummaryCSVHeader = []string{"vehicle", "date", "trips", "stops", "distance_km", "driving_s", "idle_s", "stop_s", "max_speed_kmh", "first_departs", "last_arrives"}

// WriteSummaryCSV writes day summaries as CSV with SummaryCSVHeader.
func WriteSummaryCSV(w io.Writer, days []DaySummary) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SummaryCSVHeader); err != nil {
		return fmt.Errorf("write summary csv: %w", err)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, d := range days {
		rec := []string{d.Vehicle, d.Date, strconv.Itoa(d.Trips), strconv.Itoa(d.Stops),
			strconv.FormatFloat(d.DistanceKm, 'f', 3, 64), strconv.FormatFloat(d.DrivingTime.Seconds(), 'f', 0, 64),
			strconv.FormatFloat(d.IdleTime.Seconds(), 'f', 0, 64), strconv.FormatFloat(d.StopTime.Seconds(), 'f', 0, 64),
			strconv.FormatFloat(d.MaxSpeedKmh, 'f', 1, 64), ts(d.FirstDeparts), ts(d.LastArrives)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write summary csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write summary csv: %w", err)
	}
	return nil
}
