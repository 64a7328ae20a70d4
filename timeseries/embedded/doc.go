// Package embedded is revloop's default time-series store: durable, under
// one data directory, with no server to run.
//
// Write path, per batch:
//
//	validate ──▶ encode one record ──▶ append to wal-N.log ──▶ fsync ──▶ ack
//	                                                    └──▶ memtable (readable at once)
//	flush (every 5 s, or at 100,000 points):
//	memtable ──▶ one SQLite transaction: a block per device and hour ──▶ delete covered segments
//
// A restart, or a SIGKILL at any moment, loses nothing that Write
// acknowledged: Open replays the log segments that the tables do not yet
// cover (the last covered segment is recorded in the same transaction as the
// blocks) and cuts off a torn, never acknowledged, tail record.
//
// Retention is applied by Prune, per measurement. Two writes of one point
// identity (device, tag set, timestamp) merge, the later fields winning, as
// in InfluxDB.
package embedded
