package sim

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3"

	"github.com/revloop/revloop/firmware-bridge/drivers/chafon"
)

// GNSS is a receiver streaming NMEA sentences: one epoch (RMC, VTG, GGA, GSA)
// every Period of Clock, driving along a straight line. Read blocks until the
// next epoch, as a UART does.
type GNSS struct {
	Period time.Duration
	Clock  func() time.Time
	Sleep  func(time.Duration)
	Lat    float64
	Lon    float64

	mu   sync.Mutex
	buf  []byte
	next time.Time
	n    int
}

func nmeaSentence(body string) string {
	var c byte
	for i := 0; i < len(body); i++ {
		c ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, c)
}

func coord(v float64, degDigits int, pos, neg string) (string, string) {
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	d := math.Floor(v)
	return fmt.Sprintf("%0*d%07.4f", degDigits, int(d), (v-d)*60), h
}

// Read implements io.Reader.
func (g *GNSS) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) == 0 {
		now := g.Clock()
		if g.next.IsZero() {
			g.next = now
		}
		if d := g.next.Sub(now); d > 0 {
			g.mu.Unlock()
			g.Sleep(d)
			g.mu.Lock()
		}
		t := g.next.UTC()
		g.next = g.next.Add(g.Period)
		lat := g.Lat + float64(g.n)*0.0001
		lon := g.Lon + float64(g.n)*0.0001
		g.n++
		la, lh := coord(lat, 2, "N", "S")
		lo, oh := coord(lon, 3, "E", "W")
		hms := t.Format("150405") + fmt.Sprintf(".%02d", t.Nanosecond()/1e7)
		date := t.Format("020106")
		s := nmeaSentence(fmt.Sprintf("GNRMC,%s,A,%s,%s,%s,%s,021.6,045.0,%s,,,A", hms, la, lh, lo, oh, date)) +
			nmeaSentence("GNVTG,045.0,T,,M,021.6,N,040.0,K,A") +
			nmeaSentence(fmt.Sprintf("GNGGA,%s,%s,%s,%s,%s,1,09,0.8,120.0,M,47.0,M,,", hms, la, lh, lo, oh)) +
			nmeaSentence("GNGSA,A,3,01,02,03,04,05,06,07,08,09,,,,1.5,0.8,1.2")
		g.buf = []byte(s)
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// Tx implements conn.Conn for callers that use the UART that way.
func (g *GNSS) Tx(w, r []byte) error {
	for n := 0; n < len(r); {
		m, err := g.Read(r[n:])
		if err != nil {
			return err
		}
		n += m
	}
	return nil
}

// String implements conn.Conn.
func (g *GNSS) String() string { return "sim-gnss" }

// Duplex implements conn.Conn.
func (g *GNSS) Duplex() conn.Duplex { return conn.Full }

// Close implements io.Closer.
func (g *GNSS) Close() error { return nil }

// Chafon simulates a Chafon UHF reader answering Get Reader Information and
// Inventory frames. Tags returns the EPCs in the field for each round.
type Chafon struct {
	Tags func() [][]byte

	mu      sync.Mutex
	pending []byte
}

func chafonFrame(cmd, status byte, data []byte) []byte {
	f := append([]byte{byte(5 + len(data)), 0x00, cmd, status}, data...)
	c := chafon.CRC16(f)
	return append(f, byte(c), byte(c>>8))
}

// Tx implements conn.Conn: a write is a command, reads drain the response.
func (c *Chafon) Tx(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(w) > 0 {
		if len(w) < 5 || int(w[0])+1 != len(w) {
			return errors.New("sim: chafon: bad command frame")
		}
		switch w[2] {
		case 0x21:
			c.pending = append(c.pending, chafonFrame(0x21, 0, []byte{3, 1, 0x20, 0x02, 0x4E, 0, 26, 10})...)
		case 0x01:
			var tags [][]byte
			if c.Tags != nil {
				tags = c.Tags()
			}
			if len(tags) == 0 {
				c.pending = append(c.pending, chafonFrame(0x01, 0xFB, nil)...)
				break
			}
			d := []byte{0x01, byte(len(tags))}
			for i, t := range tags {
				d = append(d, byte(len(t)))
				d = append(d, t...)
				d = append(d, byte(55+i))
			}
			c.pending = append(c.pending, chafonFrame(0x01, 0x01, d)...)
		default:
			c.pending = append(c.pending, chafonFrame(w[2], 0xFE, nil)...)
		}
	}
	if len(r) > 0 {
		if len(c.pending) < len(r) {
			return errors.New("sim: chafon: read timeout")
		}
		copy(r, c.pending)
		c.pending = c.pending[len(r):]
	}
	return nil
}

// Read implements io.Reader.
func (c *Chafon) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// String implements conn.Conn.
func (c *Chafon) String() string { return "sim-chafon" }

// Duplex implements conn.Conn.
func (c *Chafon) Duplex() conn.Duplex { return conn.Half }

// Close implements io.Closer.
func (c *Chafon) Close() error { return nil }
