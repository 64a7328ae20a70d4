package broker

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns a coalescing server side and a plain client side of one
// loopback TCP connection.
func tcpPair(t *testing.T) (*coalescingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl := coalescingListener{ln}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := cl.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { srv.Close(); peer.Close() })
	return srv.(*coalescingConn), peer
}

var (
	puback  = []byte{0x40, 0x02, 0x00, 0x01}
	puback2 = []byte{0x40, 0x02, 0x00, 0x02}
	publish = []byte{0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x03}
)

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("peer read %d bytes: %v", n, err)
	}
	return b
}

// held reports whether the connection holds back bytes.
func held(c *coalescingConn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// startProcessing makes srv look like a read loop working through a read.
func startProcessing(t *testing.T, srv *coalescingConn, peer net.Conn) {
	t.Helper()
	if _, err := peer.Write([]byte{0xc0, 0x00}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(srv, b); err != nil {
		t.Fatal(err)
	}
}

func TestCoalescingConn(t *testing.T) {
	cases := []struct {
		name       string
		processing bool
		writes     [][]byte
		wantHeld   int
		flush      func(t *testing.T, srv *coalescingConn, peer net.Conn)
		want       []byte
	}{
		{name: "ack outside a read is written at once", writes: [][]byte{puback}, want: puback},
		{name: "publish while processing is written at once", processing: true, writes: [][]byte{publish}, want: publish},
		{name: "acks are held until the next read", processing: true, writes: [][]byte{puback, puback2}, wantHeld: 8,
			flush: func(t *testing.T, srv *coalescingConn, peer net.Conn) {
				go peer.Write([]byte{0xc0, 0x00})
				io.ReadFull(srv, make([]byte, 2))
			},
			want: append(append([]byte{}, puback...), puback2...)},
		{name: "publish after held ack keeps the order", processing: true, writes: [][]byte{puback, publish},
			want: append(append([]byte{}, puback...), publish...)},
		{name: "held ack is written by the timer", processing: true, writes: [][]byte{puback}, wantHeld: 4,
			flush: func(*testing.T, *coalescingConn, net.Conn) {}, want: puback},
		{name: "close writes held acks", processing: true, writes: [][]byte{puback2}, wantHeld: 4,
			flush: func(t *testing.T, srv *coalescingConn, _ net.Conn) { srv.Close() }, want: puback2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, peer := tcpPair(t)
			if tc.processing {
				startProcessing(t, srv, peer)
			}
			srv.delay = time.Hour // keep held bytes until checked
			for _, w := range tc.writes {
				if n, err := srv.Write(w); err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := held(srv); got != tc.wantHeld {
				t.Fatalf("held %d bytes, want %d", got, tc.wantHeld)
			}
			if tc.wantHeld > 0 {
				srv.mu.Lock()
				srv.timer.Reset(coalesceDelay)
				srv.mu.Unlock()
				tc.flush(t, srv, peer)
			}
			if got := readN(t, peer, len(tc.want)); !bytes.Equal(got, tc.want) {
				t.Fatalf("peer got % x, want % x", got, tc.want)
			}
		})
	}
}

func TestCoalescingConnFlushesPastMax(t *testing.T) {
	srv, peer := tcpPair(t)
	startProcessing(t, srv, peer)
	srv.delay = time.Hour
	n := coalesceMax/len(puback) + 1
	for range n {
		if _, err := srv.Write(puback); err != nil {
			t.Fatal(err)
		}
	}
	if got := held(srv); got >= coalesceMax {
		t.Fatalf("held %d bytes, want below %d", got, coalesceMax)
	}
	readN(t, peer, coalesceMax)
}
