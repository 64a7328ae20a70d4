package hx711

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/revloop/revloop/firmware-bridge/drivers/internal/loop"
	"periph.io/x/conn/v3/gpio"
)

// Sentinel errors.
var (
	ErrNotReady      = errors.New("hx711: no conversion ready (DOUT stayed high)")
	ErrSaturated     = errors.New("hx711: value saturated")
	ErrPulseTooLong  = errors.New("hx711: PD_SCK high too long, chip may have powered down")
	ErrNotCalibrated = errors.New("hx711: calibration mass too small for the reading")
	errRunning       = errors.New("hx711: already sensing continuously")
)

// Opts configure a Dev.
type Opts struct {
	// Gain is 128 (channel A), 64 (channel A) or 32 (channel B); default 128.
	Gain int
	// Samples are averaged per Sense; default 3.
	Samples int
	// ReadyTimeout bounds the wait for DOUT low; default 500 ms.
	ReadyTimeout time.Duration
	// PollEvery is the DOUT poll period while waiting; default 2 ms.
	PollEvery time.Duration
	// MaxPulseHigh is the longest accepted PD_SCK high phase; default 50 µs.
	MaxPulseHigh time.Duration
	// Retries of a transfer spoilt by a long pulse; default 3.
	Retries int
	// Offset is the raw value at zero load (tare).
	Offset int32
	// CountsPerKg is the calibration factor; default 1 (raw counts).
	CountsPerKg float64
	// StableWindow is the number of weights compared for stability; default 5.
	StableWindow int
	// StableToleranceKg is the spread allowed in the window; default 0.05.
	StableToleranceKg float64
}

// DefaultOpts are the recommended options.
var DefaultOpts = Opts{Gain: 128, Samples: 3, ReadyTimeout: 500 * time.Millisecond, PollEvery: 2 * time.Millisecond,
	MaxPulseHigh: 50 * time.Microsecond, Retries: 3, CountsPerKg: 1, StableWindow: 5, StableToleranceKg: 0.05}

func (o *Opts) defaults() {
	d := DefaultOpts
	o.Gain = cmp.Or(o.Gain, d.Gain)
	o.Samples = cmp.Or(o.Samples, d.Samples)
	o.ReadyTimeout = cmp.Or(o.ReadyTimeout, d.ReadyTimeout)
	o.PollEvery = cmp.Or(o.PollEvery, d.PollEvery)
	o.MaxPulseHigh = cmp.Or(o.MaxPulseHigh, d.MaxPulseHigh)
	o.Retries = cmp.Or(o.Retries, d.Retries)
	o.CountsPerKg = cmp.Or(o.CountsPerKg, d.CountsPerKg)
	o.StableWindow = cmp.Or(o.StableWindow, d.StableWindow)
	o.StableToleranceKg = cmp.Or(o.StableToleranceKg, d.StableToleranceKg)
}

// Weight is one reading.
type Weight struct {
	Kg     float64
	Raw    int32 // averaged raw value
	Stable bool
}

// Dev is an HX711 on two GPIO lines.
type Dev struct {
	dout    gpio.PinIn
	sck     gpio.PinOut
	opts    Opts
	extra   int // pulses after the 24 data bits
	doSleep func(time.Duration)
	now     func() time.Time

	mu     sync.Mutex
	window []float64
	loop   loop.Loop[Weight]
}

// New powers the chip up, waits for its first conversion (the probe) and
// selects the gain.
func New(dout gpio.PinIn, sck gpio.PinOut, opts *Opts) (*Dev, error) {
	return newDev(dout, sck, opts, time.Sleep, time.Now)
}

func newDev(dout gpio.PinIn, sck gpio.PinOut, opts *Opts, sleep func(time.Duration), now func() time.Time) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		o.defaults()
	}
	d := &Dev{dout: dout, sck: sck, opts: o, doSleep: sleep, now: now}
	switch o.Gain {
	case 128:
		d.extra = 1
	case 32:
		d.extra = 2
	case 64:
		d.extra = 3
	default:
		return nil, fmt.Errorf("hx711: gain %d: want 128, 64 or 32", o.Gain)
	}
	if o.CountsPerKg == 0 || o.Samples < 1 || o.StableWindow < 1 {
		return nil, fmt.Errorf("hx711: options: counts per kg %v, samples %d, stable window %d", o.CountsPerKg, o.Samples, o.StableWindow)
	}
	if err := dout.In(gpio.PullUp, gpio.NoEdge); err != nil {
		return nil, fmt.Errorf("hx711: configure DOUT %s: %w", dout, err)
	}
	if err := sck.Out(gpio.Low); err != nil {
		return nil, fmt.Errorf("hx711: configure PD_SCK %s: %w", sck, err)
	}
	// The first conversion after power-up uses A/128; reading it selects
	// the configured gain for the next one.
	if _, err := d.ReadRaw(); err != nil {
		return nil, fmt.Errorf("hx711: probe: %w", err)
	}
	return d, nil
}

// String implements conn.Resource.
func (d *Dev) String() string { return fmt.Sprintf("hx711(%s,%s)", d.dout, d.sck) }

func (d *Dev) waitReady() error {
	for waited := time.Duration(0); ; waited += d.opts.PollEvery {
		if d.dout.Read() == gpio.Low {
			return nil
		}
		if waited >= d.opts.ReadyTimeout {
			return fmt.Errorf("%w within %v", ErrNotReady, d.opts.ReadyTimeout)
		}
		d.doSleep(d.opts.PollEvery)
	}
}

// ReadRaw waits for a conversion and returns its signed 24-bit value.
func (d *Dev) ReadRaw() (int32, error) {
	var err error
	for try := 0; try <= d.opts.Retries; try++ {
		if err = d.waitReady(); err != nil {
			// A chip left mid-transfer holds DOUT at a data bit: reset it
			// once before giving up.
			if err2 := d.reset(); err2 != nil {
				return 0, err2
			}
			if err = d.waitReady(); err != nil {
				return 0, err
			}
		}
		var v int32
		if v, err = d.transfer(); err == nil {
			if v == 0x7FFFFF || v == -0x800000 {
				return v, fmt.Errorf("%w: 0x%06X", ErrSaturated, uint32(v)&0xFFFFFF)
			}
			return v, nil
		}
		if !errors.Is(err, ErrPulseTooLong) {
			return 0, err
		}
		// The transfer is spoilt and the chip may be mid-transfer or powered
		// down: reset it (PD_SCK high for over 60 µs, then low) and wait for
		// a fresh conversion.
		if err2 := d.reset(); err2 != nil {
			return 0, err2
		}
	}
	return 0, err
}

func (d *Dev) reset() error {
	if err := d.sck.Out(gpio.High); err != nil {
		return fmt.Errorf("hx711: reset: %w", err)
	}
	d.doSleep(100 * time.Microsecond)
	if err := d.sck.Out(gpio.Low); err != nil {
		return fmt.Errorf("hx711: reset: %w", err)
	}
	return nil
}

func (d *Dev) transfer() (int32, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var v uint32
	for i := 0; i < 24+d.extra; i++ {
		// t0 is taken before the rising edge so that the measured window
		// contains the whole high phase the chip sees.
		t0 := d.now()
		if err := d.sck.Out(gpio.High); err != nil {
			return 0, fmt.Errorf("hx711: PD_SCK high: %w", err)
		}
		if i < 24 {
			v <<= 1
			if d.dout.Read() == gpio.High {
				v |= 1
			}
		}
		if err := d.sck.Out(gpio.Low); err != nil {
			return 0, fmt.Errorf("hx711: PD_SCK low: %w", err)
		}
		if d.now().Sub(t0) > d.opts.MaxPulseHigh {
			return 0, ErrPulseTooLong
		}
	}
	return int32(v<<8) >> 8, nil
}

func (d *Dev) average(n int) (float64, error) {
	var sum float64
	for i := 0; i < n; i++ {
		v, err := d.ReadRaw()
		if err != nil {
			return 0, err
		}
		sum += float64(v)
	}
	return sum / float64(n), nil
}

// Tare sets the zero offset from the average of n readings.
func (d *Dev) Tare(n int) error {
	avg, err := d.average(n)
	if err != nil {
		return fmt.Errorf("hx711: tare: %w", err)
	}
	d.mu.Lock()
	d.opts.Offset = int32(avg)
	d.window = d.window[:0]
	d.mu.Unlock()
	return nil
}

// Calibrate sets CountsPerKg from the average of n readings with knownKg on
// the scale (after Tare).
func (d *Dev) Calibrate(knownKg float64, n int) error {
	avg, err := d.average(n)
	if err != nil {
		return fmt.Errorf("hx711: calibrate: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	counts := (avg - float64(d.opts.Offset)) / knownKg
	if knownKg <= 0 || counts > -1 && counts < 1 {
		return fmt.Errorf("%w: %v kg gave %.1f counts over the tare", ErrNotCalibrated, knownKg, avg-float64(d.opts.Offset))
	}
	d.opts.CountsPerKg = counts
	d.window = d.window[:0]
	return nil
}

// Calibration returns the offset and factor in use.
func (d *Dev) Calibration() (offset int32, countsPerKg float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opts.Offset, d.opts.CountsPerKg
}

// SetStableToleranceKg changes the stability tolerance at run time.
func (d *Dev) SetStableToleranceKg(kg float64) {
	d.mu.Lock()
	d.opts.StableToleranceKg = kg
	d.mu.Unlock()
}

// Sense averages Opts.Samples readings into w.
func (d *Dev) Sense(w *Weight) error {
	avg, err := d.average(d.opts.Samples)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	kg := (avg - float64(d.opts.Offset)) / d.opts.CountsPerKg
	d.window = append(d.window, kg)
	if len(d.window) > d.opts.StableWindow {
		d.window = d.window[len(d.window)-d.opts.StableWindow:]
	}
	lo, hi := kg, kg
	for _, x := range d.window {
		lo, hi = min(lo, x), max(hi, x)
	}
	*w = Weight{Kg: kg, Raw: int32(avg), Stable: len(d.window) == d.opts.StableWindow && hi-lo <= d.opts.StableToleranceKg}
	return nil
}

// SenseContinuous senses every interval until Halt; errors end the stream.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan Weight, error) {
	ch, err := d.loop.Start(interval, func() (Weight, bool) {
		var w Weight
		return w, d.Sense(&w) == nil
	})
	if errors.Is(err, loop.ErrRunning) {
		return nil, errRunning
	}
	return ch, err
}

// Halt stops continuous sensing and powers the chip down (PD_SCK high).
func (d *Dev) Halt() error {
	d.loop.Stop()
	if err := d.sck.Out(gpio.High); err != nil {
		return fmt.Errorf("hx711: power down: %w", err)
	}
	return nil
}
