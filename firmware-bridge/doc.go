// Package bridge is revloop's edge gateway: it reads sensors on the
// gateway's own buses and forwards their readings over MQTT, losing none of
// them when the link or the power fails.
//
//	UART ─ nmea (GNSS) ─────┐
//	UART ─ chafon (UHF) ────┤   sensors: one goroutine each, probe with
//	I2C ── srf02 + mcp9808 ─┤   back-off, sample every interval
//	GPIO ─ hx711 (scale) ───┘
//	          │ JSON object per reading (DESIGN.md payloads, device ts)
//	          ▼
//	    queue (on disk: append-only CRC segments, fsync, durable cursor,
//	          bounded, drop-oldest | drop-newest)
//	          │ Read a window, group by topic, JSON arrays of ≤ batch_max
//	          ▼
//	    MQTT QoS 1 ──PUBACK──▶ queue.Ack (only then removed)
//	          ▲
//	    revloop/v1/<id>/config (retained) → intervals, thresholds;
//	    revloop/v1/<id>/status (retained, last will {"online":false})
//
// The drivers live in drivers/ (one package per chip, shaped like periph.io
// devices); the queue in queue/; simulated chips in sim/; transcript replay
// helpers in bustest/; Linux bus access (i2c-dev, termios, GPIO character
// device) in hw/.
//
// The bridge links none of the server's dependencies (gin, InfluxDB, SQL,
// ingest, api): `make deps-check` proves it with `go list -deps`.
package bridge
