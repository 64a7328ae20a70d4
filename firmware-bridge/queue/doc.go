// Package queue is the bridge's bounded on-disk store-and-forward queue.
//
// Readings are appended to segment files before anything is published, and
// they leave the queue only when the publisher acknowledges them after the
// broker's PUBACK. A power cut at any moment loses at most the record being
// written.
//
// On disk a queue is a directory:
//
//	seg-00000000000000000001.log   append-only segment, named by its first sequence number
//	seg-00000000000000004711.log
//	cursor                         last acknowledged sequence number (8 bytes LE + CRC-32C)
//
// Each record in a segment is framed as
//
//	length  uint32 LE   size of seq+data
//	crc     uint32 LE   CRC-32C (Castagnoli) of seq+data
//	seq     uint64 LE   sequence number, strictly increasing
//	data    length-8 bytes
//
// Open scans every segment, verifies length, checksum and sequence of each
// record and truncates a torn tail (a record cut short or corrupted by a
// power cut) so that appends resume after the last good record. The cursor
// is replaced atomically (write to a temporary file, fsync, rename, fsync the
// directory), so it is always either the old or the new value.
//
// The queue is bounded by Options.MaxRecords. When it is full, the overflow
// policy either drops the oldest unacknowledged records (DropOldest, the
// default: the newest state of a sensor matters most) or refuses the new ones
// (DropNewest). Either way the loss is counted in Stats.Dropped.
//
// Durability of appends follows Options.Sync: SyncAlways fsyncs every Append
// (the default; one fsync covers all records of one call), SyncInterval
// fsyncs at most every Options.SyncEvery, SyncNever leaves it to the kernel.
//
// The reader side hands records out in order (Read), the publisher confirms
// them (Ack, which is durable) and, after a lost connection, starts again from
// the oldest unacknowledged one (Rewind).
package queue
