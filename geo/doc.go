// Package geo holds the geometry of revloop: great-circle helpers in meters,
// geofences (GeoJSON polygons and circles) with a grid index that keeps
// thousands of fences cheap per fix, an event-time geofence engine, and trip
// and stop detection with daily per-vehicle summaries.
//
// Points are orb points: X is the longitude and Y the latitude, in WGS84
// degrees. The package imports only the standard library and orb, so every
// other part of revloop can use it.
//
// # Geofence events
//
// FenceEngine keeps a state machine per (vehicle, fence) and works in event
// time, on the fixes' own timestamps:
//
//   - enter: EnterFixes consecutive fixes inside (default 2); the event
//     carries the time of the first of them. A single fix inside while
//     driving past is no visit.
//   - exit: ExitFixes consecutive fixes more than BufferM meters outside
//     (default 2 fixes, 25 m, spanning at least 15 s); GPS jitter at the
//     edge therefore never flaps. The event carries the time of the first
//     fix outside the buffer.
//   - dwell: once per visit, when a fix still finds the vehicle inside
//     MinDwell after the enter (per fence, default 5 min); the event time is
//     enter + MinDwell.
//   - A fence created (CreatedAt) around a standing vehicle reports it as
//     entering at CreatedAt, from its last known position.
//
// Late fixes (a truck leaving a dead zone) are either held in a per-vehicle
// reorder buffer (EngineOptions.Lateness) or, when later than that, cause a
// recomputation from the last snapshot before them; the events are the same
// as with in-order delivery. Event IDs are deterministic (vehicle, fence,
// kind, time), so consumers upsert; an event invalidated by a late fix comes
// again with Retracted set. Duplicate fixes are ignored.
package geo
