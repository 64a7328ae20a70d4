package timeseries_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestValidate(t *testing.T) {
	ok := timeseries.Point{Measurement: "position", Device: "trk-1", Time: t0,
		Tags: []timeseries.Tag{{Key: "a", Value: "x"}, {Key: "b", Value: "y z"}}, Fields: []timeseries.Field{{Key: "lat", Value: 1.5}}}
	with := func(f func(p *timeseries.Point)) timeseries.Point {
		p := ok
		p.Tags = append([]timeseries.Tag(nil), ok.Tags...)
		p.Fields = append([]timeseries.Field(nil), ok.Fields...)
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		p       timeseries.Point
		wantErr string
	}{
		{"valid", ok, ""},
		{"all field types", with(func(p *timeseries.Point) {
			p.Fields = append(p.Fields, timeseries.Field{Key: "n", Value: int64(3)}, timeseries.Field{Key: "b", Value: true}, timeseries.Field{Key: "s", Value: "v1\tx"})
		}), ""},
		{"empty measurement", with(func(p *timeseries.Point) { p.Measurement = "" }), "measurement"},
		{"upper-case measurement", with(func(p *timeseries.Point) { p.Measurement = "Position" }), "measurement"},
		{"bad device", with(func(p *timeseries.Point) { p.Device = "-x" }), "device id"},
		{"unsorted tags", with(func(p *timeseries.Point) { p.Tags[0], p.Tags[1] = p.Tags[1], p.Tags[0] }), "sorted"},
		{"duplicate tag", with(func(p *timeseries.Point) { p.Tags[1].Key = "a" }), "sorted"},
		{"device tag", with(func(p *timeseries.Point) { p.Tags = []timeseries.Tag{{Key: "device", Value: "x"}} }), "reserved"},
		{"empty tag value", with(func(p *timeseries.Point) { p.Tags[0].Value = "" }), "1 to 256"},
		{"newline in tag", with(func(p *timeseries.Point) { p.Tags[0].Value = "a\nb" }), "control"},
		{"backslash in tag", with(func(p *timeseries.Point) { p.Tags[0].Value = `a\` }), "backslash"},
		{"invalid UTF-8 in tag", with(func(p *timeseries.Point) { p.Tags[0].Value = "\xff" }), "UTF-8"},
		{"no fields", with(func(p *timeseries.Point) { p.Fields = nil }), "no fields"},
		{"duplicate field", with(func(p *timeseries.Point) { p.Fields = append(p.Fields, p.Fields[0]) }), "twice"},
		{"NaN", with(func(p *timeseries.Point) { p.Fields[0].Value = math.NaN() }), "finite"},
		{"Inf", with(func(p *timeseries.Point) { p.Fields[0].Value = math.Inf(-1) }), "finite"},
		{"int (not int64)", with(func(p *timeseries.Point) { p.Fields[0].Value = 1 }), "type int"},
		{"float32", with(func(p *timeseries.Point) { p.Fields[0].Value = float32(1) }), "type float32"},
		{"nil value", with(func(p *timeseries.Point) { p.Fields[0].Value = nil }), "type <nil>"},
		{"newline in string", with(func(p *timeseries.Point) { p.Fields[0].Value = "a\nb" }), "control"},
		{"zero time", with(func(p *timeseries.Point) { p.Time = time.Time{} }), "out of range"},
		{"year 2300", with(func(p *timeseries.Point) { p.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), "out of range"},
		{"schema: sats as float", with(func(p *timeseries.Point) { p.Fields = []timeseries.Field{{Key: "sats", Value: 7.0}} }), "schema says int"},
		{"schema: lat as string", with(func(p *timeseries.Point) { p.Fields[0].Value = "52.1" }), "schema says float"},
		{"schema: unknown field is free", with(func(p *timeseries.Point) { p.Fields = append(p.Fields, timeseries.Field{Key: "fix_mode", Value: "3d"}) }), ""},
		{"schema: unknown measurement is free", with(func(p *timeseries.Point) {
			p.Measurement = "engine"
			p.Fields = []timeseries.Field{{Key: "lat", Value: "x"}}
		}), ""},
		{"bad field key", with(func(p *timeseries.Point) { p.Fields[0].Key = "la t" }), "field key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := timeseries.Validate(tc.p)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, timeseries.ErrInvalidPoint) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate: %v, want ErrInvalidPoint mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateBatch(t *testing.T) {
	good := timeseries.WeightPoint(revloop.WeightReading{Device: "s-1", Time: t0, Kg: 1})
	bad := good
	bad.Device = ""
	err := timeseries.ValidateBatch([]timeseries.Point{good, bad})
	var we *timeseries.WriteError
	if !errors.As(err, &we) || we.Retryable || !strings.Contains(err.Error(), "point 1") {
		t.Fatalf("ValidateBatch: %v, want a rejected WriteError naming point 1", err)
	}
	if err := timeseries.ValidateBatch([]timeseries.Point{good}); err != nil {
		t.Fatalf("ValidateBatch(good): %v", err)
	}
}

func TestConversionsRoundTrip(t *testing.T) {
	ign := true
	positions := []struct {
		name string
		p    revloop.Position
	}{
		{"full", revloop.Position{Device: "trk-1", Vehicle: "v", Time: t0, Lat: 1, Lon: 2, SpeedKmh: 3, HeadingDeg: 4, HDOP: 5, Sats: 6, OdometerKm: 7, Ignition: &ign}},
		{"optional values absent", revloop.Position{Device: "trk-1", Time: t0, Lat: 1, Lon: 2, SpeedKmh: math.NaN(), HeadingDeg: math.NaN(), HDOP: math.NaN(), Sats: -1, OdometerKm: math.NaN()}},
		{"zero sats is a value", revloop.Position{Device: "trk-1", Time: t0, Lat: 0, Lon: 0, Sats: 0}},
	}
	for _, tc := range positions {
		t.Run("position "+tc.name, func(t *testing.T) {
			p := timeseries.PositionPoint(tc.p)
			if err := timeseries.Validate(p); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := timeseries.PointPosition(p)
			if !samePos(got, tc.p) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.p)
			}
		})
	}
	t.Run("fill", func(t *testing.T) {
		r := revloop.FillReading{Device: "bin-1", Bin: "b", Site: "s", Time: t0, LevelPct: 1, DistanceMm: 2, TempC: -3, BatteryV: 4, TiltDeg: 5}
		p := timeseries.FillPoint(r)
		if err := timeseries.Validate(p); err != nil {
			t.Fatal(err)
		}
		if got := timeseries.PointFill(p); got != r {
			t.Fatalf("got %+v want %+v", got, r)
		}
	})
	t.Run("rfid", func(t *testing.T) {
		r := revloop.RFIDRead{Device: "gate-1", Time: t0, EPC: "E2", Antenna: 4, RSSIDbm: -60}
		p := timeseries.RFIDPoint(r)
		if err := timeseries.Validate(p); err != nil {
			t.Fatal(err)
		}
		if got := timeseries.PointRFID(p); got != r {
			t.Fatalf("got %+v want %+v", got, r)
		}
	})
	t.Run("weight", func(t *testing.T) {
		r := revloop.WeightReading{Device: "scale-1", Time: t0, Kg: 12.5, Stable: true}
		if got := timeseries.PointWeight(timeseries.WeightPoint(r)); got != r {
			t.Fatalf("got %+v want %+v", got, r)
		}
	})
	t.Run("status", func(t *testing.T) {
		r := revloop.DeviceStatus{Device: "trk-1", Time: t0, BatteryV: 3.7, RSSIDbm: -80, Firmware: "1.2", UptimeS: 9, Online: true, ConfigVersion: 4}
		p := timeseries.StatusPoint(r)
		if err := timeseries.Validate(p); err != nil {
			t.Fatal(err)
		}
		if got := timeseries.PointStatus(p); got != r {
			t.Fatalf("got %+v want %+v", got, r)
		}
	})
}

func eqf(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func samePos(a, b revloop.Position) bool {
	return a.Device == b.Device && a.Vehicle == b.Vehicle && a.Time.Equal(b.Time) && eqf(a.Lat, b.Lat) && eqf(a.Lon, b.Lon) &&
		eqf(a.SpeedKmh, b.SpeedKmh) && eqf(a.HeadingDeg, b.HeadingDeg) && eqf(a.HDOP, b.HDOP) && a.Sats == b.Sats &&
		eqf(a.OdometerKm, b.OdometerKm) && (a.Ignition == nil) == (b.Ignition == nil) && (a.Ignition == nil || *a.Ignition == *b.Ignition)
}
