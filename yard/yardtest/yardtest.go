// Package yardtest simulates what a yard's gate reader and weighbridge
// publish when trucks visit, for tests and benchmarks of the yard package:
// raw RFID reads (many per pass, with misses and RSSI noise) and scale
// readings (a ramp, a settling load with noise, a ramp down), cut into the
// batches ingest hands to observers.
package yardtest

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
)

// Gate antenna layout used by the simulation: 1 and 2 face outside, 3 and
// 4 inside.
var (
	Outside = []int{1, 2}
	Inside  = []int{3, 4}
)

// Visit is one truck's visit: in through the gate, gross weighing, unload,
// tare weighing, out through the gate.
type Visit struct {
	VehicleEPC string
	Containers []string // EPCs of containers on the truck, read with it
	Arrive     time.Time
	GrossKg    float64
	TareKg     float64
	// Stay is the time between the gross and the tare weighing; default 10 min.
	Stay time.Duration
	// SkipTare leaves the yard without a second weighing (stored tare).
	SkipTare bool
}

// Sim generates the streams.
type Sim struct {
	Reader revloop.DeviceID
	Scale  revloop.DeviceID
	rng    *rand.Rand
	reads  []revloop.RFIDRead
	wts    []revloop.WeightReading
}

// New returns a simulation of reader and scale with a fixed seed.
func New(reader, scale revloop.DeviceID, seed uint64) *Sim {
	return &Sim{Reader: reader, Scale: scale, rng: rand.New(rand.NewPCG(seed, 6))}
}

func (s *Sim) pass(epc string, t time.Time, ants []int, d time.Duration, base float64) {
	seen := map[[2]int64]bool{}
	for dt := time.Duration(0); dt < d; dt += 50 * time.Millisecond {
		for _, a := range ants {
			if s.rng.Float64() < 0.3 {
				continue
			}
			ts := t.Add(dt + time.Duration(s.rng.IntN(10))*time.Millisecond).Truncate(time.Millisecond)
			if seen[[2]int64{ts.UnixMilli(), int64(a)}] {
				continue
			}
			seen[[2]int64{ts.UnixMilli(), int64(a)}] = true
			s.reads = append(s.reads, revloop.RFIDRead{Device: s.Reader, Time: ts, EPC: epc, Antenna: a,
				RSSIDbm: float64(int((base+s.rng.Float64()*12-8)*10)) / 10})
		}
	}
}

// Drive adds a pass of epc through the gate starting at t, in or out.
func (s *Sim) Drive(epc string, t time.Time, in bool, base float64) {
	first, second := Outside, Inside
	if !in {
		first, second = Inside, Outside
	}
	s.pass(epc, t, first, 2500*time.Millisecond, base)
	s.pass(epc, t.Add(2500*time.Millisecond), append(slices.Clone(first), second...), time.Second, base)
	s.pass(epc, t.Add(3500*time.Millisecond), second, 2500*time.Millisecond, base)
}

// Weigh adds a weighing of kg starting at t: 2 s of ramp, 8 s of a noisy
// settled load, 2 s of ramp down, with empty readings around it.
func (s *Sim) Weigh(t time.Time, kg float64) {
	add := func(ts time.Time, v float64, stable bool) {
		s.wts = append(s.wts, revloop.WeightReading{Device: s.Scale, Time: ts.Truncate(time.Millisecond), Kg: v, Stable: stable})
	}
	step := 500 * time.Millisecond
	add(t.Add(-step), 0, true)
	for i := 1; i <= 4; i++ {
		add(t.Add(time.Duration(i-1)*step), kg*float64(i)/5+s.rng.Float64()*300, false)
	}
	for i := 0; i < 16; i++ {
		add(t.Add(2*time.Second+time.Duration(i)*step), kg+s.rng.Float64()*10-5, i > 1)
	}
	for i := 1; i <= 4; i++ {
		add(t.Add(10*time.Second+time.Duration(i-1)*step), kg*float64(4-i)/5, false)
	}
	add(t.Add(12*time.Second), 0, true)
}

// Visit adds a whole visit.
func (s *Sim) Visit(v Visit) {
	if v.Stay == 0 {
		v.Stay = 10 * time.Minute
	}
	s.Drive(v.VehicleEPC, v.Arrive, true, -58)
	for i, c := range v.Containers {
		s.Drive(c, v.Arrive.Add(time.Duration(200+100*i)*time.Millisecond), true, -70)
	}
	s.Weigh(v.Arrive.Add(30*time.Second), v.GrossKg)
	leave := v.Arrive.Add(30*time.Second + v.Stay)
	if !v.SkipTare {
		s.Weigh(leave, v.TareKg)
	}
	s.Drive(v.VehicleEPC, leave.Add(30*time.Second), false, -58)
}

// Reads returns the raw reads so far, in time order.
func (s *Sim) Reads() []revloop.RFIDRead {
	out := slices.Clone(s.reads)
	slices.SortStableFunc(out, func(a, b revloop.RFIDRead) int { return a.Time.Compare(b.Time) })
	return out
}

// Records cuts the streams into batches of at most n readings per channel
// message, each shuffled (devices buffer per antenna), ordered by the time
// of their first reading — what ingest would hand to observers.
func (s *Sim) Records(n int) []ingest.Record {
	reads := s.Reads()
	wts := slices.Clone(s.wts)
	slices.SortStableFunc(wts, func(a, b revloop.WeightReading) int { return a.Time.Compare(b.Time) })
	var out []ingest.Record
	var at []time.Time
	for lo := 0; lo < len(reads); lo += n {
		b := slices.Clone(reads[lo:min(lo+n, len(reads))])
		at = append(at, b[len(b)-1].Time)
		s.rng.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		out = append(out, ingest.Record{Device: s.Reader, Channel: revloop.ChannelRFID, Received: at[len(at)-1], Reads: b})
	}
	for lo := 0; lo < len(wts); lo += n {
		b := slices.Clone(wts[lo:min(lo+n, len(wts))])
		at = append(at, b[len(b)-1].Time)
		out = append(out, ingest.Record{Device: s.Scale, Channel: revloop.ChannelWeight, Received: at[len(at)-1], Weights: b})
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return at[a].Compare(at[b]) })
	sorted := make([]ingest.Record, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}
