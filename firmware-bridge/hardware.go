package bridge

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"

	"github.com/revloop/revloop/firmware-bridge/sim"
)

// UART is a serial port: a byte stream that is also a periph conn.Conn.
type UART interface {
	io.Reader
	conn.Conn
	io.Closer
}

// Hardware opens the buses the configuration names. The real one lives in
// package hw (Linux character devices); Sim simulates every chip.
type Hardware interface {
	OpenI2C(b BusConfig) (i2c.BusCloser, error)
	// OpenUART opens a serial port for driver (nmea or chafon).
	OpenUART(b BusConfig, driver string) (UART, error)
	// OpenGPIO opens the two lines of an HX711.
	OpenGPIO(b BusConfig, dout, sck int) (gpio.PinIn, gpio.PinOut, io.Closer, error)
}

// Sim is Hardware where every bus is simulated by package sim: bins filling
// up, a truck driving, tags passing a gate, a load on a scale.
type Sim struct {
	// Clock and Sleep drive the GNSS epochs; default time.Now, time.Sleep.
	Clock func() time.Time
	Sleep func(time.Duration)
	// GNSSPeriod is the receiver's epoch period; default 1s.
	GNSSPeriod time.Duration
	// Tags are the EPCs in the reader's field each round; default two tags.
	Tags [][]byte

	mu   sync.Mutex
	i2c  map[string]*sim.I2CBus
	step int
}

var _ Hardware = (*Sim)(nil)

func (s *Sim) clock() func() time.Time {
	if s.Clock != nil {
		return s.Clock
	}
	return time.Now
}

// OpenI2C implements Hardware: SRF02 chips at 0x70..0x77 and MCP9808 chips at
// 0x18..0x1F.
func (s *Sim) OpenI2C(b BusConfig) (i2c.BusCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i2c == nil {
		s.i2c = map[string]*sim.I2CBus{}
	}
	if bus, ok := s.i2c[b.Name]; ok {
		return bus, nil
	}
	bus := sim.NewI2CBus()
	for a := uint16(0x70); a <= 0x77; a++ {
		var n float64
		bus.Attach(a, &sim.SRF02{BusyPolls: 1, DistanceMm: func() float64 {
			n++
			return 1200 - math.Mod(n*7, 900) // a bin filling up, then emptied
		}})
	}
	for a := uint16(0x18); a <= 0x1F; a++ {
		var n float64
		bus.Attach(a, &sim.MCP9808{TempC: func() float64 { n++; return 21 + math.Mod(n, 8)/4 }})
	}
	s.i2c[b.Name] = bus
	return nopCloseBus{bus}, nil
}

type nopCloseBus struct{ *sim.I2CBus }

// OpenUART implements Hardware.
func (s *Sim) OpenUART(b BusConfig, driver string) (UART, error) {
	switch driver {
	case "nmea":
		p := s.GNSSPeriod
		if p == 0 {
			p = time.Second
		}
		sl := s.Sleep
		if sl == nil {
			sl = time.Sleep
		}
		return &sim.GNSS{Period: p, Clock: s.clock(), Sleep: sl, Lat: 52.52, Lon: 13.405}, nil
	case "chafon":
		tags := s.Tags
		if tags == nil {
			tags = [][]byte{
				{0xE2, 0x00, 0x00, 0x17, 0x22, 0x0B, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB},
				{0x30, 0x08, 0x33, 0xB2, 0xDD, 0xD9, 0x01, 0x40, 0x00, 0x00, 0x00, 0x01},
			}
		}
		return &sim.Chafon{Tags: func() [][]byte { return tags }}, nil
	}
	return nil, fmt.Errorf("bridge: sim: no simulated %s on a uart", driver)
}

// OpenGPIO implements Hardware: an HX711 with a 12.5 kg load that settles.
func (s *Sim) OpenGPIO(b BusConfig, dout, sck int) (gpio.PinIn, gpio.PinOut, io.Closer, error) {
	var n int
	chip := sim.NewHX711()
	chip.Value = func() int32 {
		n++
		return int32(8000 + 125000 + 2000/n) // offset 8000, 10000 counts/kg
	}
	return chip.Dout(), chip.Sck(), io.NopCloser(nil), nil
}
