package sim

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// ErrNACK is returned for an address no simulated chip answers.
var ErrNACK = errors.New("sim: i2c address not acknowledged")

// Chip is a simulated I2C target.
type Chip interface {
	Tx(w, r []byte) error
}

// I2CBus is a simulated I2C bus.
type I2CBus struct {
	mu    sync.Mutex
	chips map[uint16]Chip
	txs   int
}

var _ i2c.BusCloser = (*I2CBus)(nil)

// NewI2CBus returns an empty bus.
func NewI2CBus() *I2CBus { return &I2CBus{chips: map[uint16]Chip{}} }

// Attach puts c at addr.
func (b *I2CBus) Attach(addr uint16, c Chip) {
	b.mu.Lock()
	b.chips[addr] = c
	b.mu.Unlock()
}

// Tx implements i2c.Bus.
func (b *I2CBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	c, ok := b.chips[addr]
	b.txs++
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: 0x%02X", ErrNACK, addr)
	}
	return c.Tx(w, r)
}

// Transactions returns the number of Tx calls.
func (b *I2CBus) Transactions() int { b.mu.Lock(); defer b.mu.Unlock(); return b.txs }

// SetSpeed implements i2c.Bus.
func (b *I2CBus) SetSpeed(physic.Frequency) error { return nil }

// String implements i2c.Bus.
func (b *I2CBus) String() string { return "sim-i2c" }

// Close implements i2c.BusCloser.
func (b *I2CBus) Close() error { return nil }

// SRF02 simulates the ultrasonic ranger; DistanceMm gives each ranging.
type SRF02 struct {
	DistanceMm func() float64
	// BusyPolls is how many revision reads return 0xFF after a command.
	BusyPolls int

	mu    sync.Mutex
	busy  int
	rngCm uint16
}

// Tx implements Chip.
func (s *SRF02) Tx(w, r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(w) == 0 {
		return errors.New("sim: srf02: no register")
	}
	if len(w) == 2 && w[0] == 0 {
		if w[1] != 0x51 {
			return fmt.Errorf("sim: srf02: command 0x%02X not simulated", w[1])
		}
		s.busy = s.BusyPolls
		s.rngCm = uint16(s.DistanceMm()/10 + 0.5)
		return nil
	}
	regs := [6]byte{6, 0x80, byte(s.rngCm >> 8), byte(s.rngCm), 0, 15}
	if s.busy > 0 && w[0] == 0 {
		s.busy--
		regs[0] = 0xFF
	}
	for i := range r {
		if int(w[0])+i < len(regs) {
			r[i] = regs[int(w[0])+i]
		}
	}
	return nil
}

// MCP9808 simulates the temperature sensor; TempC gives each reading.
type MCP9808 struct {
	TempC func() float64

	mu   sync.Mutex
	regs [9]uint16
}

// Tx implements Chip.
func (m *MCP9808) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(w) == 0 || w[0] > 8 {
		return errors.New("sim: mcp9808: bad register")
	}
	reg := w[0]
	if len(w) > 1 {
		v := uint16(w[1])
		if len(w) > 2 {
			v = v<<8 | uint16(w[2])
		}
		m.regs[reg] = v
		return nil
	}
	var v uint16
	switch reg {
	case 5:
		c := int(m.TempC() * 16)
		v = uint16(c) & 0x1FFF
	case 6:
		v = 0x0054
	case 7:
		v = 0x0400
	default:
		v = m.regs[reg]
	}
	if len(r) >= 2 {
		r[0], r[1] = byte(v>>8), byte(v)
	}
	return nil
}
