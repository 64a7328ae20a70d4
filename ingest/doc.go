// Package ingest turns the MQTT messages devices publish into stored points,
// derived-event observations and, for what cannot be accepted, dead letters.
//
// One Pipeline.Run owns every goroutine; the stages are joined by bounded
// channels, so a slow store pushes back all the way to the MQTT in-flight
// window and memory stays flat:
//
//	source ──▶ decode ──▶ validate ──▶ enrich ──▶ batcher ──▶ sink ──▶ observers ──▶ ack
//	(MQTT)     (workers)  (devices)    (tags)     (size/time) │
//	                                                          └──▶ dead letters
//
// A message is acknowledged to the broker only after the batch holding it is
// durably written (points to the time-series store, rejected messages to the
// dead-letter store) and every Observer has seen it. A batch the store
// rejects is bisected down to single messages, so only the offending ones
// are dead-lettered; retryable failures are retried with bounded exponential
// backoff until they succeed or the pipeline stops (unacknowledged messages
// are then delivered again by the broker). A point's identity is
// (measurement, device, device time), so redelivery overwrites itself.
//
// Decoders accept, per channel of the v1 contract: gps as a JSON fix or array
// of fixes, NMEA 0183 RMC/GGA text or a SenML pack; fill as a JSON reading or
// array, a SenML pack, or LwM2M object 3435 resources in SenML form; rfid as
// a JSON batch of raw tag reads; weight as a JSON reading; status as a JSON
// health report (the last will {"online":false} included).
package ingest
