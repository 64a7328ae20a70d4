package mcp9808

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/firmware-bridge/bustest"
)

var update = flag.Bool("update", false, "rewrite testdata transcripts")

const addr = 0x18

func probeOps(manuf, dev uint16) []bustest.Op {
	return []bustest.Op{
		{Addr: addr, W: []byte{0x06}, R: []byte{byte(manuf >> 8), byte(manuf)}},
		{Addr: addr, W: []byte{0x07}, R: []byte{byte(dev >> 8), byte(dev)}},
		{Addr: addr, W: []byte{0x08, 0x03}},
		{Addr: addr, W: []byte{0x01, 0x00, 0x00}},
	}
}

func TestReplay(t *testing.T) {
	const path = "testdata/warm-bin.json"
	if *update {
		ops := probeOps(0x0054, 0x0400)
		ops = append(ops,
			bustest.Op{Addr: addr, W: []byte{0x05}, R: []byte{0xC1, 0x94}}, // alert flags + 25.25 °C
			bustest.Op{Addr: addr, W: []byte{0x05}, R: []byte{0x1F, 0xFC}}, // -0.25 °C
			bustest.Op{Addr: addr, W: []byte{0x01, 0x01, 0x00}},            // Halt: shutdown
		)
		if err := bustest.Save(path, bustest.Transcript{Bus: "i2c", Device: "mcp9808", Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := bustest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b := tr.I2C()
	var slept []time.Duration
	d, err := newDev(b, nil, func(d time.Duration) { slept = append(slept, d) })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if len(slept) != 1 || slept[0] != 250*time.Millisecond {
		t.Errorf("waits after wake = %v, want one 250 ms conversion", slept)
	}
	for _, want := range []float64{25.25, -0.25} {
		var c float64
		if err := d.Sense(&c); err != nil || c != want {
			t.Errorf("Sense = %v, %v; want %v", c, err, want)
		}
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Error(err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		ops     []bustest.Op
		sense   bool
		wantErr error
		wantMsg string
	}{
		{"wrong manufacturer (a TMP102 answering)", probeOps(0x60A0, 0x0400)[:2], false, ErrChipID, "manufacturer 0x60A0"},
		{"wrong device id", probeOps(0x0054, 0x0500)[:2], false, ErrChipID, "device 0x05"},
		{"nack at probe", []bustest.Op{{Err: "nack"}}, false, bustest.ErrNACK, "probe at 0x18"},
		{"nack on read", append(probeOps(0x0054, 0x0400), bustest.Op{Err: "nack"}), true, bustest.ErrNACK, "read temperature"},
		{"out of range value", append(probeOps(0x0054, 0x0400), bustest.Op{Addr: addr, W: []byte{0x05}, R: []byte{0x0F, 0xFF}}), true, nil, "outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := newDev(bustest.Transcript{Ops: tc.ops}.I2C(), nil, func(time.Duration) {})
			if tc.sense {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				var c float64
				err = d.Sense(&c)
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "mcp9808: ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q: want mcp9808: prefix and %q", err, tc.wantMsg)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		ta   uint16
		want float64
	}{
		{"zero", 0x0000, 0},
		{"25.25 with alert flags", 0xC194, 25.25},
		{"max 0.0625 step", 0x0001, 0.0625},
		{"-0.25", 0x1FFC, -0.25},
		{"-40", 0x1D80, -40},
		{"100", 0x0640, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decode(tc.ta); got != tc.want {
				t.Errorf("Decode(%04X) = %v, want %v", tc.ta, got, tc.want)
			}
		})
	}
}
