package yard

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/revloop/revloop"
)

// Direction is which way a tag crossed a gate.
type Direction string

// The directions of a passage.
const (
	// DirIn: first read on an outside antenna, last on an inside one.
	DirIn Direction = "in"
	// DirOut: first read on an inside antenna, last on an outside one.
	DirOut Direction = "out"
	// DirTurned: read on both sides, but first and last on the same side (a
	// vehicle that pulled up to the gate, or through it, and backed out).
	DirTurned Direction = "turned"
	// DirUnknown: read on one side only, or on antennas not configured.
	DirUnknown Direction = "unknown"
)

// Gate is one RFID gate reader and how its antennas face.
type Gate struct {
	Reader revloop.DeviceID `json:"reader"`
	Yard   string           `json:"yard"`
	Name   string           `json:"name,omitempty"`
	// Outside and Inside list the antenna ports facing away from and into
	// the yard. An antenna in neither list tells nothing about direction.
	Outside []int `json:"outside_antennas"`
	Inside  []int `json:"inside_antennas"`
}

// Validate checks a gate's settings.
func (g Gate) Validate() error {
	if _, err := revloop.ParseDeviceID(string(g.Reader)); err != nil {
		return revloop.Invalid("reader", "%v", err)
	}
	if g.Yard == "" {
		return revloop.Invalid("yard", "required")
	}
	seen := map[int]bool{}
	for _, a := range append(slices.Clone(g.Outside), g.Inside...) {
		if a < 0 || a > 63 {
			return revloop.Invalid("antennas", "antenna %d out of range 0..63", a)
		}
		if seen[a] {
			return revloop.Invalid("antennas", "antenna %d listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

func (g Gate) side(antenna int) int8 {
	if slices.Contains(g.Outside, antenna) {
		return sideOutside
	}
	if slices.Contains(g.Inside, antenna) {
		return sideInside
	}
	return sideUnknown
}

const (
	sideUnknown int8 = iota
	sideOutside
	sideInside
)

// Passage is one tag's presence at one gate reader, from its first read to
// its departure. The raw reads behind it are the reader's rfid_read points
// between FirstSeen and LastSeen (inclusive) with this EPC.
type Passage struct {
	ID           string           `json:"id"`
	Reader       revloop.DeviceID `json:"reader"`
	Yard         string           `json:"yard"`
	EPC          string           `json:"epc"`
	TagKind      string           `json:"tag_kind"`
	TagRef       string           `json:"tag_ref,omitempty"`
	FirstSeen    time.Time        `json:"first_seen"`
	LastSeen     time.Time        `json:"last_seen"`
	Reads        int              `json:"reads"`
	Antennas     []int            `json:"antennas"`
	FirstAntenna int              `json:"first_antenna"`
	LastAntenna  int              `json:"last_antenna"`
	PeakRSSIDbm  float64          `json:"peak_rssi_dbm"`
	Direction    Direction        `json:"direction"`
	// VehiclePassage links a container or bale passage to the vehicle
	// passage it overlapped most at the same reader.
	VehiclePassage string `json:"vehicle_passage,omitempty"`
	Vehicle        string `json:"vehicle,omitempty"`
	Ticket         string `json:"ticket,omitempty"`
	// Containers lists, for a vehicle passage, the container and bale
	// passages linked to it (filled by Service.Passage).
	Containers []string `json:"containers,omitempty"`
}

// PassageID is the deterministic identity of a passage: reader, EPC and
// first read in Unix milliseconds, joined by dots.
func PassageID(reader revloop.DeviceID, epc string, first time.Time) string {
	return string(reader) + "." + epc + "." + strconv.FormatInt(first.UnixMilli(), 10)
}

// DetectorOptions tune passage detection. Zero values take the defaults.
type DetectorOptions struct {
	// Depart is the departure window: a presence ends when the tag has not
	// been read for this long (event time). Default 3 s.
	Depart time.Duration
	// Debounce and MinReads filter stray reads: a presence becomes a passage
	// only if it has at least MinReads reads or its reads span at least
	// Debounce. Defaults 2 reads and 500 ms.
	Debounce time.Duration
	MinReads int
}

func (o *DetectorOptions) defaults() {
	if o.Depart <= 0 {
		o.Depart = 3 * time.Second
	}
	if o.Debounce <= 0 {
		o.Debounce = 500 * time.Millisecond
	}
	if o.MinReads <= 0 {
		o.MinReads = 2
	}
}

// DetectorStats count what the detector saw.
type DetectorStats struct {
	Reads      int64 // reads processed
	Duplicates int64 // reads seen before in the same presence (redelivery)
	Late       int64 // reads older than the departure window with no open presence
	Noise      int64 // presences dropped by the debounce
	Passages   int64 // passages emitted
	Unknown    int64 // reads from readers with no gate configured
}

// Detector turns raw reads into passages, per reader and tag, in event
// time. It keeps its state in memory and is not safe for concurrent use.
type Detector struct {
	opts    DetectorOptions
	depart  int64 // ns
	readers map[revloop.DeviceID]*readerState
	stats   DetectorStats
}

type readerState struct {
	gate      Gate
	watermark int64 // newest read, Unix ns
	open      map[string]*presence
}

type presence struct {
	epc               string
	first, last       int64 // Unix ns
	reads             int
	firstAnt, lastAnt int
	antennas          uint64 // bit set
	peak              float64
	seen              map[readKey]struct{}
}

type readKey struct {
	ns      int64
	antenna int
}

// NewDetector returns a detector with opts.
func NewDetector(opts DetectorOptions) *Detector {
	opts.defaults()
	return &Detector{opts: opts, depart: int64(opts.Depart), readers: map[revloop.DeviceID]*readerState{}}
}

// Options returns the detector's effective options.
func (d *Detector) Options() DetectorOptions { return d.opts }

// Stats returns the counters so far.
func (d *Detector) Stats() DetectorStats { return d.stats }

// SetGate installs or replaces a reader's gate configuration; open
// presences at that reader are kept.
func (d *Detector) SetGate(g Gate) {
	if rs, ok := d.readers[g.Reader]; ok {
		rs.gate = g
		return
	}
	d.readers[g.Reader] = &readerState{gate: g, open: map[string]*presence{}}
}

// HasGate reports whether reader has a gate configured.
func (d *Detector) HasGate(reader revloop.DeviceID) bool { _, ok := d.readers[reader]; return ok }

// Watermark returns the newest read time seen at reader.
func (d *Detector) Watermark(reader revloop.DeviceID) time.Time {
	rs, ok := d.readers[reader]
	if !ok || rs.watermark == 0 {
		return time.Time{}
	}
	return time.Unix(0, rs.watermark).UTC()
}

// Process feeds reads (any readers, any order) and returns the passages that
// ended. Reads of a reader with no gate configured are counted and skipped.
// reads is sorted in place.
func (d *Detector) Process(reads []revloop.RFIDRead, out []Passage) []Passage {
	slices.SortStableFunc(reads, func(a, b revloop.RFIDRead) int {
		if a.Device != b.Device {
			if a.Device < b.Device {
				return -1
			}
			return 1
		}
		return a.Time.Compare(b.Time)
	})
	var rs *readerState
	for i := 0; i < len(reads); i++ {
		r := &reads[i]
		if rs == nil || rs.gate.Reader != r.Device {
			if rs != nil {
				out = d.expire(rs, rs.watermark, out)
			}
			rs = d.readers[r.Device]
			if rs == nil {
				d.stats.Unknown++
				for i+1 < len(reads) && reads[i+1].Device == r.Device {
					i++
					d.stats.Unknown++
				}
				continue
			}
		}
		out = d.add(rs, r, out)
	}
	if rs != nil {
		out = d.expire(rs, rs.watermark, out)
	}
	return out
}

func (d *Detector) add(rs *readerState, r *revloop.RFIDRead, out []Passage) []Passage {
	d.stats.Reads++
	ns := r.Time.UnixNano()
	p := rs.open[r.EPC]
	if p != nil && ns-p.last > d.depart {
		out = d.close(rs, p, out)
		p = nil
	}
	if p == nil {
		if rs.watermark-ns > d.depart {
			d.stats.Late++
			return out
		}
		p = &presence{epc: r.EPC, first: ns, last: ns, firstAnt: r.Antenna, lastAnt: r.Antenna, peak: r.RSSIDbm,
			seen: make(map[readKey]struct{}, 16)}
		rs.open[r.EPC] = p
	} else {
		k := readKey{ns, r.Antenna}
		if _, dup := p.seen[k]; dup {
			d.stats.Duplicates++
			return out
		}
		if ns < p.first {
			p.first, p.firstAnt = ns, r.Antenna
		}
		if ns > p.last {
			p.last, p.lastAnt = ns, r.Antenna
		}
		if r.RSSIDbm > p.peak {
			p.peak = r.RSSIDbm
		}
	}
	p.seen[readKey{ns, r.Antenna}] = struct{}{}
	p.reads++
	if r.Antenna >= 0 && r.Antenna < 64 {
		p.antennas |= 1 << uint(r.Antenna)
	}
	if ns > rs.watermark {
		rs.watermark = ns
	}
	return out
}

// expire closes every presence at rs whose last read is more than the
// departure window before now (Unix ns).
func (d *Detector) expire(rs *readerState, now int64, out []Passage) []Passage {
	for _, p := range rs.open {
		if now-p.last > d.depart {
			out = d.close(rs, p, out)
		}
	}
	return out
}

// Expire closes, at every reader, the presences whose last read is more than
// the departure window before now; call it periodically with the wall clock
// so that the last tag through a gate that then falls silent is reported.
func (d *Detector) Expire(now time.Time, out []Passage) []Passage {
	for _, rs := range d.readers {
		out = d.expire(rs, now.UnixNano(), out)
	}
	return out
}

// Flush closes every open presence (at shutdown, or in tests).
func (d *Detector) Flush(out []Passage) []Passage {
	for _, rs := range d.readers {
		for _, p := range rs.open {
			out = d.close(rs, p, out)
		}
	}
	return out
}

func (d *Detector) close(rs *readerState, p *presence, out []Passage) []Passage {
	delete(rs.open, p.epc)
	if p.reads < d.opts.MinReads && time.Duration(p.last-p.first) < d.opts.Debounce {
		d.stats.Noise++
		return out
	}
	d.stats.Passages++
	first, last := time.Unix(0, p.first).UTC(), time.Unix(0, p.last).UTC()
	var ants []int
	for a := 0; a < 64; a++ {
		if p.antennas&(1<<uint(a)) != 0 {
			ants = append(ants, a)
		}
	}
	return append(out, Passage{
		ID:     PassageID(rs.gate.Reader, p.epc, first),
		Reader: rs.gate.Reader, Yard: rs.gate.Yard, EPC: p.epc,
		FirstSeen: first, LastSeen: last, Reads: p.reads, Antennas: ants,
		FirstAntenna: p.firstAnt, LastAntenna: p.lastAnt, PeakRSSIDbm: p.peak,
		Direction: direction(rs.gate, p),
	})
}

func direction(g Gate, p *presence) Direction {
	var out, in bool
	for a := 0; a < 64; a++ {
		if p.antennas&(1<<uint(a)) == 0 {
			continue
		}
		switch g.side(a) {
		case sideOutside:
			out = true
		case sideInside:
			in = true
		}
	}
	if !out || !in {
		return DirUnknown
	}
	f, l := g.side(p.firstAnt), g.side(p.lastAnt)
	switch {
	case f == sideOutside && l == sideInside:
		return DirIn
	case f == sideInside && l == sideOutside:
		return DirOut
	case f == l && f != sideUnknown:
		return DirTurned
	}
	return DirUnknown
}

// String describes a passage in one line.
func (p Passage) String() string {
	return fmt.Sprintf("%s %s %s %s..%s reads=%d ants=%v", p.Reader, p.EPC, p.Direction,
		p.FirstSeen.Format(time.RFC3339Nano), p.LastSeen.Format(time.RFC3339Nano), p.Reads, p.Antennas)
}
