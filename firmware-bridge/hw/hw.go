package hw

import (
	"errors"
	"fmt"
	"io"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"

	bridge "github.com/revloop/revloop/firmware-bridge"
)

// ErrUnsupported is returned by every opener on systems other than Linux.
var ErrUnsupported = errors.New("hw: not supported on this system")

// Host is the gateway's real hardware.
type Host struct{}

var _ bridge.Hardware = Host{}

// OpenI2C implements bridge.Hardware.
func (Host) OpenI2C(b bridge.BusConfig) (i2c.BusCloser, error) {
	bus, err := OpenI2C(b.Dev)
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", b.Name, err)
	}
	return bus, nil
}

// OpenUART implements bridge.Hardware.
func (Host) OpenUART(b bridge.BusConfig, _ string) (bridge.UART, error) {
	p, err := OpenSerial(b.Dev, b.Baud)
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", b.Name, err)
	}
	return p, nil
}

// OpenGPIO implements bridge.Hardware.
func (Host) OpenGPIO(b bridge.BusConfig, dout, sck int) (gpio.PinIn, gpio.PinOut, io.Closer, error) {
	in, err := OpenLine(b.Dev, dout, false)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bus %s: %w", b.Name, err)
	}
	out, err := OpenLine(b.Dev, sck, true)
	if err != nil {
		in.Close()
		return nil, nil, nil, fmt.Errorf("bus %s: %w", b.Name, err)
	}
	return in, out, closers{in, out}, nil
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}
