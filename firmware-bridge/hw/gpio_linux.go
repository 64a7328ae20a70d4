package hw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// GPIO character device v2 uAPI (linux/gpio.h).
const (
	gpioV2GetLineIoctl       = 0xC250B407 // _IOWR(0xB4, 0x07, struct gpio_v2_line_request) (592 bytes)
	gpioV2LineGetValuesIoctl = 0xC010B40E // _IOWR(0xB4, 0x0E, struct gpio_v2_line_values)
	gpioV2LineSetValuesIoctl = 0xC010B40F // _IOWR(0xB4, 0x0F, struct gpio_v2_line_values)

	gpioV2FlagInput      = 1 << 2
	gpioV2FlagOutput     = 1 << 3
	gpioV2FlagBiasPullUp = 1 << 8

	lineRequestSize = 592
	offConsumer     = 256
	offFlags        = 288
	offNumLines     = 560
	offFD           = 588
)

// Line is one requested GPIO line; it implements gpio.PinIn and gpio.PinOut.
type Line struct {
	chip string
	num  int
	fd   int
}

var (
	_ gpio.PinIn  = (*Line)(nil)
	_ gpio.PinOut = (*Line)(nil)
)

// OpenLine requests line offset num of chip (such as /dev/gpiochip0) as an
// output or as an input with its pull-up enabled.
func OpenLine(chip string, num int, output bool) (*Line, error) {
	cfd, err := unix.Open(chip, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hw: open %s: %w", chip, err)
	}
	defer unix.Close(cfd)
	var req [lineRequestSize]byte
	le := binary.LittleEndian // arm, arm64 and amd64 are little-endian
	le.PutUint32(req[0:], uint32(num))
	copy(req[offConsumer:offConsumer+31], "revloop-bridge")
	flags := uint64(gpioV2FlagInput | gpioV2FlagBiasPullUp)
	if output {
		flags = gpioV2FlagOutput
	}
	le.PutUint64(req[offFlags:], flags)
	le.PutUint32(req[offNumLines:], 1)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(cfd), gpioV2GetLineIoctl, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		return nil, fmt.Errorf("hw: %s line %d: request: %w", chip, num, errno)
	}
	return &Line{chip: chip, num: num, fd: int(int32(le.Uint32(req[offFD:])))}, nil
}

func (l *Line) values(op uintptr, bits uint64) (uint64, error) {
	var v [16]byte
	binary.LittleEndian.PutUint64(v[0:], bits)
	binary.LittleEndian.PutUint64(v[8:], 1) // mask: our only line
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(l.fd), op, uintptr(unsafe.Pointer(&v[0]))); errno != 0 {
		return 0, errno
	}
	return binary.LittleEndian.Uint64(v[0:]), nil
}

// String implements conn.Resource.
func (l *Line) String() string { return fmt.Sprintf("%s:%d", l.chip, l.num) }

// Halt implements conn.Resource.
func (l *Line) Halt() error { return nil }

// Name implements pin.Pin.
func (l *Line) Name() string { return l.String() }

// Number implements pin.Pin.
func (l *Line) Number() int { return l.num }

// Function implements pin.Pin.
func (l *Line) Function() string { return "" }

// In implements gpio.PinIn; the line's direction was fixed when requested.
func (l *Line) In(gpio.Pull, gpio.Edge) error { return nil }

// Read implements gpio.PinIn.
func (l *Line) Read() gpio.Level {
	v, err := l.values(gpioV2LineGetValuesIoctl, 0)
	return err == nil && v&1 == 1
}

// WaitForEdge implements gpio.PinIn; edges are not requested.
func (l *Line) WaitForEdge(time.Duration) bool { return false }

// Pull implements gpio.PinIn.
func (l *Line) Pull() gpio.Pull { return gpio.PullUp }

// DefaultPull implements gpio.PinIn.
func (l *Line) DefaultPull() gpio.Pull { return gpio.PullNoChange }

// Out implements gpio.PinOut.
func (l *Line) Out(lv gpio.Level) error {
	var b uint64
	if lv {
		b = 1
	}
	if _, err := l.values(gpioV2LineSetValuesIoctl, b); err != nil {
		return fmt.Errorf("hw: %s: set: %w", l, err)
	}
	return nil
}

// PWM implements gpio.PinOut.
func (l *Line) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("hw: PWM is not available on a GPIO character device line")
}

// Close releases the line.
func (l *Line) Close() error { return unix.Close(l.fd) }
