package mcp9808

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/revloop/revloop/firmware-bridge/drivers/internal/loop"
	"periph.io/x/conn/v3/i2c"
)

// Registers of the datasheet.
const (
	regConfig     = 0x01
	regAmbient    = 0x05
	regManufID    = 0x06
	regDeviceID   = 0x07
	regResolution = 0x08

	manufID  = 0x0054
	deviceID = 0x04
	shutdown = 0x0100
)

// Sentinel errors.
var (
	ErrChipID  = errors.New("mcp9808: unexpected chip identity")
	errRunning = errors.New("mcp9808: already sensing continuously")
)

// Opts configure a Dev.
type Opts struct {
	// Addr is the 7-bit address, 0x18..0x1F by the A2..A0 pins; default 0x18.
	Addr uint16
	// Resolution is 0 (0.5 °C, 30 ms) .. 3 (0.0625 °C, 250 ms); default 3.
	Resolution byte
}

// convTime is t_CONV by resolution (datasheet table 1-1).
var convTime = [4]time.Duration{30 * time.Millisecond, 65 * time.Millisecond, 130 * time.Millisecond, 250 * time.Millisecond}

// DefaultOpts are the recommended options.
var DefaultOpts = Opts{Addr: 0x18, Resolution: 3}

// Dev is an MCP9808 on an I2C bus.
type Dev struct {
	d       *i2c.Dev
	opts    Opts
	doSleep func(time.Duration)

	loop loop.Loop[float64]
}

// New probes the MCP9808 at opts.Addr, sets its resolution and wakes it.
func New(b i2c.Bus, opts *Opts) (*Dev, error) {
	return newDev(b, opts, time.Sleep)
}

func newDev(b i2c.Bus, opts *Opts, sleep func(time.Duration)) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		o.Addr = cmp.Or(o.Addr, DefaultOpts.Addr)
	}
	if o.Resolution > 3 {
		return nil, fmt.Errorf("mcp9808: resolution %d out of 0..3", o.Resolution)
	}
	d := &Dev{d: &i2c.Dev{Bus: b, Addr: o.Addr}, opts: o, doSleep: sleep}
	m, err := d.read16(regManufID)
	if err != nil {
		return nil, fmt.Errorf("mcp9808: probe at 0x%02X: %w", o.Addr, err)
	}
	id, err := d.read16(regDeviceID)
	if err != nil {
		return nil, fmt.Errorf("mcp9808: probe at 0x%02X: %w", o.Addr, err)
	}
	if m != manufID || id>>8 != deviceID {
		return nil, fmt.Errorf("%w: manufacturer 0x%04X device 0x%02X (want 0x%04X, 0x%02X)", ErrChipID, m, id>>8, manufID, deviceID)
	}
	if err := d.d.Tx([]byte{regResolution, o.Resolution}, nil); err != nil {
		return nil, fmt.Errorf("mcp9808: set resolution: %w", err)
	}
	if err := d.d.Tx([]byte{regConfig, 0x00, 0x00}, nil); err != nil {
		return nil, fmt.Errorf("mcp9808: wake: %w", err)
	}
	// The first conversion after waking takes up to t_CONV (250 ms at
	// 0.0625 °C); before it completes T_A holds a stale value.
	d.doSleep(convTime[o.Resolution])
	return d, nil
}

func (d *Dev) read16(reg byte) (uint16, error) {
	var b [2]byte
	if err := d.d.Tx([]byte{reg}, b[:]); err != nil {
		return 0, err
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// String implements conn.Resource.
func (d *Dev) String() string { return fmt.Sprintf("mcp9808(0x%02X)", d.opts.Addr) }

// Decode converts a T_A register value to degrees Celsius.
func Decode(ta uint16) float64 {
	v := int(ta & 0x1FFF)
	if v&0x1000 != 0 {
		v -= 0x2000
	}
	return float64(v) / 16
}

// Sense reads the ambient temperature in °C.
func (d *Dev) Sense(tempC *float64) error {
	ta, err := d.read16(regAmbient)
	if err != nil {
		return fmt.Errorf("mcp9808: read temperature: %w", err)
	}
	t := Decode(ta)
	if t < -40 || t > 125 {
		return fmt.Errorf("mcp9808: temperature %.4f °C outside the chip's -40..125 °C range", t)
	}
	*tempC = t
	return nil
}

// SenseContinuous senses every interval until Halt; errors end the stream.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan float64, error) {
	ch, err := d.loop.Start(interval, func() (float64, bool) {
		var c float64
		return c, d.Sense(&c) == nil
	})
	if errors.Is(err, loop.ErrRunning) {
		return nil, errRunning
	}
	return ch, err
}

// Halt stops continuous sensing and puts the chip into shutdown.
func (d *Dev) Halt() error {
	d.loop.Stop()
	if err := d.d.Tx([]byte{regConfig, shutdown >> 8, 0x00}, nil); err != nil {
		return fmt.Errorf("mcp9808: shutdown: %w", err)
	}
	return nil
}
