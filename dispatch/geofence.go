package dispatch

import (
	"encoding/json"
	"math"

	"github.com/revloop/revloop"
)

// MaxFenceVertices bounds a polygon fence.
const MaxFenceVertices = 10000

// MaxFenceRadiusM bounds a circle fence.
const MaxFenceRadiusM = 50000

type gjGeometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

type gjFeature struct {
	Type       string         `json:"type"`
	ID         any            `json:"id,omitempty"`
	Geometry   *gjGeometry    `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

// ParseGeofence checks a GeoJSON geofence and returns it as a Feature
// together with its centre [lon, lat]. Accepted: a Feature whose geometry is
// a Polygon (rings closed, at least 4 positions, lon in [-180, 180], lat in
// [-90, 90]), a Feature with a Point geometry and properties.radius_m (a
// circle), or a bare Polygon geometry.
func ParseGeofence(raw json.RawMessage) (json.RawMessage, [2]float64, error) {
	var zero [2]float64
	if len(raw) == 0 || string(raw) == "null" {
		return nil, zero, revloop.Invalid("geofence", "required: a GeoJSON Feature (Polygon, or Point with properties.radius_m)")
	}
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, zero, revloop.Invalid("geofence", "not GeoJSON: %v", err)
	}
	var f gjFeature
	switch probe.Type {
	case "Feature":
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, zero, revloop.Invalid("geofence", "not a GeoJSON Feature: %v", err)
		}
	case "Polygon":
		var g gjGeometry
		if err := json.Unmarshal(raw, &g); err != nil {
			return nil, zero, revloop.Invalid("geofence", "not a GeoJSON Polygon: %v", err)
		}
		f = gjFeature{Type: "Feature", Geometry: &g}
	default:
		return nil, zero, revloop.Invalid("geofence.type", "want Feature or Polygon, got %q", probe.Type)
	}
	if f.Geometry == nil {
		return nil, zero, revloop.Invalid("geofence.geometry", "required")
	}
	if f.Properties == nil {
		f.Properties = map[string]any{}
	}
	var center [2]float64
	switch f.Geometry.Type {
	case "Point":
		var p []float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
			return nil, zero, revloop.Invalid("geofence.geometry.coordinates", "want [lon, lat]: %v", err)
		}
		if err := checkPosition("geofence.geometry.coordinates", p); err != nil {
			return nil, zero, err
		}
		r, ok := f.Properties["radius_m"].(float64)
		if !ok || math.IsNaN(r) || r <= 0 || r > MaxFenceRadiusM {
			return nil, zero, revloop.Invalid("geofence.properties.radius_m", "a circle fence needs radius_m between 0 and %d", MaxFenceRadiusM)
		}
		center = [2]float64{p[0], p[1]}
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &rings); err != nil {
			return nil, zero, revloop.Invalid("geofence.geometry.coordinates", "want [[[lon, lat], ...]]: %v", err)
		}
		if len(rings) == 0 {
			return nil, zero, revloop.Invalid("geofence.geometry.coordinates", "a polygon needs an outer ring")
		}
		n := 0
		for i, ring := range rings {
			field := "geofence.geometry.coordinates"
			if len(ring) < 4 {
				return nil, zero, revloop.Invalid(field, "ring %d has %d positions; a closed ring needs at least 4", i, len(ring))
			}
			for _, p := range ring {
				if err := checkPosition(field, p); err != nil {
					return nil, zero, err
				}
			}
			first, last := ring[0], ring[len(ring)-1]
			if first[0] != last[0] || first[1] != last[1] {
				return nil, zero, revloop.Invalid(field, "ring %d is not closed: its last position must equal its first", i)
			}
			n += len(ring)
		}
		if n > MaxFenceVertices {
			return nil, zero, revloop.Invalid("geofence.geometry.coordinates", "at most %d positions", MaxFenceVertices)
		}
		outer := rings[0][:len(rings[0])-1]
		for _, p := range outer {
			center[0] += p[0] / float64(len(outer))
			center[1] += p[1] / float64(len(outer))
		}
	default:
		return nil, zero, revloop.Invalid("geofence.geometry.type", "want Polygon or Point (with properties.radius_m), got %q", f.Geometry.Type)
	}
	out, err := json.Marshal(f)
	if err != nil {
		return nil, zero, revloop.Invalid("geofence", "%v", err)
	}
	return out, center, nil
}

func checkPosition(field string, p []float64) error {
	if len(p) < 2 || len(p) > 3 {
		return revloop.Invalid(field, "a position is [lon, lat]")
	}
	if math.IsNaN(p[0]) || p[0] < -180 || p[0] > 180 {
		return revloop.Invalid(field, "longitude %v out of range [-180, 180]", p[0])
	}
	if math.IsNaN(p[1]) || p[1] < -90 || p[1] > 90 {
		return revloop.Invalid(field, "latitude %v out of range [-90, 90]", p[1])
	}
	return nil
}
