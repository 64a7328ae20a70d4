// Package geo holds the geometry of revloop: great-circle helpers in meters,
// geofences (GeoJSON polygons and circles) with a spatial index that keeps
// thousands of fences cheap per fix, an event-time geofence engine producing
// enter, exit and dwell events, and trip and stop detection with daily
// per-vehicle summaries.
//
// Points are orb points: X is the longitude and Y the latitude, in WGS84
// degrees. The package imports only the standard library and orb, so every
// other part of revloop can use it.
package geo
