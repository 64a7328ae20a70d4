package broker

import (
	"net"
	"sync"
	"time"
)

const (
	// coalesceMax is the most acknowledgement bytes a connection holds back
	// before writing them at once.
	coalesceMax = 16 << 10
	// coalesceDelay bounds how long an acknowledgement is held back when the
	// client's read loop is busy (e.g. held by backpressure).
	coalesceDelay = 2 * time.Millisecond
)

// coalescingListener wraps every accepted connection in a coalescingConn.
type coalescingListener struct {
	net.Listener
}

// Accept returns the next connection, wrapped.
func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newCoalescingConn(c), nil
}

// coalescingConn gathers the acknowledgements (PUBACK, PUBREC, PUBREL,
// PUBCOMP) the broker writes while it works through the packets of one
// read, and writes them in one system call when the read loop comes back
// for more input (or after coalesceDelay, or past coalesceMax bytes).
// mochi writes every acknowledgement separately, one system call per
// message; a QoS 1 publisher sending a burst gets them in batches instead.
// Every other packet is written at once, after the acknowledgements held
// back, so the order on the wire is unchanged.
type coalescingConn struct {
	net.Conn
	mu         sync.Mutex
	buf        []byte
	err        error
	processing bool // the read loop is working through the last read
	armed      bool // timer is due to flush buf
	delay      time.Duration
	timer      *time.Timer
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, delay: coalesceDelay}
	cc.timer = time.AfterFunc(time.Hour, cc.timerFlush)
	cc.timer.Stop()
	return cc
}

// isAck reports whether p starts with an acknowledgement of a QoS flow.
func isAck(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] >> 4 {
	case 4, 5, 6, 7: // PUBACK, PUBREC, PUBREL, PUBCOMP
		return true
	}
	return false
}

// Read first writes the acknowledgements held back, then reads.
func (c *coalescingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.processing = false
	err := c.flushLocked()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.processing = true
		c.mu.Unlock()
	}
	return n, err
}

// Write holds back an acknowledgement while the read loop is busy and
// writes anything else at once (after what it held back).
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	hold := c.processing && isAck(p)
	if !hold && len(c.buf) == 0 {
		n, err := c.Conn.Write(p)
		if err != nil {
			c.err = err
		}
		return n, err
	}
	c.buf = append(c.buf, p...)
	if !hold || len(c.buf) >= coalesceMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if !c.armed {
		c.armed = true
		c.timer.Reset(c.delay)
	}
	return len(p), nil
}

// flushLocked writes what is held back; c.mu is held.
func (c *coalescingConn) flushLocked() error {
	if c.armed {
		c.timer.Stop()
		c.armed = false
	}
	if c.err != nil {
		return c.err
	}
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 2*coalesceMax {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	if err != nil {
		c.err = err
	}
	return err
}

func (c *coalescingConn) timerFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	_ = c.flushLocked() // a failed write is reported by the next Read or Write
}

// Close writes what is held back (unless a write is under way, which the
// close then interrupts) and closes the connection.
func (c *coalescingConn) Close() error {
	if c.mu.TryLock() {
		c.timer.Stop()
		c.armed = false
		if len(c.buf) > 0 && c.err == nil {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_ = c.flushLocked()
		}
		c.mu.Unlock()
	}
	return c.Conn.Close()
}
