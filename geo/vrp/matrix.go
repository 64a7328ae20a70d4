package vrp

import (
	"context"
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// Matrix holds distances and travel times between N nodes as flat float32
// arrays (row-major), which halves the n² memory of float64. Time may share
// its backing array with Dist when travel time equals distance.
type Matrix struct {
	N    int
	Dist []float32
	Time []float32
}

// NewMatrix allocates an n×n matrix with separate distance and time arrays.
func NewMatrix(n int) *Matrix {
	return &Matrix{N: n, Dist: make([]float32, n*n), Time: make([]float32, n*n)}
}

// D returns the distance from i to j.
func (m *Matrix) D(i, j int) float64 { return float64(m.Dist[i*m.N+j]) }

// T returns the travel time from i to j.
func (m *Matrix) T(i, j int) float64 { return float64(m.Time[i*m.N+j]) }

// EuclidDistance is the distance between two planar points, rounded to the
// nearest integer (TSPLIB nint) when round is set.
func EuclidDistance(x1, y1, x2, y2 float64, round bool) float64 {
	d := math.Hypot(x1-x2, y1-y2)
	if round {
		return math.Floor(d + 0.5)
	}
	return d
}

// EuclidMatrix builds a matrix of planar Euclidean distances where travel
// time equals distance.
func EuclidMatrix(xs, ys []float64, round bool) *Matrix {
	n := len(xs)
	m := &Matrix{N: n, Dist: make([]float32, n*n)}
	for i := range n {
		for j := i + 1; j < n; j++ {
			d := float32(EuclidDistance(xs[i], ys[i], xs[j], ys[j], round))
			m.Dist[i*n+j], m.Dist[j*n+i] = d, d
		}
	}
	m.Time = m.Dist
	return m
}

// earthRadiusM is the mean Earth radius in metres.
const earthRadiusM = 6371008.8

// Haversine returns the great-circle distance in metres between two points.
func Haversine(a, b orb.Point) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat()*rad, b.Lat()*rad
	dlat, dlon := lat2-lat1, (b.Lon()-a.Lon())*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1)*math.Cos(lat2)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadiusM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// GreatCircle is a MatrixProvider that estimates road distance as the
// great-circle distance times a detour factor, and time from an average speed.
type GreatCircle struct {
	Detour   float64 // road distance per straight-line distance; 0 means 1.3
	SpeedKMH float64 // average speed; 0 means 30 km/h
}

// MatrixProvider computes distances (metres) and travel times (seconds)
// between points.
type MatrixProvider interface {
	Matrix(ctx context.Context, pts []orb.Point) (*Matrix, error)
}

var _ MatrixProvider = GreatCircle{}

// Matrix computes the great-circle matrix once for all pairs.
func (g GreatCircle) Matrix(ctx context.Context, pts []orb.Point) (*Matrix, error) {
	detour, speed := g.Detour, g.SpeedKMH
	if detour <= 0 {
		detour = 1.3
	}
	if speed <= 0 {
		speed = 30
	}
	mps := speed / 3.6
	n := len(pts)
	m := NewMatrix(n)
	for i := range n {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("great-circle matrix: %w", ctx.Err())
		}
		for j := i + 1; j < n; j++ {
			d := Haversine(pts[i], pts[j]) * detour
			m.Dist[i*n+j], m.Dist[j*n+i] = float32(d), float32(d)
			t := float32(d / mps)
			m.Time[i*n+j], m.Time[j*n+i] = t, t
		}
	}
	return m, nil
}
