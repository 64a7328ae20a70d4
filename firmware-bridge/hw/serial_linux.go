package hw

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3"
)

var bauds = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200,
	38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400,
}

// Serial is a raw 8N1 serial port with a 1 s read timeout.
type Serial struct {
	dev string
	fd  int
}

// OpenSerial opens dev (such as /dev/ttyS0 or /dev/ttyUSB0) at baud.
func OpenSerial(dev string, baud int) (*Serial, error) {
	speed, ok := bauds[baud]
	if !ok {
		return nil, fmt.Errorf("hw: %s: unsupported baud rate %d", dev, baud)
	}
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hw: open %s: %w", dev, err)
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hw: %s: not a serial port: %w", dev, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 0, 10 // return after 1 s without data
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hw: %s: set termios: %w", dev, err)
	}
	return &Serial{dev: dev, fd: fd}, nil
}

// Read implements io.Reader; after a second without data it returns
// os.ErrDeadlineExceeded (wrapped), which drivers treat as "retry".
func (s *Serial) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(s.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("hw: %s: read: %w", s.dev, err)
		}
		if n == 0 && len(p) > 0 {
			return 0, fmt.Errorf("hw: %s: read: %w", s.dev, os.ErrDeadlineExceeded)
		}
		return n, nil
	}
}

// Write implements io.Writer.
func (s *Serial) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(s.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("hw: %s: write: %w", s.dev, err)
		}
		n += m
	}
	return n, nil
}

// Tx implements conn.Conn: write w, then read exactly len(r) bytes (each
// read may wait up to the 1 s timeout).
func (s *Serial) Tx(w, r []byte) error {
	if len(w) > 0 {
		if _, err := s.Write(w); err != nil {
			return err
		}
	}
	for n := 0; n < len(r); {
		m, err := s.Read(r[n:])
		if err != nil {
			return fmt.Errorf("%w (%d of %d bytes)", err, n, len(r))
		}
		n += m
	}
	return nil
}

// Duplex implements conn.Conn.
func (s *Serial) Duplex() conn.Duplex { return conn.Full }

// String implements conn.Conn.
func (s *Serial) String() string { return s.dev }

// Close implements io.Closer.
func (s *Serial) Close() error { return unix.Close(s.fd) }
