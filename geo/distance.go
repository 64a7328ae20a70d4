package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// EarthRadiusM is the mean Earth radius in meters used by every great-circle
// helper of this package.
const EarthRadiusM = 6371008.8

func rad(deg float64) float64 { return deg * math.Pi / 180 }
func deg(r float64) float64   { return r * 180 / math.Pi }

// DistanceM returns the great-circle (haversine) distance between a and b in
// meters. Points are orb points: X is the longitude, Y the latitude, in WGS84
// degrees.
func DistanceM(a, b orb.Point) float64 {
	lat1, lat2 := rad(a[1]), rad(b[1])
	dlat := lat2 - lat1
	dlon := rad(b[0] - a[0])
	s1 := math.Sin(dlat / 2)
	s2 := math.Sin(dlon / 2)
	h := s1*s1 + math.Cos(lat1)*math.Cos(lat2)*s2*s2
	if h > 1 {
		h = 1
	}
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(h))
}

// BearingDeg returns the initial great-circle bearing from a to b in degrees
// clockwise from true north, in [0, 360).
func BearingDeg(a, b orb.Point) float64 {
	lat1, lat2 := rad(a[1]), rad(b[1])
	dlon := rad(b[0] - a[0])
	y := math.Sin(dlon) * math.Cos(lat2)
	x := math.Cos(lat1)*math.Sin(lat2) - math.Sin(lat1)*math.Cos(lat2)*math.Cos(dlon)
	brg := math.Mod(deg(math.Atan2(y, x))+360, 360)
	return brg
}

// Destination returns the point reached from p after distM meters on the
// great circle that starts with bearing bearingDeg.
func Destination(p orb.Point, bearingDeg, distM float64) orb.Point {
	lat1, lon1 := rad(p[1]), rad(p[0])
	brg := rad(bearingDeg)
	d := distM / EarthRadiusM
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(d) + math.Cos(lat1)*math.Sin(d)*math.Cos(brg))
	lon2 := lon1 + math.Atan2(math.Sin(brg)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	lon := math.Mod(deg(lon2)+540, 360) - 180
	return orb.Point{lon, deg(lat2)}
}

// Interpolate returns the point at fraction f (0 = a, 1 = b) of the straight
// segment from a to b. Over the few kilometers between two fixes or two
// waypoints, the linear interpolation in degrees differs from the great
// circle by far less than GPS noise.
func Interpolate(a, b orb.Point, f float64) orb.Point {
	return orb.Point{a[0] + (b[0]-a[0])*f, a[1] + (b[1]-a[1])*f}
}

// MetersPerDegree returns how many meters one degree of longitude and one
// degree of latitude span near latitude latDeg (local equirectangular scale).
func MetersPerDegree(latDeg float64) (lonM, latM float64) {
	latM = EarthRadiusM * math.Pi / 180
	lonM = latM * math.Cos(rad(latDeg))
	return lonM, latM
}
