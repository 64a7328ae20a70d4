package vrp

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// routeColors are distinct colours for routes, reused in turn.
var routeColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
	"#7f7f7f", "#bcbd22", "#17becf"}

// GeoJSON renders a plan as a FeatureCollection: one LineString per route
// (vehicle, distance, cost, colour), one Point per stop (kind, pickup, order,
// times, load), and one Point per unserved pickup with the reason when its
// position is given in pickups.
func GeoJSON(res PlanResult, pickups []PlanPickup) *geojson.FeatureCollection {
	fc := geojson.NewFeatureCollection()
	for i, r := range res.Routes {
		color := routeColors[i%len(routeColors)]
		line := make(orb.LineString, 0, len(r.Stops))
		for _, st := range r.Stops {
			line = append(line, st.At.point())
		}
		f := geojson.NewFeature(line)
		f.Properties["type"] = "route"
		f.Properties["vehicle_id"] = r.VehicleID
		f.Properties["distance_km"] = r.DistanceKM
		f.Properties["cost"] = r.Cost
		f.Properties["stroke"] = color
		fc.Append(f)
		for k, st := range r.Stops {
			g := geojson.NewFeature(st.At.point())
			g.Properties["type"] = "stop"
			g.Properties["kind"] = st.Kind
			g.Properties["vehicle_id"] = r.VehicleID
			g.Properties["sequence"] = k
			if st.PickupID != "" {
				g.Properties["pickup_id"] = st.PickupID
			}
			g.Properties["arrival"] = st.Arrival.Format(time.RFC3339)
			g.Properties["departure"] = st.Departure.Format(time.RFC3339)
			g.Properties["load_kg"] = st.LoadKG
			g.Properties["load_m3"] = st.LoadM3
			g.Properties["marker-color"] = color
			fc.Append(g)
		}
	}
	where := map[string]LatLon{}
	for _, p := range pickups {
		where[p.ID] = p.At
	}
	for _, u := range res.Unserved {
		at, ok := where[u.PickupID]
		if !ok {
			continue
		}
		g := geojson.NewFeature(at.point())
		g.Properties["type"] = "unserved"
		g.Properties["pickup_id"] = u.PickupID
		g.Properties["reason"] = u.Reason
		fc.Append(g)
	}
	return fc
}

// WriteSVG draws a plan as an SVG map (equirectangular projection fitted to
// the plan's extent): routes as coloured polylines, pickups as dots, depots
// as squares, unloads as diamonds and unserved pickups as red crosses.
func WriteSVG(w io.Writer, res PlanResult, pickups []PlanPickup, width, height int) error {
	if width <= 0 {
		width = 800
	}
	if height <= 0 {
		height = 600
	}
	var pts []LatLon
	for _, r := range res.Routes {
		for _, st := range r.Stops {
			pts = append(pts, st.At)
		}
	}
	where := map[string]LatLon{}
	for _, p := range pickups {
		where[p.ID] = p.At
	}
	var unserved []LatLon
	for _, u := range res.Unserved {
		if at, ok := where[u.PickupID]; ok {
			unserved = append(unserved, at)
			pts = append(pts, at)
		}
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	midLat := 0.0
	for _, p := range pts {
		midLat += p.Lat / float64(len(pts))
	}
	kx := math.Cos(midLat * math.Pi / 180)
	for _, p := range pts {
		x, y := p.Lon*kx, p.Lat
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, y), math.Max(maxY, y)
	}
	if len(pts) == 0 {
		minX, minY, maxX, maxY = 0, 0, 1, 1
	}
	const margin = 20.0
	span := math.Max(math.Max(maxX-minX, maxY-minY), 1e-9)
	scale := math.Min((float64(width)-2*margin)/math.Max(maxX-minX, span*1e-3), (float64(height)-2*margin)/math.Max(maxY-minY, span*1e-3))
	proj := func(p LatLon) (float64, float64) {
		return margin + (p.Lon*kx-minX)*scale, float64(height) - margin - (p.Lat-minY)*scale
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", width, height, width, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	for i, r := range res.Routes {
		color := routeColors[i%len(routeColors)]
		var sb strings.Builder
		for _, st := range r.Stops {
			x, y := proj(st.At)
			fmt.Fprintf(&sb, "%.1f,%.1f ", x, y)
		}
		fmt.Fprintf(bw, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s %.1f km</title></polyline>`+"\n",
			color, strings.TrimSpace(sb.String()), xmlText(r.VehicleID), r.DistanceKM)
		for _, st := range r.Stops {
			x, y := proj(st.At)
			switch st.Kind {
			case StopPickup:
				fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>`+"\n", x, y, color, xmlText(st.PickupID))
			case StopUnload:
				fmt.Fprintf(bw, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="#333333"><title>unload</title></polygon>`+"\n",
					x, y-6, x+6, y, x, y+6, x-6, y)
			default:
				fmt.Fprintf(bw, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="#000000"><title>%s</title></rect>`+"\n", x-5, y-5, st.Kind)
			}
		}
	}
	for _, at := range unserved {
		x, y := proj(at)
		fmt.Fprintf(bw, `<path d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f" stroke="#ff0000" stroke-width="2"/>`+"\n",
			x-5, y-5, x+5, y+5, x-5, y+5, x+5, y-5)
	}
	fmt.Fprintln(bw, "</svg>")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

func xmlText(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}
