package sim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// HX711 simulates an HX711 load-cell amplifier behind two fake GPIO lines,
// following the datasheet's serial interface: DOUT low when a conversion is
// ready, one bit per PD_SCK rising edge MSB first, 25..27 pulses selecting
// the next gain, PD_SCK high for more than 60 µs powering the chip down.
// It records protocol violations so tests can assert the driver's timing.
type HX711 struct {
	// Now is the clock for the 60 µs power-down rule; nil means time.Now.
	Now func() time.Time
	// ConversionPolls is how many DOUT reads return high (converting) after a
	// transfer before the next conversion is ready.
	ConversionPolls int
	// Value produces conversions once the pushed ones are used up; nil means
	// no more conversions (DOUT stays high).
	Value func() int32

	mu          sync.Mutex
	queue       []int32
	sckHigh     bool
	idleHigh    bool
	highAt      time.Time
	inTransfer  bool
	pulses      int
	cur         uint32
	bit         gpio.Level
	pending     int
	gain        int
	conversions int
	powerDowns  int
	violations  []string
}

// NewHX711 returns a chip that has the given conversions ready in turn.
func NewHX711(values ...int32) *HX711 { return &HX711{queue: values, gain: 128} }

// Push queues more conversions.
func (c *HX711) Push(v ...int32) {
	c.mu.Lock()
	c.queue = append(c.queue, v...)
	c.mu.Unlock()
}

// Gain returns the gain the last transfer selected (128 after power-up).
func (c *HX711) Gain() int { c.mu.Lock(); defer c.mu.Unlock(); return c.gain }

// Conversions returns how many values were shifted out completely.
func (c *HX711) Conversions() int { c.mu.Lock(); defer c.mu.Unlock(); return c.conversions }

// PowerDowns returns how often a long PD_SCK high phase powered the chip down.
func (c *HX711) PowerDowns() int { c.mu.Lock(); defer c.mu.Unlock(); return c.powerDowns }

// Violations returns the protocol violations seen.
func (c *HX711) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

func (c *HX711) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *HX711) next() (int32, bool) {
	if len(c.queue) > 0 {
		return c.queue[0], true
	}
	if c.Value != nil {
		c.queue = append(c.queue, c.Value())
		return c.queue[0], true
	}
	return 0, false
}

func (c *HX711) ready() bool {
	_, ok := c.next()
	return ok && c.pending == 0
}

// finish ends a transfer after its 25..27 pulses.
func (c *HX711) finish() {
	switch c.pulses {
	case 25:
		c.gain = 128
	case 26:
		c.gain = 32
	case 27:
		c.gain = 64
	default:
		c.violations = append(c.violations, fmt.Sprintf("transfer ended after %d pulses, want 25..27", c.pulses))
	}
	c.inTransfer = false
	c.conversions++
	c.queue = c.queue[1:]
	c.pending = c.ConversionPolls
}

func (c *HX711) out(l gpio.Level) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == gpio.High {
		if c.sckHigh {
			return
		}
		c.sckHigh, c.highAt = true, c.now()
		if !c.inTransfer {
			if !c.ready() {
				c.idleHigh = true // a clock pulse or a power-down: the falling edge tells
				return
			}
			v, _ := c.next()
			c.inTransfer, c.pulses, c.cur = true, 0, uint32(v)&0xFFFFFF
		}
		c.pulses++
		if c.pulses > 27 {
			c.violations = append(c.violations, fmt.Sprintf("pulse %d in one transfer", c.pulses))
		}
		if c.pulses <= 24 {
			c.bit = gpio.Level(c.cur>>(24-c.pulses)&1 == 1)
		} else {
			c.bit = gpio.High // the 25th pulse pulls DOUT back high
		}
		return
	}
	if !c.sckHigh {
		return
	}
	c.sckHigh = false
	idle := c.idleHigh
	c.idleHigh = false
	if c.now().Sub(c.highAt) > 60*time.Microsecond {
		// Power down, then up again on this falling edge: the transfer is
		// lost, the gain resets and a new conversion starts.
		c.powerDowns++
		c.inTransfer = false
		c.gain = 128
		c.pending = c.ConversionPolls
		return
	}
	if idle {
		c.violations = append(c.violations, "PD_SCK pulse while no conversion was ready")
		return
	}
	if c.inTransfer && c.pulses == 27 {
		c.finish()
	}
}

func (c *HX711) read() gpio.Level {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inTransfer {
		if !c.sckHigh && c.pulses >= 25 {
			c.finish()
			return gpio.High
		}
		if c.pulses == 0 {
			return gpio.Low
		}
		return c.bit
	}
	if c.sckHigh {
		return gpio.High // powering down
	}
	if c.pending > 0 {
		c.pending--
		return gpio.High
	}
	if c.ready() {
		return gpio.Low
	}
	return gpio.High
}

// Dout returns the chip's DOUT line as a GPIO input.
func (c *HX711) Dout() gpio.PinIn { return &doutPin{pinBase{"HX711_DOUT", 5}, c} }

// Sck returns the chip's PD_SCK line as a GPIO output.
func (c *HX711) Sck() gpio.PinOut { return &sckPin{pinBase{"HX711_PD_SCK", 6}, c} }

type pinBase struct {
	name string
	num  int
}

func (p pinBase) String() string   { return p.name }
func (p pinBase) Halt() error      { return nil }
func (p pinBase) Name() string     { return p.name }
func (p pinBase) Number() int      { return p.num }
func (p pinBase) Function() string { return "" }

type doutPin struct {
	pinBase
	c *HX711
}

func (p *doutPin) In(gpio.Pull, gpio.Edge) error        { return nil }
func (p *doutPin) Read() gpio.Level                     { return p.c.read() }
func (p *doutPin) WaitForEdge(time.Duration) bool       { return false }
func (p *doutPin) Pull() gpio.Pull                      { return gpio.PullUp }
func (p *doutPin) DefaultPull() gpio.Pull               { return gpio.PullUp }
func (p *sckPin) Out(l gpio.Level) error                { p.c.out(l); return nil }
func (p *sckPin) PWM(gpio.Duty, physic.Frequency) error { return errors.New("sim: PD_SCK has no PWM") }

type sckPin struct {
	pinBase
	c *HX711
}

var (
	_ gpio.PinIn  = (*doutPin)(nil)
	_ gpio.PinOut = (*sckPin)(nil)
)
