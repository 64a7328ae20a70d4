// Package sim simulates a recycling operation around Ghent (Belgium) and
// produces what its devices would publish on the revloop v1 MQTT contract
// (revloop/v1/<device-id>/<channel>), deterministically from a seed.
//
// The World holds the static part: a yard with an RFID gate reader (antenna 1
// outside, antenna 2 inside) and a weighbridge, two depots, drop points
// (circle fences) and customer sites (polygon fences), bins with materials,
// fill sensors and RFID tags, and vehicles with trackers, plates, capacities,
// fuel and RFID tags. World.WriteJSON writes it for the registry.
//
// A Generator runs the world forward in simulated time: vehicles drive
// between depots, drop points and the yard along plausible paths (fixes every
// few seconds with speed, heading, odometer and ignition; traffic stops;
// coverage losses and dead zones whose fixes are released later as one JSON
// array), bins fill at material-, weekday- and hour-dependent rates with
// sensor noise and outliers and are emptied when a truck visits, the gate
// reader publishes repeated raw reads as trucks pass, and the weighbridge
// publishes settling then stable weights (gross in, tare out). Messages come
// out ordered by the time the device sends them; ground truth is available
// for tests: FillModel (true rates), Generator.TrueLevelPct, Emptyings,
// Deliveries and VehicleStops, and World.BinTrace for one bin alone.
//
// Payload formats, per device:
//
//	gps    JSON object {ts, seq, lat, lon, speed_kmh, heading_deg, hdop, sats,
//	       odometer_km, ignition}, ts as RFC 3339 (ms) or Unix ms; bursts after a
//	       dead zone as a JSON array of such objects; NMEA 0183 text ($GPRMC
//	       and $GPGGA, CRLF); SenML pack with bn "urn:dev:id:<device>:", bt in
//	       Unix seconds and records lat, lon, speed_kmh, heading_deg, hdop,
//	       sats, odometer_km, ignition (vb).
//	fill   JSON object or array {ts, seq, level_pct, distance_mm, temp_c,
//	       battery_v, tilt_deg}; SenML pack (records level_pct, distance_mm,
//	       temp_c, battery_v, tilt_deg, "t" relative to bt for later readings);
//	       LwM2M SenML with bn "/3435/0/": 0 container height cm, 2 fill
//	       percentage, 3 fill level cm, and "/3303/0/" 5700 temperature.
//	rfid   {ts, seq, reads: [{ts, epc, antenna, rssi_dbm}]}, one batch per second.
//	weight {ts, seq, kg, stable}; a stable 0 kg reading when the bridge is clear.
//	status {ts (Unix ms), battery_v, rssi_dbm, firmware, uptime_s, online}, retained;
//	       the last will of per-device connections is {"online":false}.
//
// Run paces a generator against a Publisher (MQTTPublisher: QoS 1, bounded
// in-flight, optional one connection per device): Speedup simulated seconds
// per wall second, an optional cap in messages per second, and simulated
// time never ahead of the wall clock unless AllowFuture, so a backfill from a
// past start catches up and continues live. Messages returns a fixed
// realistic mix with flagged malformed messages for ingest tests and
// benchmarks.
package sim
