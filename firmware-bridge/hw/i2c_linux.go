package hw

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// From linux/i2c-dev.h and linux/i2c.h.
const (
	ioctlI2CRDWR = 0x0707
	i2cMRD       = 0x0001
)

// i2cMsg is struct i2c_msg; its layout matches C on 32- and 64-bit ABIs.
type i2cMsg struct {
	addr  uint16
	flags uint16
	len   uint16
	buf   uintptr
}

// i2cRDWR is struct i2c_rdwr_ioctl_data.
type i2cRDWR struct {
	msgs  uintptr
	nmsgs uint32
}

// I2C is an i2c-dev bus.
type I2C struct {
	dev string
	fd  int
}

var _ i2c.BusCloser = (*I2C)(nil)

// OpenI2C opens an i2c-dev device such as /dev/i2c-1.
func OpenI2C(dev string) (*I2C, error) {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hw: open %s: %w", dev, err)
	}
	return &I2C{dev: dev, fd: fd}, nil
}

// Tx implements i2c.Bus: a write, a read or a write then repeated-start read.
func (b *I2C) Tx(addr uint16, w, r []byte) error {
	var msgs [2]i2cMsg
	n := 0
	if len(w) > 0 {
		msgs[n] = i2cMsg{addr: addr, len: uint16(len(w)), buf: uintptr(unsafe.Pointer(&w[0]))}
		n++
	}
	if len(r) > 0 {
		msgs[n] = i2cMsg{addr: addr, flags: i2cMRD, len: uint16(len(r)), buf: uintptr(unsafe.Pointer(&r[0]))}
		n++
	}
	if n == 0 {
		return nil
	}
	data := i2cRDWR{msgs: uintptr(unsafe.Pointer(&msgs[0])), nmsgs: uint32(n)}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(b.fd), ioctlI2CRDWR, uintptr(unsafe.Pointer(&data)))
	runtime.KeepAlive(w)
	runtime.KeepAlive(r)
	runtime.KeepAlive(&msgs)
	if errno != 0 {
		if errors.Is(errno, unix.ENXIO) || errors.Is(errno, unix.EREMOTEIO) {
			return fmt.Errorf("hw: %s: address 0x%02X not acknowledged (NACK): %w", b.dev, addr, errno)
		}
		return fmt.Errorf("hw: %s: transfer to 0x%02X: %w", b.dev, addr, errno)
	}
	return nil
}

// SetSpeed implements i2c.Bus; i2c-dev cannot change the bus clock (it is
// set in the device tree).
func (b *I2C) SetSpeed(physic.Frequency) error {
	return fmt.Errorf("hw: %s: bus speed is fixed by the device tree", b.dev)
}

// String implements i2c.Bus.
func (b *I2C) String() string { return b.dev }

// Close implements i2c.BusCloser.
func (b *I2C) Close() error { return unix.Close(b.fd) }
