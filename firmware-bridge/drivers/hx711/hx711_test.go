package hx711

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/firmware-bridge/sim"
)

// fakeClock advances 1 µs per reading and jumps once at call jumpAt. Chip
// and driver share it: each pulse reads it four times (chip rising edge,
// driver after rising, chip falling edge, driver after falling), so a jump at
// call 4k+3 stretches pulse k+1 for both.
type fakeClock struct {
	t      time.Time
	calls  int
	jumpAt int
}

func (c *fakeClock) now() time.Time {
	c.calls++
	c.t = c.t.Add(time.Microsecond)
	if c.calls == c.jumpAt {
		c.t = c.t.Add(100 * time.Microsecond) // preempted while PD_SCK is high
	}
	return c.t
}

func fakeDev(t *testing.T, chip *sim.HX711, o *Opts, clk *fakeClock) (*Dev, error) {
	t.Helper()
	chip.Now = clk.now
	chip.ConversionPolls = 2
	return newDev(chip.Dout(), chip.Sck(), o, func(d time.Duration) { clk.t = clk.t.Add(d) }, clk.now)
}

func TestTareCalibrateSense(t *testing.T) {
	chip := sim.NewHX711(
		1000,             // probe
		1010, 1020, 1030, // tare: 1020
		21020, 21020, 21020, // calibrate with 2 kg: 10000 counts/kg
		101020, 101120, 100920, // 10.0 kg
		101520, 101520, 101520, // 10.05 kg
		102020, 102020, 102020, // 10.1 kg
		201020, 201020, 201020, // 20 kg: unstable
	)
	clk := &fakeClock{t: time.Unix(0, 0)}
	d, err := fakeDev(t, chip, &Opts{Gain: 64, StableWindow: 3, StableToleranceKg: 0.1}, clk)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if chip.Gain() != 64 {
		t.Errorf("gain after probe = %d, want 64", chip.Gain())
	}
	if err := d.Tare(3); err != nil {
		t.Fatal(err)
	}
	if err := d.Calibrate(2, 3); err != nil {
		t.Fatal(err)
	}
	if off, f := d.Calibration(); off != 1020 || f != 10000 {
		t.Fatalf("calibration = %d, %v", off, f)
	}
	want := []struct {
		kg     float64
		stable bool
	}{{10, false}, {10.05, false}, {10.1, true}, {20, false}}
	for i, w := range want {
		var got Weight
		if err := d.Sense(&got); err != nil {
			t.Fatalf("Sense %d: %v", i, err)
		}
		if math.Abs(got.Kg-w.kg) > 1e-9 || got.Stable != w.stable {
			t.Errorf("Sense %d = %+v, want %v kg stable=%v", i, got, w.kg, w.stable)
		}
	}
	if v := chip.Violations(); len(v) != 0 {
		t.Errorf("protocol violations: %v", v)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
}

func TestTiming(t *testing.T) {
	tests := []struct {
		name       string
		jumpAt     int
		values     []int32
		want       int32
		wantErr    error
		powerDowns int
	}{
		{"clean transfer", 0, []int32{-5000}, -5000, nil, 0},
		{"preempted mid-transfer is reset and retried", 19, []int32{123456}, 123456, nil, 2},
		{"positive saturation", 0, []int32{0x7FFFFF}, 0, ErrSaturated, 0},
		{"negative saturation", 0, []int32{-0x800000}, 0, ErrSaturated, 0},
		{"chip absent (one reset tried)", 0, nil, 0, ErrNotReady, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chip := sim.NewHX711(append([]int32{0}, tc.values...)...)
			clk := &fakeClock{t: time.Unix(0, 0)}
			d, err := fakeDev(t, chip, nil, clk)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			clk.calls = 0
			clk.jumpAt = tc.jumpAt
			v, err := d.ReadRaw()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadRaw error = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "hx711: ") {
				t.Errorf("error %q lacks the hx711: prefix", err)
			}
			if err == nil && v != tc.want {
				t.Errorf("ReadRaw = %d, want %d", v, tc.want)
			}
			if chip.PowerDowns() != tc.powerDowns {
				t.Errorf("power downs = %d, want %d", chip.PowerDowns(), tc.powerDowns)
			}
			if v := chip.Violations(); len(v) != 0 {
				t.Errorf("protocol violations: %v", v)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	if _, err := fakeDev(t, sim.NewHX711(), nil, clk); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "hx711: probe") {
		t.Errorf("absent chip: %v", err)
	}
	if _, err := New(sim.NewHX711(1).Dout(), sim.NewHX711(1).Sck(), &Opts{Gain: 100}); err == nil {
		t.Error("gain 100 accepted")
	}
	chip := sim.NewHX711(0, 0, 0, 0)
	d, err := fakeDev(t, chip, nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Calibrate(1, 3); !errors.Is(err, ErrNotCalibrated) {
		t.Errorf("calibrating without load: %v", err)
	}
}
