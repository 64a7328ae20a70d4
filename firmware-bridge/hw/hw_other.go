//go:build !linux

package hw

import (
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// I2C is unavailable on this system.
type I2C struct{ i2c.BusCloser }

// OpenI2C returns ErrUnsupported.
func OpenI2C(dev string) (*I2C, error) { return nil, ErrUnsupported }

// Serial is unavailable on this system.
type Serial struct{}

// OpenSerial returns ErrUnsupported.
func OpenSerial(dev string, baud int) (*Serial, error) { return nil, ErrUnsupported }

func (*Serial) Read([]byte) (int, error) { return 0, ErrUnsupported }
func (*Serial) Tx(w, r []byte) error     { return ErrUnsupported }
func (*Serial) Duplex() conn.Duplex      { return conn.DuplexUnknown }
func (*Serial) String() string           { return "unsupported" }
func (*Serial) Close() error             { return nil }

// Line is unavailable on this system.
type Line struct{}

// OpenLine returns ErrUnsupported.
func OpenLine(chip string, num int, output bool) (*Line, error) { return nil, ErrUnsupported }

func (*Line) String() string                        { return "unsupported" }
func (*Line) Halt() error                           { return nil }
func (*Line) Name() string                          { return "unsupported" }
func (*Line) Number() int                           { return -1 }
func (*Line) Function() string                      { return "" }
func (*Line) In(gpio.Pull, gpio.Edge) error         { return ErrUnsupported }
func (*Line) Read() gpio.Level                      { return gpio.Low }
func (*Line) WaitForEdge(time.Duration) bool        { return false }
func (*Line) Pull() gpio.Pull                       { return gpio.PullNoChange }
func (*Line) DefaultPull() gpio.Pull                { return gpio.PullNoChange }
func (*Line) Out(gpio.Level) error                  { return ErrUnsupported }
func (*Line) PWM(gpio.Duty, physic.Frequency) error { return ErrUnsupported }
func (*Line) Close() error                          { return nil }
