// Package yard runs the recycling yard: gate passages derived from raw RFID
// reads, weighbridge tickets derived from scale readings, lots and their
// stage transitions with mass balance, and outbound shipments. Every
// transition, ticket version and shipment is appended to the custody log in
// the same transaction as the change it records.
//
// Gate passages. A gate reader reports a tag many times per pass; Detector
// keeps, per (reader, EPC), a presence that starts at the first read, stays
// while reads keep coming and ends when the tag has not been read for the
// departure window (default 3 s, event time). Presences with fewer than
// MinReads reads spanning less than Debounce are stray reads and dropped.
// The direction comes from the side (outside or inside, per the gate's
// antenna configuration) of the antenna that read the tag first and last:
// outside→inside is "in", inside→outside "out", the same side at both ends
// after reads on both sides "turned" (a vehicle that backed out), and reads
// on one side only "unknown". A passage records its read count, first and
// last read, antennas and peak RSSI, so that an auditor can fetch the raw
// rfid_read points of its time span. Passages are stored idempotently keyed
// by (reader, EPC, first read).
//
// Weighbridge tickets. A scale's weighing is stable when its readings over
// the settling window (default 3 s, at least 3 readings) all lie within the
// tolerance (default ±20 kg) of their mean and above the empty-scale limit;
// the scale's own stable flag is recorded but never trusted alone. A
// weighing is matched to a vehicle once the gate readers of its yard have
// seen events LinkWindow past it: first a vehicle with an open ticket that
// passed out after the weighing (tare, second pass), otherwise the earliest
// vehicle that passed in before it and has no ticket for that passage yet
// (gross, first pass; vehicles queue through gate and scale in order). A
// vehicle with a stored tare completes its ticket on the first pass. Ticket
// numbers are sequential per yard and gap-free (taken in the transaction
// that stores the ticket). Manual tickets and corrections are new versions;
// nothing is overwritten.
//
// The Observer keeps presence and scale state in memory: all messages of one
// gate reader or scale must reach the same ingest replica (one replica for
// the yard's devices, or a shared-subscription group per yard). What it
// derives is idempotent, so a replica restarted mid-pass at worst splits one
// passage in two; Run flushes open presences at shutdown.
//
// Lots and stages. Stages are received → sorted → compacted → shredded →
// shipped, plus disposed. Sorting is required (received → sorted);
// compacting and shredding are optional and only move forward (sorted →
// compacted | shredded, compacted → shredded); shipping is allowed from
// sorted, compacted and shredded; disposal from any stage but shipped and
// disposed. A transition consumes its input lots whole and creates output
// lots (a sort splits one lot into lots per material and residue, a compact
// or shred may merge several lots into bales). Mass balance: the outputs
// plus the recorded loss must equal the inputs within the tolerance
// max(0.5 %, 2 kg) (configurable); a transition that breaks it is refused
// with a MassBalanceError, which is an ErrInvalid (HTTP 400, because the
// request's figures are wrong) carrying the figures. Illegal transitions are
// refused with a revloop.TransitionError (HTTP 409). Shipped and disposed
// lots are immutable. A store transition moves lots to another location
// (storage, R13/D15) without changing their stage. Recovery/disposal codes:
// reception and storage R13 or D15, sorting, compacting and shredding R12 or
// D13, disposal D1-D15, shipping any R or D code.
//
// Idempotency. Transitions and shipments take an idempotency key that is
// stored with them in the same transaction: a retry with the same key and
// request returns the original result; the same key with a different request
// is refused with ErrIdempotencyKeyReused (HTTP 422).
package yard
