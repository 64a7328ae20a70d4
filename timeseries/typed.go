package timeseries

import (
	"context"
	"time"

	"github.com/revloop/revloop"
)

// PointsReader reads one device's points of one measurement with
// from <= ts < to, oldest first. Each backend implements it.
type PointsReader interface {
	Points(ctx context.Context, measurement string, device revloop.DeviceID, from, to time.Time) ([]Point, error)
}

// Typed gives a PointsReader the typed queries of Reader (all but
// LatestPositions, which each backend answers from its own index). A
// backend embeds it, set to itself.
type Typed struct {
	P PointsReader
}

func typed[T any](ctx context.Context, p PointsReader, m string, d revloop.DeviceID, from, to time.Time, f func(Point) T) ([]T, error) {
	ps, err := p.Points(ctx, m, d, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(ps))
	for i, pt := range ps {
		out[i] = f(pt)
	}
	return out, nil
}

// Positions returns a device's fixes with from <= ts < to, oldest first.
func (t Typed) Positions(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.Position, error) {
	return typed(ctx, t.P, revloop.MeasurementPosition, device, from, to, PointPosition)
}

// FillHistory returns a fill sensor's readings with from <= ts < to, oldest first.
func (t Typed) FillHistory(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.FillReading, error) {
	return typed(ctx, t.P, revloop.MeasurementFill, device, from, to, PointFill)
}

// RFIDReads returns a gate reader's reads with from <= ts < to, oldest first.
func (t Typed) RFIDReads(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.RFIDRead, error) {
	return typed(ctx, t.P, revloop.MeasurementRFIDRead, device, from, to, PointRFID)
}

// Weights returns a scale's readings with from <= ts < to, oldest first.
func (t Typed) Weights(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.WeightReading, error) {
	return typed(ctx, t.P, revloop.MeasurementWeight, device, from, to, PointWeight)
}

// Statuses returns a device's health reports with from <= ts < to, oldest first.
func (t Typed) Statuses(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.DeviceStatus, error) {
	return typed(ctx, t.P, revloop.MeasurementDeviceStatus, device, from, to, PointStatus)
}
