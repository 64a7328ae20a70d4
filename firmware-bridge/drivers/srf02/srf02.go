package srf02

import (
	"cmp"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/revloop/revloop/firmware-bridge/drivers/internal/loop"
	"periph.io/x/conn/v3/i2c"
)

// Register and command values of the datasheet.
const (
	regCommand  = 0x00
	regRevision = 0x00
	regUnused   = 0x01
	regRange    = 0x02
	cmdRangeCm  = 0x51
	busy        = 0xFF
)

// Sentinel errors.
var (
	ErrChipID  = errors.New("srf02: unexpected chip identity")
	ErrBusy    = errors.New("srf02: ranging did not finish")
	ErrNoEcho  = errors.New("srf02: too few plausible echoes")
	ErrHalted  = errors.New("srf02: halted")
	errRunning = errors.New("srf02: already sensing continuously")
)

// Opts configure a Dev.
type Opts struct {
	// Addr is the 7-bit address; default 0x70.
	Addr uint16
	// Samples is the number of readings per Sense (median); default 5.
	Samples int
	// MinMm and MaxMm bound a plausible reading; defaults 150 and 6000.
	MinMm, MaxMm int
	// PollLimit bounds the revision polls after the ranging wait; default 10.
	PollLimit int
}

// DefaultOpts are the recommended options.
var DefaultOpts = Opts{Addr: 0x70, Samples: 5, MinMm: 150, MaxMm: 6000, PollLimit: 10}

// Dev is an SRF02 on an I2C bus.
type Dev struct {
	d        *i2c.Dev
	opts     Opts
	revision byte
	doSleep  func(time.Duration)

	loop loop.Loop[Reading]
}

// Reading is one filtered measurement.
type Reading struct {
	DistanceMm float64 // median of the plausible samples
	Samples    int     // plausible samples used
}

// New probes the SRF02 at opts.Addr on b.
func New(b i2c.Bus, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		def := DefaultOpts
		o.Addr = cmp.Or(o.Addr, def.Addr)
		o.Samples = cmp.Or(o.Samples, def.Samples)
		o.MinMm = cmp.Or(o.MinMm, def.MinMm)
		o.MaxMm = cmp.Or(o.MaxMm, def.MaxMm)
		o.PollLimit = cmp.Or(o.PollLimit, def.PollLimit)
	}
	if o.Samples < 1 || o.Samples > 31 {
		return nil, fmt.Errorf("srf02: samples %d out of 1..31", o.Samples)
	}
	d := &Dev{d: &i2c.Dev{Bus: b, Addr: o.Addr}, opts: o, doSleep: time.Sleep}
	var id [2]byte
	if err := d.d.Tx([]byte{regRevision}, id[:]); err != nil {
		return nil, fmt.Errorf("srf02: probe at 0x%02X: %w", o.Addr, err)
	}
	if id[1] != 0x80 || id[0] == 0x00 || id[0] == busy {
		return nil, fmt.Errorf("%w: revision 0x%02X, register 1 0x%02X (want 0x80)", ErrChipID, id[0], id[1])
	}
	d.revision = id[0]
	return d, nil
}

// Revision is the chip's software revision read by the probe.
func (d *Dev) Revision() byte { return d.revision }

// String implements conn.Resource.
func (d *Dev) String() string { return fmt.Sprintf("srf02(0x%02X)", d.opts.Addr) }

// rangeOnce takes one ranging in centimetres and returns it in millimetres.
func (d *Dev) rangeOnce() (int, error) {
	if err := d.d.Tx([]byte{regCommand, cmdRangeCm}, nil); err != nil {
		return 0, fmt.Errorf("srf02: start ranging: %w", err)
	}
	d.doSleep(70 * time.Millisecond)
	var rev [1]byte
	for i := 0; ; i++ {
		if err := d.d.Tx([]byte{regRevision}, rev[:]); err != nil {
			return 0, fmt.Errorf("srf02: poll: %w", err)
		}
		if rev[0] != busy {
			break
		}
		if i+1 >= d.opts.PollLimit {
			return 0, ErrBusy
		}
		d.doSleep(5 * time.Millisecond)
	}
	var r [2]byte
	if err := d.d.Tx([]byte{regRange}, r[:]); err != nil {
		return 0, fmt.Errorf("srf02: read range: %w", err)
	}
	return (int(r[0])<<8 | int(r[1])) * 10, nil
}

// Sense takes Opts.Samples readings and stores their median in r.
func (d *Dev) Sense(r *Reading) error {
	var ok []int
	for i := 0; i < d.opts.Samples; i++ {
		mm, err := d.rangeOnce()
		if err != nil {
			return err
		}
		if mm >= d.opts.MinMm && mm <= d.opts.MaxMm {
			ok = append(ok, mm)
		}
	}
	if 2*len(ok) < d.opts.Samples {
		return fmt.Errorf("%w: %d of %d", ErrNoEcho, len(ok), d.opts.Samples)
	}
	r.DistanceMm, r.Samples = Median(ok), len(ok)
	return nil
}

// Median returns the median of v (the mean of the middle two for an even
// count). v must not be empty; it is sorted in place.
func Median(v []int) float64 {
	sort.Ints(v)
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return float64(v[n/2-1]+v[n/2]) / 2
}

// SenseContinuous senses every interval until Halt; errors end the stream.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan Reading, error) {
	ch, err := d.loop.Start(interval, func() (Reading, bool) {
		var r Reading
		return r, d.Sense(&r) == nil
	})
	if errors.Is(err, loop.ErrRunning) {
		return nil, errRunning
	}
	return ch, err
}

// Halt stops continuous sensing. The SRF02 draws little between rangings and
// has no sleep command.
func (d *Dev) Halt() error {
	d.loop.Stop()
	return nil
}
