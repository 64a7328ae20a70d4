package ingest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// bufferedConn cuts the system calls of the MQTT connection: paho reads a
// packet's header and body in several small reads and writes every
// acknowledgement on its own, which at tens of thousands of messages per
// second costs more than decoding them. Reads go through a buffer; writes
// are queued and sent by one goroutine, which coalesces whatever queued up
// while it was writing.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	pending []byte
	err     error
	closed  bool
	kick    chan struct{}
	done    chan struct{}
}

func newBufferedConn(c net.Conn, gather time.Duration) *bufferedConn {
	var r io.Reader = c
	if gather > 0 {
		r = &gatherReader{Conn: c, delay: gather}
	}
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(r, 64<<10), kick: make(chan struct{}, 1), done: make(chan struct{})}
	go b.flusher()
	return b
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *bufferedConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	if b.closed {
		b.mu.Unlock()
		return 0, net.ErrClosed
	}
	b.pending = append(b.pending, p...)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// gatherReader waits delay before a read that follows a short one. A
// broker writes each message to the ingest connection on its own; read as
// they come, a stream of tens of thousands of small packets a second costs
// one system call and one goroutine wake-up each. Waiting a little once
// the stream has been drained lets the next read take what arrived
// meanwhile, at the price of that wait in latency.
type gatherReader struct {
	net.Conn
	delay time.Duration
	short bool
}

// gatherBelow is the read size under which the next read waits.
const gatherBelow = 16 << 10

func (g *gatherReader) Read(p []byte) (int, error) {
	if g.short {
		time.Sleep(g.delay)
	}
	n, err := g.Conn.Read(p)
	g.short = n < gatherBelow
	return n, err
}

// puback queues the acknowledgement of the QoS 1 publication id; it
// reports false when the connection has failed or closed (the broker then
// delivers the publication again on the next connection).
func (b *bufferedConn) puback(id uint16) bool {
	b.mu.Lock()
	if b.err != nil || b.closed {
		b.mu.Unlock()
		return false
	}
	b.pending = append(b.pending, 0x40, 2, byte(id>>8), byte(id))
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return true
}

func (b *bufferedConn) flusher() {
	defer close(b.done)
	var buf []byte
	for range b.kick {
		b.mu.Lock()
		buf, b.pending = b.pending, buf[:0]
		closed := b.closed
		b.mu.Unlock()
		if len(buf) > 0 {
			b.Conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := b.Conn.Write(buf); err != nil {
				b.mu.Lock()
				b.err = err
				b.mu.Unlock()
				b.Conn.Close()
				return
			}
		}
		if closed {
			return
		}
	}
}

// Close sends what is queued, then closes the connection.
func (b *bufferedConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
	case <-time.After(2 * time.Second):
	}
	return b.Conn.Close()
}

// DialMQTT opens a tcp:// (mqtt://) or ssl:// (tls://, mqtts://)
// connection to uri whose reads are buffered and whose writes are coalesced;
// use it with paho's SetCustomOpenConnectionFn.
func DialMQTT(uri *url.URL, tlsCfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	return dialMQTT(uri, tlsCfg, timeout, 0)
}

// dialMQTT is DialMQTT whose reads, with gather > 0, wait gather after a
// short read (see gatherReader): for the ingest connection, which carries
// the whole stream.
func dialMQTT(uri *url.URL, tlsCfg *tls.Config, timeout, gather time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err = d.DialContext(ctx, "tcp", uri.Host)
	case "ssl", "tls", "mqtts", "tcps":
		cfg := tlsCfg
		if cfg == nil {
			cfg = &tls.Config{}
		}
		td := &tls.Dialer{NetDialer: d, Config: cfg}
		c, err = td.DialContext(ctx, "tcp", uri.Host)
	default:
		return nil, fmt.Errorf("mqtt url scheme %q: want tcp:// or ssl://", uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return newBufferedConn(c, gather), nil
}
