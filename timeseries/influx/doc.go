// Package influx is the InfluxDB backend of revloop's time-series store,
// written through influxdb-client-go/v2 so that one code path serves
// InfluxDB 1.8+ (v2 compatibility API), 2.x and Cloud.
//
//	Write: validate ──▶ line protocol ──▶ WriteAPIBlocking (one request per batch, no client retries)
//	                                          └──▶ Classify: retryable (network, 401/403/404, 429, 5xx, Retry-After)
//	                                                         or rejected (400, 413, 422, other 4xx)
//	Read:  Flux: range ──▶ filter(measurement, device) ──▶ pivot(fields) ──▶ points
//
// With InfluxDB 1.8 the bucket is "database/retention-policy", the token
// "user:password" or empty, the org is ignored, and Flux needs
// flux-enabled = true in the [http] section. A point with the same
// measurement, tag set and timestamp merges into the earlier one, which is
// what makes redelivery harmless.
//
// Retention: InfluxDB enforces it per bucket (2.x) or retention policy
// (1.8); give each group of measurements its own bucket or policy when they
// need different lifetimes (deploy/influxdb shows the 1.8 statements).
// Config.Retention adds per-measurement pruning through Prune, with the
// delete API on 2.x and an InfluxQL DELETE on 1.8.
package influx
