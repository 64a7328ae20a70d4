package ingest

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/timeseries"
)

// wantPoints builds rec's points with the timeseries constructors, the
// reference AppendPoints must match.
func wantPoints(rec *Record) []timeseries.Point {
	var out []timeseries.Point
	for _, p := range rec.Positions {
		out = append(out, timeseries.PositionPoint(p))
	}
	for _, f := range rec.Fills {
		out = append(out, timeseries.FillPoint(f))
	}
	seen := map[[2]int64]int{}
	for _, r := range rec.Reads {
		k := [2]int64{int64(r.Antenna), r.Time.UnixNano()}
		r.Time = r.Time.Add(time.Duration(seen[k]))
		seen[k]++
		out = append(out, timeseries.RFIDPoint(r))
	}
	for _, w := range rec.Weights {
		out = append(out, timeseries.WeightPoint(w))
	}
	if rec.Status != nil {
		out = append(out, timeseries.StatusPoint(*rec.Status))
	}
	return out
}

func checkPoints(t *testing.T, rec *Record) {
	t.Helper()
	got, want := AppendPoints(nil, rec), wantPoints(rec)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AppendPoints:\n got %+v\nwant %+v", got, want)
	}
	// Appending to one point's fields or tags leaves the others alone.
	for i := range got {
		got[i].Fields = append(got[i].Fields, timeseries.Field{Key: "x", Value: 1.5})
		got[i].Tags = append(got[i].Tags, timeseries.Tag{Key: "x", Value: "y"})
	}
	for i := range got {
		if !reflect.DeepEqual(got[i].Fields[:len(got[i].Fields)-1], want[i].Fields) {
			t.Fatalf("point %d fields changed by appending to another: %+v", i, got[i].Fields)
		}
	}
}

func TestAppendPointsMatchesTimeseries(t *testing.T) {
	t0 := time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC)
	yes, no := true, false
	nan := math.NaN()
	reads := func(n int) []revloop.RFIDRead {
		var rs []revloop.RFIDRead
		for i := range n {
			rs = append(rs, revloop.RFIDRead{Device: "gate-1", Time: t0.Add(time.Duration(i%3) * time.Millisecond), EPC: "E280", Antenna: i % 2, RSSIDbm: -60})
		}
		return rs
	}
	cases := []struct {
		name string
		rec  Record
	}{
		{"empty", Record{}},
		{"full fix with vehicle", Record{Positions: []revloop.Position{{Device: "trk-1", Vehicle: "v-9", Time: t0, Lat: 51, Lon: 3.7, SpeedKmh: 0, HeadingDeg: 12, HDOP: 1.2, Sats: 255, OdometerKm: 1e6, Ignition: &yes}}}},
		{"sparse fixes", Record{Positions: []revloop.Position{
			{Device: "trk-1", Time: t0, Lat: 51, Lon: 3.7, SpeedKmh: nan, HeadingDeg: math.Inf(1), HDOP: nan, Sats: -1, OdometerKm: nan},
			{Device: "trk-1", Time: t0.Add(time.Second), Lat: -0.0, Lon: 3.7, SpeedKmh: 1, HeadingDeg: nan, HDOP: nan, Sats: 3, OdometerKm: nan, Ignition: &no},
		}}},
		{"fills with tags", Record{Fills: []revloop.FillReading{
			{Device: "f-1", Bin: "b-1", Site: "s-1", Time: t0, LevelPct: 40, DistanceMm: nan, TempC: -3, BatteryV: nan, TiltDeg: 0},
			{Device: "f-1", Site: "s-1", Time: t0, LevelPct: nan, DistanceMm: nan, TempC: nan, BatteryV: nan, TiltDeg: nan},
			{Device: "f-1", Bin: "b-2", Time: t0, LevelPct: 1, DistanceMm: 2, TempC: 3, BatteryV: 4, TiltDeg: 5},
		}}},
		{"rfid same instant", Record{Reads: reads(7)}},
		{"rfid over the scan limit", Record{Reads: reads(maxScanReads + 9)}},
		{"weights", Record{Weights: []revloop.WeightReading{{Device: "s-1", Time: t0, Kg: 12840.5, Stable: true}, {Device: "s-1", Time: t0, Kg: nan}}}},
		{"status full", Record{Status: &revloop.DeviceStatus{Device: "d", Time: t0, BatteryV: 3.6, RSSIDbm: -80, Firmware: "1.2", UptimeS: 5, Online: true, ConfigVersion: 1 << 40}}},
		{"status sparse", Record{Status: &revloop.DeviceStatus{Device: "d", Time: t0, BatteryV: nan, RSSIDbm: nan, UptimeS: nan}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkPoints(t, &c.rec) })
	}
	t.Run("simulated mix", func(t *testing.T) {
		for _, m := range sim.Messages(2, 3000, 0) {
			rec, err := Decode(m.Topic, m.Payload, m.SendTime)
			if err != nil {
				t.Fatalf("%s %s: %v", m.Topic, m.Payload, err)
			}
			checkPoints(t, &rec)
		}
	})
}
