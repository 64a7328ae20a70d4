package geo_test

import (
	"fmt"
	"os"
	"time"

	"github.com/paulmach/orb"
	"github.com/revloop/revloop/geo"
)

func ExampleDistanceM() {
	korenmarkt := orb.Point{3.7197, 51.0546}
	stPieters := orb.Point{3.7106, 51.0362}
	fmt.Printf("%.0f m\n", geo.DistanceM(korenmarkt, stPieters))
	// Output: 2143 m
}

func ExampleParseFence() {
	f, err := geo.ParseFence([]byte(`{"type":"Feature","id":"dp-007",
		"geometry":{"type":"Point","coordinates":[3.7197,51.0546]},
		"properties":{"radius_m":40,"min_dwell_s":120}}`), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.ID, f.Kind, f.RadiusM, f.MinDwell)
	fmt.Println(f.Contains(geo.Destination(f.Center, 90, 30)), f.Contains(geo.Destination(f.Center, 90, 50)))
	// Output:
	// dp-007 circle 40 2m0s
	// true false
}

func ExampleIndex() {
	ix := geo.NewIndex(0)
	a, _ := geo.NewCircleFence("a", orb.Point{3.7197, 51.0546}, 50)
	b, _ := geo.NewCircleFence("b", orb.Point{3.7210, 51.0546}, 50)
	ix.Add(a)
	ix.Add(b)
	for _, f := range ix.Containing(orb.Point{3.7203, 51.0546}, nil) {
		fmt.Println(f.ID)
	}
	// Unordered output:
	// a
	// b
}

func ExampleFenceEngine() {
	site, _ := geo.NewCircleFence("dp-007", orb.Point{3.7197, 51.0546}, 40)
	site.MinDwell = 2 * time.Minute
	e := geo.NewFenceEngine([]*geo.Fence{site}, geo.EngineOptions{})
	start := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	// Approach from 300 m west, stand at the site 5 minutes, leave east.
	var fixes []orb.Point
	for x := -300.0; x < 0; x += 60 {
		fixes = append(fixes, geo.Destination(site.Center, 90, x))
	}
	for i := 0; i < 10; i++ {
		fixes = append(fixes, site.Center)
	}
	for x := 60.0; x <= 300; x += 60 {
		fixes = append(fixes, geo.Destination(site.Center, 90, x))
	}
	for i, p := range fixes {
		for _, ev := range e.Observe("veh-01", start.Add(time.Duration(i)*30*time.Second), p) {
			fmt.Println(ev.Kind, ev.Fence, ev.Time.Format("15:04:05"))
		}
	}
	// Output:
	// fence_enter dp-007 09:02:30
	// fence_dwell dp-007 09:04:30
	// fence_exit dp-007 09:08:00
}

func ExampleDetectTrips() {
	start := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	depot := orb.Point{3.7059, 51.0213}
	var fixes []geo.Fix
	add := func(t time.Duration, p orb.Point, kmh float64) {
		fixes = append(fixes, geo.Fix{Time: start.Add(t), Point: p, SpeedKmh: kmh, OdometerKm: 0})
	}
	// 10 minutes at the depot, then 2 km north at 40 km/h.
	for t := time.Duration(0); t <= 10*time.Minute; t += time.Minute {
		add(t, depot, 0)
	}
	for i := 1; i <= 20; i++ {
		add(10*time.Minute+time.Duration(i)*9*time.Second, geo.Destination(depot, 0, float64(i)*100), 40)
	}
	trips, stops := geo.DetectTrips(fixes, geo.TripOptions{})
	fmt.Printf("%d stop of %s, %d trip of %.1f km in %s\n", len(stops), stops[0].Duration(), len(trips), trips[0].DistanceM/1000, trips[0].DrivingTime)
	days := geo.Summarize("veh-01", trips, stops, time.UTC)
	_ = geo.WriteSummaryCSV(os.Stdout, days)
	// Output:
	// 1 stop of 10m9s, 1 trip of 1.9 km in 2m51s
	// vehicle,date,trips,stops,distance_km,driving_s,idle_s,stop_s,max_speed_kmh,first_departs,last_arrives
	// veh-01,2026-03-03,1,1,1.900,171,0,609,40.0,2026-03-03T08:10:09Z,2026-03-03T08:13:00Z
}
