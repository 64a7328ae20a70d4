package timeseriestest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// Opener returns a fresh, empty store that applies retention in Prune. It
// registers its own cleanup.
type Opener func(t *testing.T, retention timeseries.Retention) timeseries.Store

// Suite configures a run of the contract.
type Suite struct {
	// Open is required.
	Open Opener
	// Reopen, when set, closes s and opens the same data again; the suite
	// then checks that a reopened store keeps every acknowledged point.
	Reopen func(t *testing.T, s timeseries.Store) timeseries.Store
}

// Run runs the contract against stores made by open.
func Run(t *testing.T, open Opener) { Suite{Open: open}.Run(t) }

// Base is the instant around which the suite's points lie.
var Base = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// Run runs the contract.
func (s Suite) Run(t *testing.T) {
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("Overwrite", s.testOverwrite)
	t.Run("OutOfOrder", s.testOutOfOrder)
	t.Run("RangeBoundaries", s.testRange)
	t.Run("LatestPositions", s.testLatest)
	t.Run("SameInstantDifferentTags", s.testSameInstant)
	t.Run("Prune", s.testPrune)
	t.Run("ConcurrentWriters", s.testConcurrent)
	t.Run("RejectsInvalid", s.testInvalid)
	if s.Reopen != nil {
		t.Run("Reopen", s.testReopen)
	}
}

func ptr[T any](v T) *T { return &v }

func at(sec int) time.Time { return Base.Add(time.Duration(sec) * time.Second) }

// FormatPosition prints a position with every value (NaN included) so that
// two positions can be compared as strings.
func FormatPosition(p revloop.Position) string {
	ign := "nil"
	if p.Ignition != nil {
		ign = fmt.Sprint(*p.Ignition)
	}
	return fmt.Sprintf("%s/%s@%s lat=%v lon=%v speed=%v heading=%v hdop=%v sats=%d odo=%v ign=%s",
		p.Device, p.Vehicle, p.Time.UTC().Format(time.RFC3339Nano), p.Lat, p.Lon, p.SpeedKmh, p.HeadingDeg,
		p.HDOP, p.Sats, p.OdometerKm, ign)
}

func formatAll[T any](xs []T, f func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return strings.Join(parts, "\n")
}

func fmtFill(r revloop.FillReading) string {
	return fmt.Sprintf("%s bin=%s site=%s @%s level=%v dist=%v temp=%v batt=%v tilt=%v", r.Device, r.Bin, r.Site,
		r.Time.UTC().Format(time.RFC3339Nano), r.LevelPct, r.DistanceMm, r.TempC, r.BatteryV, r.TiltDeg)
}

func fmtRFID(r revloop.RFIDRead) string {
	return fmt.Sprintf("%s@%s epc=%s ant=%d rssi=%v", r.Device, r.Time.UTC().Format(time.RFC3339Nano), r.EPC, r.Antenna, r.RSSIDbm)
}

func fmtWeight(r revloop.WeightReading) string {
	return fmt.Sprintf("%s@%s kg=%v stable=%v", r.Device, r.Time.UTC().Format(time.RFC3339Nano), r.Kg, r.Stable)
}

func same(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got: %s\nwant: %s", what, strings.ReplaceAll(got, "\n", "\n      "), strings.ReplaceAll(want, "\n", "\n      "))
	}
}

func write(t *testing.T, st timeseries.Store, ps ...timeseries.Point) {
	t.Helper()
	if err := st.Write(context.Background(), ps); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func positions(t *testing.T, st timeseries.Store, d revloop.DeviceID, from, to time.Time) []revloop.Position {
	t.Helper()
	got, err := st.Positions(context.Background(), d, from, to)
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	return got
}

func pos(dev string, sec int, lat float64) revloop.Position {
	return revloop.Position{
		Device: revloop.DeviceID(dev), Vehicle: "veh-" + dev, Time: at(sec),
		Lat: lat, Lon: 4.9 + lat/100, SpeedKmh: 50, HeadingDeg: 90, HDOP: 0.8, Sats: 9, OdometerKm: 1000 + lat,
		Ignition: ptr(true),
	}
}

func (s Suite) testRoundTrip(t *testing.T) {
	st := s.Open(t, nil)
	ctx := context.Background()
	full := revloop.Position{Device: "trk-1", Vehicle: "veh-7", Time: at(0).Add(123456789), Lat: 52.370216, Lon: 4.895168,
		SpeedKmh: 48.25, HeadingDeg: 271.5, HDOP: 0.7, Sats: 12, OdometerKm: 120345.125, Ignition: ptr(false)}
	sparse := revloop.Position{Device: "trk-1", Time: at(1), Lat: -33.8688, Lon: 151.2093,
		SpeedKmh: 0, HeadingDeg: math.NaN(), HDOP: math.NaN(), Sats: -1, OdometerKm: math.NaN()}
	fills := []revloop.FillReading{
		{Device: "bin-1", Bin: "b-17", Site: "s-3", Time: at(0), LevelPct: 42.5, DistanceMm: 812, TempC: 18.25, BatteryV: 3.61, TiltDeg: 2},
		{Device: "bin-1", Bin: "b-17", Site: "s-3", Time: at(600), LevelPct: 47, DistanceMm: 760, TempC: 19, BatteryV: 3.6, TiltDeg: math.NaN()},
	}
	reads := []revloop.RFIDRead{
		{Device: "gate-1", Time: at(0), EPC: "E2801160600002084A4F1A3C", Antenna: 1, RSSIDbm: -61.5},
		{Device: "gate-1", Time: at(2), EPC: "E2801160600002084A4F1A3D", Antenna: 2, RSSIDbm: -70},
	}
	weights := []revloop.WeightReading{
		{Device: "scale-1", Time: at(0), Kg: 14520, Stable: false},
		{Device: "scale-1", Time: at(5), Kg: 14560.5, Stable: true},
	}
	status := revloop.DeviceStatus{Device: "trk-1", Time: at(0), BatteryV: 12.6, RSSIDbm: -80, Firmware: "1.4.2", UptimeS: 3600, Online: true, ConfigVersion: 3}

	var batch []timeseries.Point
	batch = append(batch, timeseries.PositionPoint(full), timeseries.PositionPoint(sparse), timeseries.StatusPoint(status))
	for _, f := range fills {
		batch = append(batch, timeseries.FillPoint(f))
	}
	for _, r := range reads {
		batch = append(batch, timeseries.RFIDPoint(r))
	}
	for _, w := range weights {
		batch = append(batch, timeseries.WeightPoint(w))
	}
	write(t, st, batch...)

	from, to := at(-3600), at(3600)
	tests := []struct {
		name      string
		got, want string
	}{
		{"position", func() string {
			return formatAll(positions(t, st, "trk-1", from, to), FormatPosition)
		}(), formatAll([]revloop.Position{full, sparse}, FormatPosition)},
		{"fill", func() string {
			got, err := st.FillHistory(ctx, "bin-1", from, to)
			if err != nil {
				t.Fatalf("FillHistory: %v", err)
			}
			return formatAll(got, fmtFill)
		}(), formatAll(fills, fmtFill)},
		{"rfid_read", func() string {
			got, err := st.RFIDReads(ctx, "gate-1", from, to)
			if err != nil {
				t.Fatalf("RFIDReads: %v", err)
			}
			return formatAll(got, fmtRFID)
		}(), formatAll(reads, fmtRFID)},
		{"weight", func() string {
			got, err := st.Weights(ctx, "scale-1", from, to)
			if err != nil {
				t.Fatalf("Weights: %v", err)
			}
			return formatAll(got, fmtWeight)
		}(), formatAll(weights, fmtWeight)},
		{"other device is empty", func() string {
			return formatAll(positions(t, st, "trk-2", from, to), FormatPosition)
		}(), ""},
		{"other measurement's device is empty", func() string {
			return formatAll(positions(t, st, "bin-1", from, to), FormatPosition)
		}(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { same(t, tc.name, tc.got, tc.want) })
	}
}

func (s Suite) testOverwrite(t *testing.T) {
	st := s.Open(t, nil)
	first := pos("trk-1", 10, 52.1)
	second := pos("trk-1", 10, 52.2)
	second.SpeedKmh = 0
	second.Ignition = ptr(false)
	other := pos("trk-1", 11, 52.3)
	write(t, st, timeseries.PositionPoint(first), timeseries.PositionPoint(other))
	write(t, st, timeseries.PositionPoint(second))
	// A redelivered batch is harmless.
	write(t, st, timeseries.PositionPoint(second), timeseries.PositionPoint(other))
	// Two copies inside one batch: the later wins.
	third := pos("trk-1", 12, 52.4)
	fourth := pos("trk-1", 12, 52.5)
	write(t, st, timeseries.PositionPoint(third), timeseries.PositionPoint(fourth))

	got := positions(t, st, "trk-1", at(0), at(60))
	same(t, "positions", formatAll(got, FormatPosition), formatAll([]revloop.Position{second, other, fourth}, FormatPosition))
}

func (s Suite) testOutOfOrder(t *testing.T) {
	st := s.Open(t, nil)
	// A burst after a dead zone arrives newest first, then a late batch
	// fills the gap, with one fix from the previous hour.
	write(t, st, timeseries.PositionPoint(pos("trk-1", 30, 3)), timeseries.PositionPoint(pos("trk-1", 10, 1)))
	write(t, st, timeseries.PositionPoint(pos("trk-1", 20, 2)), timeseries.PositionPoint(pos("trk-1", -3600, 0)))
	write(t, st, timeseries.PositionPoint(pos("trk-1", 40, 4)))
	got := positions(t, st, "trk-1", at(-7200), at(7200))
	want := []revloop.Position{pos("trk-1", -3600, 0), pos("trk-1", 10, 1), pos("trk-1", 20, 2), pos("trk-1", 30, 3), pos("trk-1", 40, 4)}
	same(t, "positions", formatAll(got, FormatPosition), formatAll(want, FormatPosition))
}

func (s Suite) testRange(t *testing.T) {
	st := s.Open(t, nil)
	var ps []timeseries.Point
	all := []revloop.Position{pos("trk-1", 0, 0), pos("trk-1", 1, 1), pos("trk-1", 2, 2), pos("trk-1", 3600, 3), pos("trk-1", 7201, 4)}
	for _, p := range all {
		ps = append(ps, timeseries.PositionPoint(p))
	}
	write(t, st, ps...)
	tests := []struct {
		name     string
		from, to time.Time
		want     []revloop.Position
	}{
		{"from is inclusive, to exclusive", at(1), at(2), all[1:2]},
		{"one nanosecond before to", at(1), at(2).Add(time.Nanosecond), all[1:3]},
		{"from one nanosecond late", at(0).Add(time.Nanosecond), at(3), all[1:3]},
		{"empty range", at(1), at(1), nil},
		{"inverted range", at(3), at(1), nil},
		{"across buckets", at(2), at(7202), all[2:]},
		{"everything", at(-86400), at(86400), all},
		{"before everything", at(-86400), at(-1), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			same(t, "positions", formatAll(positions(t, st, "trk-1", tc.from, tc.to), FormatPosition), formatAll(tc.want, FormatPosition))
		})
	}
}

func (s Suite) testLatest(t *testing.T) {
	st := s.Open(t, nil)
	ctx := context.Background()
	write(t, st,
		timeseries.PositionPoint(pos("trk-a", 20, 1)),
		timeseries.PositionPoint(pos("trk-a", 10, 2)),
		timeseries.PositionPoint(pos("trk-b", 5, 3)),
		timeseries.FillPoint(revloop.FillReading{Device: "bin-1", Time: at(50), LevelPct: 10}),
	)
	// A late, older fix does not replace the latest one.
	write(t, st, timeseries.PositionPoint(pos("trk-b", 7, 4)), timeseries.PositionPoint(pos("trk-c", 1, 5)),
		timeseries.PositionPoint(pos("trk-b", 6, 6)))
	lateB := pos("trk-b", 7, 7)
	lateB.Ignition = ptr(false)
	write(t, st, timeseries.PositionPoint(lateB)) // rewrite of the latest fix
	tests := []struct {
		name    string
		devices []revloop.DeviceID
		want    []revloop.Position
	}{
		{"all devices, sorted", nil, []revloop.Position{pos("trk-a", 20, 1), lateB, pos("trk-c", 1, 5)}},
		{"named devices", []revloop.DeviceID{"trk-c", "trk-a"}, []revloop.Position{pos("trk-a", 20, 1), pos("trk-c", 1, 5)}},
		{"unknown device", []revloop.DeviceID{"trk-z"}, nil},
		{"not a tracker", []revloop.DeviceID{"bin-1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.LatestPositions(ctx, tc.devices...)
			if err != nil {
				t.Fatalf("LatestPositions: %v", err)
			}
			same(t, "latest", formatAll(got, FormatPosition), formatAll(tc.want, FormatPosition))
		})
	}
}

func (s Suite) testSameInstant(t *testing.T) {
	st := s.Open(t, nil)
	// Two antennas of one gate see tags at the same instant: both reads stay.
	reads := []revloop.RFIDRead{
		{Device: "gate-1", Time: at(0), EPC: "E200001", Antenna: 1, RSSIDbm: -60},
		{Device: "gate-1", Time: at(0), EPC: "E200002", Antenna: 2, RSSIDbm: -65},
	}
	write(t, st, timeseries.RFIDPoint(reads[1]), timeseries.RFIDPoint(reads[0]))
	got, err := st.RFIDReads(context.Background(), "gate-1", at(0), at(1))
	if err != nil {
		t.Fatalf("RFIDReads: %v", err)
	}
	same(t, "reads", formatAll(got, fmtRFID), formatAll(reads, fmtRFID))
}

func (s Suite) testPrune(t *testing.T) {
	st := s.Open(t, timeseries.Retention{revloop.MeasurementPosition: 24 * time.Hour, revloop.MeasurementWeight: 0})
	ctx := context.Background()
	now := at(0)
	old := pos("trk-1", -48*3600, 1)
	edge := pos("trk-1", -24*3600, 2) // exactly at the cutoff: kept
	fresh := pos("trk-1", -3600, 3)
	gone := pos("trk-2", -30*3600, 4) // a device whose every fix is old
	oldWeight := revloop.WeightReading{Device: "scale-1", Time: at(-48 * 3600), Kg: 100, Stable: true}
	oldFill := revloop.FillReading{Device: "bin-1", Time: at(-48 * 3600), LevelPct: 5, DistanceMm: 900, TempC: 10, BatteryV: 3.6, TiltDeg: 0}
	write(t, st, timeseries.PositionPoint(old), timeseries.PositionPoint(edge), timeseries.PositionPoint(fresh),
		timeseries.PositionPoint(gone), timeseries.WeightPoint(oldWeight), timeseries.FillPoint(oldFill))
	// One fix just before the cutoff in the same hour as the cutoff.
	justOld := pos("trk-1", -24*3600-1, 5)
	write(t, st, timeseries.PositionPoint(justOld))

	if err := st.Prune(ctx, now); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	same(t, "trk-1 positions", formatAll(positions(t, st, "trk-1", at(-100*3600), at(3600)), FormatPosition),
		formatAll([]revloop.Position{edge, fresh}, FormatPosition))
	same(t, "trk-2 positions", formatAll(positions(t, st, "trk-2", at(-100*3600), at(3600)), FormatPosition), "")
	latest, err := st.LatestPositions(ctx)
	if err != nil {
		t.Fatalf("LatestPositions: %v", err)
	}
	same(t, "latest", formatAll(latest, FormatPosition), FormatPosition(fresh))
	w, err := st.Weights(ctx, "scale-1", at(-100*3600), at(3600))
	if err != nil {
		t.Fatalf("Weights: %v", err)
	}
	same(t, "weights (kept forever)", formatAll(w, fmtWeight), fmtWeight(oldWeight))
	f, err := st.FillHistory(ctx, "bin-1", at(-100*3600), at(3600))
	if err != nil {
		t.Fatalf("FillHistory: %v", err)
	}
	same(t, "fill (no retention)", formatAll(f, fmtFill), fmtFill(oldFill))
	// Writing after a prune works and pruning twice is harmless.
	write(t, st, timeseries.PositionPoint(pos("trk-1", 0, 6)))
	if err := st.Prune(ctx, now); err != nil {
		t.Fatalf("second Prune: %v", err)
	}
	if got := positions(t, st, "trk-1", at(-100*3600), at(3600)); len(got) != 3 {
		t.Errorf("after second prune: %d fixes, want 3", len(got))
	}
}

func (s Suite) testConcurrent(t *testing.T) {
	st := s.Open(t, nil)
	const writers, batches, perBatch = 6, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dev := fmt.Sprintf("trk-%d", w)
			for b := range batches {
				ps := make([]timeseries.Point, perBatch)
				for i := range ps {
					n := b*perBatch + i
					ps[i] = timeseries.PositionPoint(pos(dev, n, float64(n)))
				}
				if err := st.Write(context.Background(), ps); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Write: %v", err)
	}
	for w := range writers {
		dev := revloop.DeviceID(fmt.Sprintf("trk-%d", w))
		got := positions(t, st, dev, at(-1), at(batches*perBatch+1))
		if len(got) != batches*perBatch {
			t.Errorf("%s: %d fixes, want %d", dev, len(got), batches*perBatch)
			continue
		}
		for i, p := range got {
			if !p.Time.Equal(at(i)) || p.Lat != float64(i) {
				t.Errorf("%s fix %d: %s", dev, i, FormatPosition(p))
				break
			}
		}
	}
	latest, err := st.LatestPositions(context.Background())
	if err != nil {
		t.Fatalf("LatestPositions: %v", err)
	}
	if len(latest) != writers {
		t.Fatalf("latest: %d devices, want %d", len(latest), writers)
	}
	for _, p := range latest {
		if !p.Time.Equal(at(batches*perBatch - 1)) {
			t.Errorf("latest of %s at %s", p.Device, p.Time)
		}
	}
}

func (s Suite) testInvalid(t *testing.T) {
	st := s.Open(t, nil)
	good := timeseries.PositionPoint(pos("trk-1", 0, 1))
	tests := []struct {
		name string
		p    timeseries.Point
	}{
		{"NaN field", timeseries.Point{Measurement: "position", Device: "trk-1", Time: at(1), Fields: []timeseries.Field{{Key: "lat", Value: math.NaN()}}}},
		{"bad device", timeseries.Point{Measurement: "position", Device: "Trk 1", Time: at(1), Fields: []timeseries.Field{{Key: "lat", Value: 1.0}}}},
		{"no fields", timeseries.Point{Measurement: "position", Device: "trk-1", Time: at(1)}},
		{"int field", timeseries.Point{Measurement: "position", Device: "trk-1", Time: at(1), Fields: []timeseries.Field{{Key: "sats", Value: 3}}}},
		{"field of the wrong kind", timeseries.Point{Measurement: "position", Device: "trk-1", Time: at(1), Fields: []timeseries.Field{{Key: "sats", Value: 3.0}}}},
		{"zero time", timeseries.Point{Measurement: "position", Device: "trk-1", Fields: []timeseries.Field{{Key: "lat", Value: 1.0}}}},
		{"bad measurement", timeseries.Point{Measurement: "Pos ition", Device: "trk-1", Time: at(1), Fields: []timeseries.Field{{Key: "lat", Value: 1.0}}}},
		{"device tag", timeseries.Point{Measurement: "position", Device: "trk-1", Time: at(1), Tags: []timeseries.Tag{{Key: "device", Value: "x"}}, Fields: []timeseries.Field{{Key: "lat", Value: 1.0}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := st.Write(context.Background(), []timeseries.Point{good, tc.p})
			if err == nil {
				t.Fatal("Write accepted an invalid point")
			}
			var we *timeseries.WriteError
			if !errors.As(err, &we) || timeseries.IsRetryable(err) || !errors.Is(err, timeseries.ErrInvalidPoint) {
				t.Errorf("Write error %v: want a rejected *WriteError wrapping ErrInvalidPoint", err)
			}
		})
	}
	if got := positions(t, st, "trk-1", at(-10), at(10)); len(got) != 0 {
		t.Errorf("a rejected batch stored %d points", len(got))
	}
}

func (s Suite) testReopen(t *testing.T) {
	st := s.Open(t, nil)
	ctx := context.Background()
	var want []revloop.Position
	for i := range 30 {
		p := pos("trk-1", i*600, float64(i)) // spans several buckets
		want = append(want, p)
		write(t, st, timeseries.PositionPoint(p), timeseries.PositionPoint(pos("trk-2", i, float64(i))))
	}
	weights := []revloop.WeightReading{{Device: "scale-1", Time: at(3), Kg: 12.5, Stable: true}}
	write(t, st, timeseries.WeightPoint(weights[0]))
	st = s.Reopen(t, st)
	same(t, "positions after reopen", formatAll(positions(t, st, "trk-1", at(-1), at(86400)), FormatPosition), formatAll(want, FormatPosition))
	latest, err := st.LatestPositions(ctx)
	if err != nil {
		t.Fatalf("LatestPositions: %v", err)
	}
	same(t, "latest after reopen", formatAll(latest, FormatPosition),
		formatAll([]revloop.Position{want[len(want)-1], pos("trk-2", 29, 29)}, FormatPosition))
	w, err := st.Weights(ctx, "scale-1", at(0), at(10))
	if err != nil {
		t.Fatalf("Weights: %v", err)
	}
	same(t, "weights after reopen", formatAll(w, fmtWeight), formatAll(weights, fmtWeight))
	// The reopened store takes writes and rewrites.
	rewrite := pos("trk-1", 0, 99)
	write(t, st, timeseries.PositionPoint(rewrite))
	got := positions(t, st, "trk-1", at(0), at(1))
	same(t, "rewrite after reopen", formatAll(got, FormatPosition), FormatPosition(rewrite))
}

// SortPositions orders positions by device, then time.
func SortPositions(ps []revloop.Position) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Device != ps[j].Device {
			return ps[i].Device < ps[j].Device
		}
		return ps[i].Time.Before(ps[j].Time)
	})
}
