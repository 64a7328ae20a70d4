package ingest

import (
	"testing"
	"time"

	"github.com/revloop/revloop"
)

// TestAppendPointsSpreadsSameInstantReads checks that tag reads of one
// message sharing antenna and instant get distinct timestamps, a
// nanosecond apart in payload order, and that other reads keep theirs.
func TestAppendPointsSpreadsSameInstantReads(t *testing.T) {
	t0 := time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC)
	read := func(ant int, at time.Time) revloop.RFIDRead {
		return revloop.RFIDRead{Device: "gate-1", Time: at, EPC: "E280", Antenna: ant, RSSIDbm: -60}
	}
	ms := time.Millisecond
	cases := []struct {
		name  string
		reads []revloop.RFIDRead
		want  []time.Duration // offset of each point from t0
	}{
		{"one read", []revloop.RFIDRead{read(1, t0)}, []time.Duration{0}},
		{"same antenna and instant", []revloop.RFIDRead{read(1, t0), read(1, t0), read(1, t0)}, []time.Duration{0, 1, 2}},
		{"other antenna or instant untouched",
			[]revloop.RFIDRead{read(1, t0), read(2, t0), read(1, t0.Add(ms)), read(1, t0), read(2, t0)},
			[]time.Duration{0, 0, ms, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pts := AppendPoints(nil, &Record{Reads: c.reads})
			if len(pts) != len(c.want) {
				t.Fatalf("%d points, want %d", len(pts), len(c.want))
			}
			for i, p := range pts {
				if got := p.Time.Sub(t0); got != c.want[i] {
					t.Errorf("point %d at t0%+v, want t0%+v", i, got, c.want[i])
				}
			}
			// A redelivery maps to the same points.
			again := AppendPoints(nil, &Record{Reads: c.reads})
			for i := range pts {
				if !again[i].Time.Equal(pts[i].Time) {
					t.Errorf("redelivery: point %d at %v, first time %v", i, again[i].Time, pts[i].Time)
				}
			}
		})
	}
}
