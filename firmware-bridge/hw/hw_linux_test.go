package hw

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pty opens a pseudo-terminal pair: the master's fd and the slave's path,
// which termios accepts like a real UART.
func pty(t *testing.T) (int, string) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { unix.Close(m) })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

func TestSerialOverPTY(t *testing.T) {
	m, path := pty(t)
	s, err := OpenSerial(path, 57600)
	if err != nil {
		t.Fatalf("OpenSerial: %v", err)
	}
	defer s.Close()
	// Reader's view: bytes from the device arrive raw (no CR/LF mapping).
	unix.Write(m, []byte("$GP\r\nA\x00\xff"))
	got := make([]byte, 8)
	if err := s.Tx(nil, got); err != nil || string(got) != "$GP\r\nA\x00\xff" {
		t.Fatalf("Tx read = %q, %v", got, err)
	}
	// Writer's view: a command reaches the device unchanged.
	if err := s.Tx([]byte{0x04, 0xFF, 0x21, 0x19, 0x95}, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := unix.Read(m, buf)
	if string(buf[:n]) != "\x04\xff\x21\x19\x95" {
		t.Fatalf("device got % X", buf[:n])
	}
	// Silence: the 1 s VTIME timeout surfaces as os.ErrDeadlineExceeded.
	if _, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a silent line: %v, want ErrDeadlineExceeded", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := OpenI2C("/dev/i2c-does-not-exist"); err == nil || !strings.HasPrefix(err.Error(), "hw: ") {
		t.Errorf("OpenI2C: %v", err)
	}
	if _, err := OpenSerial("/dev/null", 9600); err == nil || !strings.Contains(err.Error(), "not a serial port") {
		t.Errorf("OpenSerial(/dev/null): %v", err)
	}
	if _, err := OpenSerial("/dev/null", 12345); err == nil || !strings.Contains(err.Error(), "baud") {
		t.Errorf("OpenSerial bad baud: %v", err)
	}
	if _, err := OpenLine("/dev/gpiochip-does-not-exist", 5, false); err == nil {
		t.Error("OpenLine on a missing chip succeeded")
	}
}
