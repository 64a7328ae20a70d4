package nmea

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"
)

// ErrNoSentence is returned by New when the probe finds no valid sentence.
var ErrNoSentence = errors.New("nmea: no valid sentence from receiver")

// Opts configure a Dev.
type Opts struct {
	// ProbeBytes is how many bytes New reads looking for a valid sentence. Default 2048.
	ProbeBytes int
	// RequireGGA makes an epoch complete only with both RMC and GGA (true by
	// default); set false for receivers that send RMC alone.
	RequireGGA bool
}

// DefaultOpts are the recommended options.
var DefaultOpts = Opts{ProbeBytes: 2048, RequireGGA: true}

// Fix is one merged epoch of a receiver.
type Fix struct {
	Time       time.Time // UTC, from RMC date and time
	Valid      bool      // RMC status A and GGA quality > 0
	Lat, Lon   float64   // WGS84 degrees
	SpeedKmh   float64
	HeadingDeg float64 // NaN when not moving or not reported
	HDOP       float64 // NaN when not reported
	Sats       int     // -1 when not reported
	Quality    int     // GGA fix quality
	FixType    int     // GSA: 1 none, 2 2D, 3 3D; 0 when not reported
	AltitudeM  float64 // NaN when not reported
}

// Stats count what the receiver sent.
type Stats struct {
	Sentences   uint64 // valid sentences
	BadChecksum uint64
	Malformed   uint64
	Unsupported uint64
	Fixes       uint64
}

// Dev is a GNSS receiver on a UART.
type Dev struct {
	opts Opts
	br   *bufio.Reader
	line []byte

	mu    sync.Mutex
	stats Stats
	acc   accum
	stop  chan struct{}
	wg    sync.WaitGroup
}

type accum struct {
	tod            time.Duration
	rmc, gga       bool
	fix            Fix
	haveTOD        bool
	gsaFix, gsaSat int
	gsaHDOP        float64
	done           bool
}

// New probes r for a valid sentence and returns a Dev reading from it. r is
// normally a UART opened at the receiver's baud rate (9600 8N1 for most).
func New(r io.Reader, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		o.ProbeBytes = cmp.Or(o.ProbeBytes, DefaultOpts.ProbeBytes)
	}
	d := &Dev{opts: o, br: bufio.NewReaderSize(r, 512)}
	d.reset()
	read := 0
	for read < o.ProbeBytes {
		line, err := d.readLine()
		read += len(line) + 1
		if err != nil {
			return nil, fmt.Errorf("nmea: probe: %w", err)
		}
		if _, err := d.handle(line); err == nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w in %d bytes", ErrNoSentence, read)
}

func (d *Dev) reset() {
	d.acc = accum{fix: Fix{HeadingDeg: math.NaN(), HDOP: math.NaN(), Sats: -1, AltitudeM: math.NaN()}, gsaHDOP: math.NaN()}
}

// readLine returns the next line without its terminator. Overlong lines are
// returned truncated so that Parse rejects them.
func (d *Dev) readLine() (string, error) {
	d.line = d.line[:0]
	for {
		b, err := d.br.ReadByte()
		if err != nil {
			if err == io.EOF && len(d.line) > 0 {
				return string(d.line), nil
			}
			return "", err
		}
		if b == '\n' {
			return string(d.line), nil
		}
		if b == '$' && len(d.line) > 0 {
			// A new sentence started before the last ended (line noise or a
			// lost LF): give up on the partial one.
			d.br.UnreadByte()
			return string(d.line), nil
		}
		if len(d.line) <= MaxSentence+2 {
			d.line = append(d.line, b)
		}
	}
}

// handle parses one line into the epoch accumulator and reports a completed fix.
func (d *Dev) handle(line string) (bool, error) {
	v, err := Parse(line)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case errors.Is(err, ErrChecksum):
		d.stats.BadChecksum++
		return false, err
	case errors.Is(err, ErrUnsupported):
		d.stats.Sentences++
		d.stats.Unsupported++
		return false, nil
	case err != nil:
		if line != "" {
			d.stats.Malformed++
		}
		return false, err
	}
	d.stats.Sentences++
	a := &d.acc
	switch s := v.(type) {
	case *RMC:
		tod := s.Time.Sub(s.Time.Truncate(24 * time.Hour))
		d.newEpoch(tod)
		a.rmc = true
		f := &a.fix
		f.Time, f.Valid = s.Time, s.Valid
		if s.Valid {
			f.Lat, f.Lon = s.Lat, s.Lon
		}
		f.SpeedKmh = s.SpeedKnots * 1.852
		if !math.IsNaN(s.CourseDeg) {
			f.HeadingDeg = s.CourseDeg
		}
	case *GGA:
		d.newEpoch(s.TimeOfDay)
		a.gga = true
		f := &a.fix
		f.Quality, f.Sats, f.HDOP, f.AltitudeM = s.Quality, s.Sats, s.HDOP, s.AltitudeM
		if !a.rmc && s.Quality > 0 {
			f.Lat, f.Lon = s.Lat, s.Lon
		}
	case *GSA:
		a.gsaFix, a.gsaHDOP, a.gsaSat = s.FixType, s.HDOP, s.Sats
	case *VTG:
		if !math.IsNaN(s.CourseDeg) {
			a.fix.HeadingDeg = s.CourseDeg
		}
		if !math.IsNaN(s.SpeedKmh) {
			a.fix.SpeedKmh = s.SpeedKmh
		}
	}
	return !a.done && a.rmc && (a.gga || !d.opts.RequireGGA), nil
}

// newEpoch starts a new accumulator when tod differs from the current one.
func (d *Dev) newEpoch(tod time.Duration) {
	if d.acc.haveTOD && d.acc.tod == tod {
		return
	}
	gsaFix, gsaHDOP, gsaSat := d.acc.gsaFix, d.acc.gsaHDOP, d.acc.gsaSat
	d.reset()
	// GSA carries no time; receivers send it within the epoch it belongs to,
	// often before RMC, so it is carried into the new epoch.
	d.acc.gsaFix, d.acc.gsaHDOP, d.acc.gsaSat = gsaFix, gsaHDOP, gsaSat
	d.acc.tod, d.acc.haveTOD = tod, true
}

func (d *Dev) take() Fix {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.acc.fix
	f.FixType = d.acc.gsaFix
	if math.IsNaN(f.HDOP) {
		f.HDOP = d.acc.gsaHDOP
	}
	if f.Sats < 0 && d.acc.gsaSat > 0 {
		f.Sats = d.acc.gsaSat
	}
	if d.acc.gga && f.Quality == 0 {
		f.Valid = false
	}
	d.stats.Fixes++
	// Sentences of the same epoch arriving after completion (a late VTG)
	// must not produce a second fix.
	d.acc.done = true
	return f
}

// Sense blocks until the receiver completes the next epoch and stores it in
// f. It returns the reader's error (wrapped) when the line fails.
func (d *Dev) Sense(f *Fix) error {
	for {
		line, err := d.readLine()
		if err != nil {
			return fmt.Errorf("nmea: sense: %w", err)
		}
		if done, _ := d.handle(line); done {
			*f = d.take()
			return nil
		}
	}
}

// SenseContinuous returns a channel of fixes, at most one per interval (the
// newest wins). Read timeouts of the port are retried; any other error ends
// the stream. Halt stops it.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan Fix, error) {
	d.mu.Lock()
	if d.stop != nil {
		d.mu.Unlock()
		return nil, errors.New("nmea: already sensing continuously")
	}
	stop := make(chan struct{})
	d.stop = stop
	d.mu.Unlock()
	out := make(chan Fix, 1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(out)
		var last time.Time
		for {
			select {
			case <-stop:
				return
			default:
			}
			var f Fix
			if err := d.Sense(&f); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.ErrNoProgress) {
					continue
				}
				return
			}
			if !last.IsZero() && f.Time.Sub(last) < interval {
				continue
			}
			last = f.Time
			select {
			case out <- f:
			case <-stop:
				return
			}
		}
	}()
	return out, nil
}

// Halt stops continuous sensing. The port should have a read timeout so the
// reading goroutine notices promptly.
func (d *Dev) Halt() error {
	d.mu.Lock()
	stop := d.stop
	d.stop = nil
	d.mu.Unlock()
	if stop != nil {
		close(stop)
		d.wg.Wait()
	}
	return nil
}

// Stats returns the sentence counters.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// String implements fmt.Stringer.
func (d *Dev) String() string { return "nmea" }
