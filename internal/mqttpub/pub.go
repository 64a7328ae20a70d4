// Package mqttpub is a small MQTT 3.1.1 publisher for load generation: one
// connection per device, QoS 1 publications with a bounded window of
// unacknowledged packets, and writes coalesced so that publications queued
// while the previous write was on the wire leave in one system call.
//
// A general client (paho) spends tens of microseconds of CPU per QoS 1
// publication on tokens, goroutines and a write per packet; a benchmark
// whose publisher shares the cores with the system it measures would then
// measure mostly its publisher. This package does only what a device does
// on the uplink: connect, publish at QoS 1, read PUBACKs.
package mqttpub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrRefused is returned by Connect when the broker answers CONNACK with a
// non-zero return code or closes the connection without answering.
var ErrRefused = errors.New("mqttpub: connection refused")

// Options are the CONNECT settings of a Conn.
type Options struct {
	ClientID  string
	Username  string
	Password  string
	KeepAlive time.Duration // 0: 120 s
	Window    int           // unacknowledged publications; 0: 256
	Timeout   time.Duration // CONNACK wait; 0: 30 s
	// AckPause, when set, is how long the reader waits after taking every
	// acknowledgement that had arrived: a broker that sends each PUBACK on
	// its own then wakes the reader once per pause instead of once per
	// message. The window must cover what is published during a pause.
	AckPause time.Duration
}

// Conn is one MQTT connection publishing at QoS 1. Publish may be called
// from several goroutines.
type Conn struct {
	nc     net.Conn
	window chan struct{} // one token per unacknowledged publication

	mu      sync.Mutex
	pending []byte
	spare   []byte
	writing bool // a Publish is writing pending out
	nextID  uint16
	err     error

	acked     atomic.Int64
	done      chan struct{} // closed when the reader stops
	closeOnce sync.Once
}

// Connect sends CONNECT (clean session) over nc and waits for CONNACK. On
// error nc is closed.
func Connect(nc net.Conn, o Options) (*Conn, error) {
	if o.KeepAlive == 0 {
		o.KeepAlive = 120 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 256
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if _, err := nc.Write(connectPacket(o)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("mqttpub: connect %s: %w", o.ClientID, err)
	}
	r := bufio.NewReaderSize(nc, 4096)
	nc.SetReadDeadline(time.Now().Add(o.Timeout))
	var ack [4]byte
	if _, err := io.ReadFull(r, ack[:]); err != nil {
		nc.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			// Closed instead of answered: how brokers refuse too.
			return nil, fmt.Errorf("%w: %s: connection closed before CONNACK", ErrRefused, o.ClientID)
		}
		return nil, fmt.Errorf("mqttpub: connect %s: %w", o.ClientID, err)
	}
	nc.SetReadDeadline(time.Time{})
	if ack[0] != 0x20 || ack[1] != 2 {
		nc.Close()
		return nil, fmt.Errorf("mqttpub: connect %s: unexpected packet %#x", o.ClientID, ack[0])
	}
	if ack[3] != 0 {
		nc.Close()
		return nil, fmt.Errorf("%w: %s: return code %d", ErrRefused, o.ClientID, ack[3])
	}
	c := &Conn{nc: nc, window: make(chan struct{}, o.Window), done: make(chan struct{})}
	go c.reader(r, o.AckPause)
	return c, nil
}

func connectPacket(o Options) []byte {
	var body []byte
	body = appendString(body, "MQTT")
	flags := byte(0x02) // clean session
	if o.Username != "" {
		flags |= 0x80
	}
	if o.Password != "" {
		flags |= 0x40
	}
	ka := min(int(o.KeepAlive/time.Second), 0xffff)
	body = append(body, 4, flags, byte(ka>>8), byte(ka))
	body = appendString(body, o.ClientID)
	if o.Username != "" {
		body = appendString(body, o.Username)
	}
	if o.Password != "" {
		body = appendString(body, o.Password)
	}
	p := appendLength([]byte{0x10}, len(body))
	return append(p, body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendLength(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// Publish sends a QoS 1 publication, waiting while the window is full.
// Publications made while another Publish is writing are sent by that one,
// in its next write. Acked counts the acknowledgements.
func (c *Conn) Publish(topic string, payload []byte, retained bool) error {
	select {
	case c.window <- struct{}{}:
	case <-c.done:
		return c.Err()
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	h := byte(0x32)
	if retained {
		h |= 0x01
	}
	c.pending = append(c.pending, h)
	c.pending = appendLength(c.pending, 2+len(topic)+2+len(payload))
	c.pending = appendString(c.pending, topic)
	c.pending = binary.BigEndian.AppendUint16(c.pending, c.nextID)
	c.pending = append(c.pending, payload...)
	if c.writing {
		// The writing Publish sends this too once its write returns.
		c.mu.Unlock()
		return nil
	}
	c.writing = true
	for len(c.pending) > 0 && c.err == nil {
		buf := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.spare = buf
		if err != nil {
			c.writing = false
			c.mu.Unlock()
			c.fail(fmt.Errorf("mqttpub: write: %w", err))
			return c.Err()
		}
	}
	c.writing = false
	c.mu.Unlock()
	return nil
}

// reader counts PUBACKs and frees window slots; any other packet from the
// broker ends the connection with an error.
func (c *Conn) reader(r *bufio.Reader, pause time.Duration) {
	defer close(c.done)
	var p [4]byte
	for {
		if _, err := io.ReadFull(r, p[:]); err != nil {
			c.fail(fmt.Errorf("mqttpub: read: %w", err))
			return
		}
		if p[0] != 0x40 || p[1] != 2 {
			c.fail(fmt.Errorf("mqttpub: unexpected packet %#x from broker", p[0]))
			return
		}
		c.acked.Add(1)
		select {
		case <-c.window:
		default:
			c.fail(errors.New("mqttpub: PUBACK without a publication in flight"))
			return
		}
		if pause > 0 && r.Buffered() == 0 {
			time.Sleep(pause)
		}
	}
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.nc.Close()
}

// Err is the error that ended the connection, if any.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		select {
		case <-c.done:
			return net.ErrClosed
		default:
		}
	}
	return c.err
}

// Acked is the number of publications the broker acknowledged.
func (c *Conn) Acked() int64 { return c.acked.Load() }

// Drain waits until every queued publication is acknowledged, the
// connection fails or timeout passes.
func (c *Conn) Drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(c.window) > 0 {
		select {
		case <-c.done:
			return c.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mqttpub: %d publications unacknowledged after %s", len(c.window), timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// Close sends DISCONNECT and closes the connection.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		alive := c.err == nil
		if alive {
			c.err = net.ErrClosed
		}
		c.mu.Unlock()
		if alive {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			c.nc.Write([]byte{0xe0, 0})
		}
		c.nc.Close()
	})
	<-c.done
	return nil
}
