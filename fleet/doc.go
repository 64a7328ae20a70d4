// Package fleet derives what the dispatcher watches from the raw readings:
// geofence events, trips and stops, fill forecasts and alerts.
//
//	ingest ──Observe──▶ Forecasts  (marks the bin's cached forecast stale)
//	                ├─▶ Fences    ──▶ fleet_events (upsert by event id, delete when retracted)
//	                │               └─▶ outside_hours alerts ──▶ alerts outbox
//	                └─▶ Monitor    ──▶ bin_full, fire_suspicion, tilt alerts
//	                    (one transaction per batch for the events and alerts)
//	device_events ──PollOffline──▶ device_offline alerts
//	timeseries ──Positions──▶ Trips (on request)
//	           ──FillHistory──▶ Forecasts (cached per bin)
//
// Fences runs one geo.FenceEngine per process over the dispatch sites'
// geofences, reloaded every Config.Refresh. Events are computed in event
// time: late bursts recompute the affected history and retract events that
// no longer hold, and the engine's deterministic ids make storage
// idempotent. Vehicles are named by the dispatch vehicle whose
// tracker_device_id is the reporting device, or by the device id. After a
// restart the engine replays Config.Warmup of stored fixes; a visit already
// in progress at the replay's start is an artefact of the cut: its enter
// and dwell are dropped and its exit does not replace the stored one.
//
// Service.Observers is one ingest observer that feeds each batch to
// Forecasts, Fences and Monitor and stores the fence events and alert
// transitions it causes in one transaction; when that fails, the events
// stay pending and the monitor is left as before, so the redelivered batch
// stores the same rows. Each part's own Observe does the same for its part.
//
// Sites may have opening hours (SiteHours, table fleet_site_hours): a
// vehicle entering a site while it is closed raises an outside_hours alert.
//
// Trips reads a vehicle's fixes of one local day (time zone
// Config.Location, default Europe/Brussels) and runs geo.DetectTrips with
// the configured thresholds.
//
// Forecasts runs forecast.Predict per bin over Lookback of its sensor's
// readings and caches the result until the sensor reports again or the TTL
// passes; Due lists the bins expected at their threshold within a horizon,
// which the route planner takes as optional stops.
package fleet
