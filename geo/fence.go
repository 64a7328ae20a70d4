package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// FenceKind says how a fence's area is described.
type FenceKind string

// The fence kinds.
const (
	FencePolygon FenceKind = "polygon"
	FenceCircle  FenceKind = "circle"
)

// ErrBadFence is returned for a fence that cannot be built or decoded.
var ErrBadFence = errors.New("invalid fence")

// Fence is a geofence: a polygon (outer ring and optional holes) or a circle
// given by its center and radius in meters. The zero values of MinDwell and
// BufferM mean the engine's defaults.
type Fence struct {
	// ID names the fence; events carry it.
	ID string
	// Kind is FencePolygon or FenceCircle.
	Kind FenceKind
	// Polygon is the area of a polygon fence (lon/lat degrees).
	Polygon orb.Polygon
	// Center and RadiusM describe a circle fence.
	Center  orb.Point
	RadiusM float64
	// MinDwell is how long a vehicle must stay inside before a dwell event
	// is emitted; 0 uses the engine default.
	MinDwell time.Duration
	// BufferM is the hysteresis distance: a fix must lie more than BufferM
	// meters outside the fence before it counts as outside; 0 uses the
	// engine default, a negative value disables the buffer.
	BufferM float64
	// CreatedAt is when the fence came into force; vehicles already inside
	// are reported as entering at this time. Zero means "always existed".
	CreatedAt time.Time

	bound orb.Bound
	// lonM, latM: meters per degree at the circle's centre (fast Contains).
	lonM, latM float64
}

// NewPolygonFence returns a validated polygon fence. An open ring is closed.
func NewPolygonFence(id string, poly orb.Polygon) (*Fence, error) {
	f := &Fence{ID: id, Kind: FencePolygon, Polygon: poly.Clone()}
	if err := f.init(); err != nil {
		return nil, err
	}
	return f, nil
}

// NewCircleFence returns a validated circle fence of radiusM meters.
func NewCircleFence(id string, center orb.Point, radiusM float64) (*Fence, error) {
	f := &Fence{ID: id, Kind: FenceCircle, Center: center, RadiusM: radiusM}
	if err := f.init(); err != nil {
		return nil, err
	}
	return f, nil
}

func validPoint(p orb.Point) bool {
	return !math.IsNaN(p[0]) && !math.IsNaN(p[1]) && p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90
}

// init validates f and computes its bounding box.
func (f *Fence) init() error {
	if f.ID == "" {
		return fmt.Errorf("fence: %w: empty id", ErrBadFence)
	}
	switch f.Kind {
	case FenceCircle:
		if !validPoint(f.Center) {
			return fmt.Errorf("fence %s: %w: center %v out of range", f.ID, ErrBadFence, f.Center)
		}
		if !(f.RadiusM > 0) || f.RadiusM > 100_000 {
			return fmt.Errorf("fence %s: %w: radius_m %v not in (0, 100000]", f.ID, ErrBadFence, f.RadiusM)
		}
		lonM, latM := MetersPerDegree(f.Center[1])
		f.lonM, f.latM = lonM, latM
		dlon, dlat := f.RadiusM/math.Max(lonM, 1), f.RadiusM/latM
		f.bound = orb.Bound{Min: orb.Point{f.Center[0] - dlon, f.Center[1] - dlat}, Max: orb.Point{f.Center[0] + dlon, f.Center[1] + dlat}}
	case FencePolygon:
		if len(f.Polygon) == 0 {
			return fmt.Errorf("fence %s: %w: polygon has no ring", f.ID, ErrBadFence)
		}
		for i, r := range f.Polygon {
			if len(r) > 0 && !r.Closed() {
				r = append(r, r[0])
				f.Polygon[i] = r
			}
			if len(r) < 4 {
				return fmt.Errorf("fence %s: %w: ring %d has %d points, want >= 3 distinct", f.ID, ErrBadFence, i, len(r)-1)
			}
			for _, p := range r {
				if !validPoint(p) {
					return fmt.Errorf("fence %s: %w: point %v out of range", f.ID, ErrBadFence, p)
				}
			}
		}
		f.bound = f.Polygon[0].Bound()
	default:
		return fmt.Errorf("fence %s: %w: kind %q", f.ID, ErrBadFence, f.Kind)
	}
	if f.MinDwell < 0 {
		return fmt.Errorf("fence %s: %w: negative min dwell", f.ID, ErrBadFence)
	}
	return nil
}

// Bound returns the fence's bounding box in degrees.
func (f *Fence) Bound() orb.Bound { return f.bound }

// Contains reports whether p lies inside the fence (on the boundary counts
// as inside for circles; polygons use the even-odd rule).
func (f *Fence) Contains(p orb.Point) bool {
	if !f.bound.Contains(p) {
		return false
	}
	if f.Kind == FenceCircle {
		// Local equirectangular distance: within a circle of at most
		// 100 km it differs from the great circle by far less than GPS
		// noise.
		dx := (p[0] - f.Center[0]) * f.lonM
		dy := (p[1] - f.Center[1]) * f.latM
		return dx*dx+dy*dy <= f.RadiusM*f.RadiusM
	}
	if !ringContains(f.Polygon[0], p) {
		return false
	}
	for _, h := range f.Polygon[1:] {
		if ringContains(h, p) {
			return false
		}
	}
	return true
}

// ringContains is the even-odd ray casting test.
func ringContains(r orb.Ring, p orb.Point) bool {
	in := false
	x, y := p[0], p[1]
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		xi, yi := r[i][0], r[i][1]
		xj, yj := r[j][0], r[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// OutsideDistanceM returns how far p lies outside the fence in meters, 0 if
// p is inside.
func (f *Fence) OutsideDistanceM(p orb.Point) float64 {
	if f.Kind == FenceCircle {
		return math.Max(0, DistanceM(f.Center, p)-f.RadiusM)
	}
	if f.Contains(p) {
		return 0
	}
	lonM, latM := MetersPerDegree(p[1])
	best := math.Inf(1)
	for _, r := range f.Polygon {
		for i := 1; i < len(r); i++ {
			ax, ay := (r[i-1][0]-p[0])*lonM, (r[i-1][1]-p[1])*latM
			bx, by := (r[i][0]-p[0])*lonM, (r[i][1]-p[1])*latM
			if d := segDist(ax, ay, bx, by); d < best {
				best = d
			}
		}
	}
	return best
}

// segDist is the distance from the origin to segment a-b (planar meters).
func segDist(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	x, y := ax+t*dx, ay+t*dy
	return math.Hypot(x, y)
}

// Feature returns the fence as a GeoJSON feature: a Polygon geometry, or a
// Point geometry with the property radius_m for a circle. min_dwell_s,
// buffer_m and created_at are added when set.
func (f *Fence) Feature() *geojson.Feature {
	var ft *geojson.Feature
	if f.Kind == FenceCircle {
		ft = geojson.NewFeature(f.Center)
		ft.Properties["radius_m"] = f.RadiusM
	} else {
		ft = geojson.NewFeature(f.Polygon)
	}
	ft.ID = f.ID
	if f.MinDwell > 0 {
		ft.Properties["min_dwell_s"] = f.MinDwell.Seconds()
	}
	if f.BufferM != 0 {
		ft.Properties["buffer_m"] = f.BufferM
	}
	if !f.CreatedAt.IsZero() {
		ft.Properties["created_at"] = f.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	return ft
}

// MarshalJSON encodes the fence as a GeoJSON feature (see Feature).
func (f *Fence) MarshalJSON() ([]byte, error) { return json.Marshal(f.Feature()) }

// UnmarshalJSON decodes a fence from a GeoJSON feature (see ParseFence).
func (f *Fence) UnmarshalJSON(data []byte) error {
	g, err := ParseFence(data, "")
	if err != nil {
		return err
	}
	*f = *g
	return nil
}

// ParseFence decodes a fence from a GeoJSON Feature (Polygon geometry, or
// Point geometry with properties.radius_m) or from a bare GeoJSON Polygon
// geometry. The feature's id wins over defaultID.
func ParseFence(data []byte, defaultID string) (*Fence, error) {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("parse fence: %w: %w", ErrBadFence, err)
	}
	var (
		geom  orb.Geometry
		props geojson.Properties
		id    = defaultID
	)
	switch probe.Type {
	case "Feature":
		ft, err := geojson.UnmarshalFeature(data)
		if err != nil {
			return nil, fmt.Errorf("parse fence: %w: %w", ErrBadFence, err)
		}
		geom, props = ft.Geometry, ft.Properties
		switch v := ft.ID.(type) {
		case string:
			if v != "" {
				id = v
			}
		case float64:
			id = fmt.Sprint(v)
		}
	case "Polygon":
		g, err := geojson.UnmarshalGeometry(data)
		if err != nil {
			return nil, fmt.Errorf("parse fence: %w: %w", ErrBadFence, err)
		}
		geom = g.Geometry()
	default:
		return nil, fmt.Errorf("parse fence: %w: type %q, want Feature or Polygon", ErrBadFence, probe.Type)
	}
	f := &Fence{ID: id}
	switch g := geom.(type) {
	case orb.Polygon:
		f.Kind, f.Polygon = FencePolygon, g
	case orb.Point:
		f.Kind, f.Center = FenceCircle, g
		r, ok := props["radius_m"].(float64)
		if !ok {
			return nil, fmt.Errorf("parse fence %s: %w: point geometry needs properties.radius_m", id, ErrBadFence)
		}
		f.RadiusM = r
	case nil:
		return nil, fmt.Errorf("parse fence %s: %w: no geometry", id, ErrBadFence)
	default:
		return nil, fmt.Errorf("parse fence %s: %w: geometry %s, want Polygon or Point", id, ErrBadFence, geom.GeoJSONType())
	}
	if v, ok := props["min_dwell_s"].(float64); ok {
		if v < 0 || v > 1e9 {
			return nil, fmt.Errorf("parse fence %s: %w: min_dwell_s %v", id, ErrBadFence, v)
		}
		f.MinDwell = time.Duration(v * float64(time.Second))
	}
	if v, ok := props["buffer_m"].(float64); ok {
		if math.IsNaN(v) || v > 10_000 {
			return nil, fmt.Errorf("parse fence %s: %w: buffer_m %v", id, ErrBadFence, v)
		}
		f.BufferM = v
	}
	if v, ok := props["created_at"].(string); ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("parse fence %s: %w: created_at: %w", id, ErrBadFence, err)
		}
		f.CreatedAt = t
	}
	if err := f.init(); err != nil {
		return nil, fmt.Errorf("parse fence: %w", err)
	}
	return f, nil
}
