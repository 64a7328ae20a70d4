// Package timeseries defines the contract of revloop's time-series store:
// how ingest writes points and what the rest of the system may ask of them.
// Each backend (embedded, InfluxDB) lives in its own subpackage and passes the
// shared contract suite in timeseriestest.
package timeseries

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/revloop/revloop"
)

// Field is one named value of a point: float64, int64, bool or string.
type Field struct {
	Key   string
	Value any
}

// Tag is one indexed label of a point besides its device.
type Tag struct {
	Key, Value string
}

// Point is one stored observation. Its identity is (Measurement, Device,
// Time): writing the same identity again replaces the earlier fields, which
// makes redelivery harmless. Time is always the device's clock.
type Point struct {
	Measurement string
	Device      revloop.DeviceID
	Tags        []Tag // sorted by key; never "device"
	Fields      []Field
	Time        time.Time
}

// Writer stores batches of points durably: when Write returns nil every point
// is on stable storage.
type Writer interface {
	Write(ctx context.Context, points []Point) error
}

// Reader answers the queries the API and the derived-event code need.
type Reader interface {
	// LatestPositions returns the newest fix of every device that has one, or
	// only of the given devices when any are named.
	LatestPositions(ctx context.Context, devices ...revloop.DeviceID) ([]revloop.Position, error)
	// Positions returns a device's fixes with from <= ts < to, oldest first.
	Positions(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.Position, error)
	// FillHistory returns a fill sensor's readings with from <= ts < to, oldest first.
	FillHistory(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.FillReading, error)
	// RFIDReads returns a gate reader's raw reads with from <= ts < to, oldest first.
	RFIDReads(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.RFIDRead, error)
	// Weights returns a scale's readings with from <= ts < to, oldest first.
	Weights(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.WeightReading, error)
}

// Store is a complete backend.
type Store interface {
	Writer
	Reader
	// Prune applies the retention policies: it deletes points older than
	// each measurement's retention as of now.
	Prune(ctx context.Context, now time.Time) error
	Close() error
}

// Retention maps a measurement to how long its points are kept; zero keeps
// them forever.
type Retention map[string]time.Duration

// WriteError is returned by Write when a batch failed. Retryable errors
// (network, 429, 5xx) may succeed if the same batch is written again after
// RetryAfter; the others mean the store rejected the batch's content.
type WriteError struct {
	Err        error
	Retryable  bool
	RetryAfter time.Duration
}

func (e *WriteError) Error() string {
	kind := "rejected"
	if e.Retryable {
		kind = "retryable"
	}
	return fmt.Sprintf("timeseries write (%s): %v", kind, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// IsRetryable reports whether err says the same write may succeed later.
// Errors that are not a *WriteError are treated as retryable (unknown
// failures such as a closed connection must not lose data).
func IsRetryable(err error) bool {
	var we *WriteError
	if errors.As(err, &we) {
		return we.Retryable
	}
	return err != nil
}
