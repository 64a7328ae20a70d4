package yard

import (
	"math"
	"slices"
	"time"

	"github.com/revloop/revloop"
)

// WeighOptions tune stable-weight detection. Zero values take the defaults.
type WeighOptions struct {
	// Settle is how long the readings must stay within Tolerance of their
	// mean; default 3 s.
	Settle time.Duration
	// ToleranceKg is the allowed deviation from the mean; default 20 kg.
	ToleranceKg float64
	// MinReadings is the fewest readings a stable window holds; default 3.
	MinReadings int
	// EmptyKg is the weight below which the scale counts as empty; a new
	// weighing is only taken after the scale was empty. Default 200 kg.
	EmptyKg float64
}

func (o *WeighOptions) defaults() {
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	if o.ToleranceKg <= 0 {
		o.ToleranceKg = 20
	}
	if o.MinReadings <= 0 {
		o.MinReadings = 3
	}
	if o.EmptyKg <= 0 {
		o.EmptyKg = 200
	}
}

// Weighing is one stable weight of a load on a scale. Its identity is
// (Scale, Time), Time being the first reading of the stable window.
type Weighing struct {
	Scale    revloop.DeviceID `json:"scale"`
	Yard     string           `json:"yard"`
	Time     time.Time        `json:"ts"`
	Kg       float64          `json:"kg"`
	SpreadKg float64          `json:"spread_kg"`
	Readings int              `json:"readings"`
	// FlagStable reports whether the scale itself flagged every reading of
	// the window stable; it is recorded, not relied on.
	FlagStable bool   `json:"flag_stable"`
	Status     string `json:"status"`
	Ticket     string `json:"ticket,omitempty"`
}

// Weighing statuses.
const (
	WeighingPending   = "pending"   // waiting for gate passages to match a vehicle
	WeighingGross     = "gross"     // first pass of a ticket
	WeighingTare      = "tare"      // second pass of a ticket
	WeighingUnmatched = "unmatched" // no vehicle could be matched; enter a manual ticket
)

// Weigher turns scale readings into weighings, per scale, in event time.
// It is not safe for concurrent use.
type Weigher struct {
	opts   WeighOptions
	scales map[revloop.DeviceID]*scaleState
}

type scaleState struct {
	yard     string
	last     int64 // newest reading processed, Unix ns
	armed    bool  // the scale was empty since the last weighing
	win      []revloop.WeightReading
	sum      float64
	min, max float64
}

// NewWeigher returns a Weigher with opts.
func NewWeigher(opts WeighOptions) *Weigher {
	opts.defaults()
	return &Weigher{opts: opts, scales: map[revloop.DeviceID]*scaleState{}}
}

// SetScale makes scale known, belonging to yard.
func (w *Weigher) SetScale(scale revloop.DeviceID, yard string) {
	if st, ok := w.scales[scale]; ok {
		st.yard = yard
		return
	}
	w.scales[scale] = &scaleState{yard: yard, armed: true}
}

// HasScale reports whether scale is known.
func (w *Weigher) HasScale(scale revloop.DeviceID) bool { _, ok := w.scales[scale]; return ok }

// Process feeds readings (sorted in place) and returns new weighings.
// Readings of unknown scales, and readings not newer than the newest one
// already processed for their scale (redelivery, late data), are skipped.
func (w *Weigher) Process(rs []revloop.WeightReading, out []Weighing) []Weighing {
	slices.SortStableFunc(rs, func(a, b revloop.WeightReading) int {
		if a.Device != b.Device {
			if a.Device < b.Device {
				return -1
			}
			return 1
		}
		return a.Time.Compare(b.Time)
	})
	for _, r := range rs {
		st := w.scales[r.Device]
		if st == nil || math.IsNaN(r.Kg) || math.IsInf(r.Kg, 0) {
			continue
		}
		ns := r.Time.UnixNano()
		if ns <= st.last {
			continue
		}
		st.last = ns
		if r.Kg < w.opts.EmptyKg {
			st.armed, st.win = true, st.win[:0]
			continue
		}
		if !st.armed {
			continue
		}
		if len(st.win) > 0 {
			mean := st.sum / float64(len(st.win))
			if math.Abs(r.Kg-mean) > w.opts.ToleranceKg ||
				math.Max(st.max, r.Kg)-math.Min(st.min, r.Kg) > 2*w.opts.ToleranceKg {
				st.win = st.win[:0]
			}
		}
		if len(st.win) == 0 {
			st.sum, st.min, st.max = 0, r.Kg, r.Kg
		}
		st.win = append(st.win, r)
		st.sum += r.Kg
		st.min, st.max = math.Min(st.min, r.Kg), math.Max(st.max, r.Kg)
		first := st.win[0]
		if len(st.win) >= w.opts.MinReadings && r.Time.Sub(first.Time) >= w.opts.Settle {
			flag := true
			for _, x := range st.win {
				flag = flag && x.Stable
			}
			kg := st.sum / float64(len(st.win))
			out = append(out, Weighing{Scale: r.Device, Yard: st.yard, Time: first.Time.UTC(),
				Kg: math.Round(kg*10) / 10, SpreadKg: st.max - st.min, Readings: len(st.win),
				FlagStable: flag, Status: WeighingPending})
			st.armed, st.win = false, st.win[:0]
		}
	}
	return out
}
