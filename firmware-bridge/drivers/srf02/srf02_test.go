package srf02

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/firmware-bridge/bustest"
)

var update = flag.Bool("update", false, "rewrite testdata transcripts")

const addr = 0x70

func probe(rev, reg1 byte) bustest.Op {
	return bustest.Op{Addr: addr, W: []byte{0}, R: []byte{rev, reg1}}
}

// ranging is the ops of one ranging that reads cm, busy for busyPolls polls.
func ranging(cm int, busyPolls int) []bustest.Op {
	ops := []bustest.Op{{Addr: addr, W: []byte{0x00, 0x51}}}
	for i := 0; i < busyPolls; i++ {
		ops = append(ops, bustest.Op{Addr: addr, W: []byte{0}, R: []byte{0xFF}})
	}
	ops = append(ops, bustest.Op{Addr: addr, W: []byte{0}, R: []byte{0x06}})
	return append(ops, bustest.Op{Addr: addr, W: []byte{2}, R: []byte{byte(cm >> 8), byte(cm)}})
}

func transcript(ops ...[]bustest.Op) bustest.Transcript {
	t := bustest.Transcript{Bus: "i2c", Device: "srf02"}
	for _, o := range ops {
		t.Ops = append(t.Ops, o...)
	}
	return t
}

func newDev(t *testing.T, tr bustest.Transcript) (*Dev, *bustest.I2CBus, *[]time.Duration) {
	t.Helper()
	b := tr.I2C()
	d, err := New(b, nil)
	if err != nil {
		return nil, b, nil
	}
	var slept []time.Duration
	d.doSleep = func(d time.Duration) { slept = append(slept, d) }
	return d, b, &slept
}

func TestReplayMedian(t *testing.T) {
	const path = "testdata/bin-half-full.json"
	if *update {
		// Five rangings of a bin lid 1.2 m above the contents: one echo
		// from the wall (35 cm), one lost echo (0), three around 120 cm.
		tr := transcript([]bustest.Op{probe(6, 0x80)}, ranging(121, 1), ranging(35, 0), ranging(0, 2), ranging(119, 0), ranging(120, 0))
		tr.Note = "SRF02 rev 6, five rangings in cm with a wall echo and a lost echo"
		if err := bustest.Save(path, tr); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := bustest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, b, slept := newDev(t, tr)
	if d == nil {
		t.Fatal("New failed")
	}
	var r Reading
	if err := d.Sense(&r); err != nil {
		t.Fatalf("Sense: %v", err)
	}
	// Plausible: 1210, 350, 1190, 1200 (0 dropped): median 1195.
	if r.DistanceMm != 1195 || r.Samples != 4 {
		t.Errorf("reading = %+v, want 1195 mm from 4 samples", r)
	}
	if len(*slept) != 5+3 || (*slept)[0] != 70*time.Millisecond {
		t.Errorf("sleeps = %v, want a 70 ms wait per ranging and 5 ms per busy poll", *slept)
	}
	if err := b.Close(); err != nil {
		t.Error(err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		tr      bustest.Transcript
		sense   bool
		wantErr error
	}{
		{"wrong chip id", transcript([]bustest.Op{probe(6, 0x00)}), false, ErrChipID},
		{"busy at probe", transcript([]bustest.Op{probe(0xFF, 0x80)}), false, ErrChipID},
		{"nack at probe", transcript([]bustest.Op{{Err: "nack"}}), false, bustest.ErrNACK},
		{"nack while ranging", transcript([]bustest.Op{probe(6, 0x80), {Addr: addr, W: []byte{0, 0x51}}, {Err: "nack"}}), true, bustest.ErrNACK},
		{"never finishes", transcript([]bustest.Op{probe(6, 0x80)}, ranging(100, 10)[:11]), true, ErrBusy},
		{"no echoes", transcript([]bustest.Op{probe(6, 0x80)}, ranging(0, 0), ranging(0, 0), ranging(0, 0), ranging(100, 0), ranging(700, 0)), true, ErrNoEcho},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.tr.I2C()
			d, err := New(b, nil)
			if tc.sense {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				d.doSleep = func(time.Duration) {}
				var r Reading
				err = d.Sense(&r)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "srf02: ") && !errors.Is(err, bustest.ErrNACK) {
				t.Errorf("error %q lacks the srf02: prefix", err)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []int
		want float64
	}{
		{"one", []int{5}, 5},
		{"odd unsorted", []int{9, 1, 5}, 5},
		{"even", []int{4, 1, 3, 2}, 2.5},
		{"outlier", []int{1000, 1010, 990, 20000, 1005}, 1005},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Median(tc.in); got != tc.want {
				t.Errorf("Median = %v, want %v", got, tc.want)
			}
		})
	}
}
