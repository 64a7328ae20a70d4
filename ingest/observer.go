package ingest

import (
	"context"
	"time"

	"github.com/revloop/revloop"
)

// Record is what one accepted MQTT message carried, decoded and validated.
// Exactly one of the slices (or Status) is set, matching Channel.
type Record struct {
	Device   revloop.DeviceID
	Channel  revloop.Channel
	Received time.Time // arrival time at ingest, for latency figures only

	Positions []revloop.Position
	Fills     []revloop.FillReading
	Reads     []revloop.RFIDRead
	Weights   []revloop.WeightReading
	Status    *revloop.DeviceStatus
}

// Observer derives domain state from accepted records (geofence events, gate
// passages, weighbridge tickets, device health, alerts). Observe is called
// after the batch holding the records is durably stored and before the MQTT
// messages are acknowledged, so an error makes the batch be delivered again:
// observers must be idempotent (keyed by device and device time) and fast,
// keeping state in memory and writing in batches.
type Observer interface {
	Observe(ctx context.Context, records []Record) error
}

// DeviceChecker says whether a device may publish. A non-empty reason (for
// example "unknown device" or "device revoked") sends the message to the
// dead-letter store with that reason.
type DeviceChecker interface {
	CheckDevice(ctx context.Context, id revloop.DeviceID) (reason string, err error)
}

// Enricher adds what the registry knows about a device to its readings: the
// vehicle a tracker rides on, the bin and site of a fill sensor. It runs
// before the points are built, so the additions become tags. It must be
// fast (cached); an error is logged and the record stored as decoded.
type Enricher interface {
	Enrich(ctx context.Context, rec *Record) error
}
