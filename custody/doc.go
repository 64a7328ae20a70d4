// Package custody is revloop's custody log: an append-only record of every
// lot transition, weighbridge ticket, shipment and other hand-over, in which
// each entry is chained to the previous one by a SHA-256 hash so that an
// auditor can verify that nothing was edited, deleted or reordered afterwards.
//
// An entry's hash covers its sequence number, time (Unix milliseconds), kind,
// subject, canonical JSON payload and the previous entry's hash (see Hash).
// Appends run inside the caller's transaction, next to the change they
// record, and serialize on a single chain head row (custody_head): on SQLite
// the database write lock orders them, on PostgreSQL the row lock taken by
// updating the head (under SERIALIZABLE isolation) does.
//
// Verify walks the log in sequence order and names the first bad entry with
// its sequence number and the reason.
package custody
