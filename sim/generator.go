package sim

import (
	"container/heap"
	"iter"
	"math"
	"math/rand/v2"
	"time"

	"github.com/revloop/revloop"
)

// Message is one MQTT publication of a simulated device.
type Message struct {
	Topic   string
	Payload []byte
	Device  revloop.DeviceID
	Channel revloop.Channel
	// DeviceTime is the earliest device timestamp the payload carries.
	DeviceTime time.Time
	// SendTime is the simulated time at which the device publishes; it is
	// later than DeviceTime for fixes released after a dead zone.
	SendTime time.Time
	// Retained is set for status messages.
	Retained bool
	// Malformed is set (with Reason) for messages that an ingest must
	// dead-letter rather than store; only Messages produces them.
	Malformed bool
	Reason    string
}

// Emptying records, as ground truth, that a vehicle emptied a bin.
type Emptying struct {
	Bin         string    `json:"bin"`
	Vehicle     string    `json:"vehicle"`
	Time        time.Time `json:"ts"`
	LevelPct    float64   `json:"level_pct"`
	CollectedKg float64   `json:"collected_kg"`
}

// VehicleStop records, as ground truth, a planned halt of a vehicle (at a
// site, the scale, the tipping area or parked); traffic halts are not
// included.
type VehicleStop struct {
	Vehicle     string    `json:"vehicle"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Lon         float64   `json:"lon"`
	Lat         float64   `json:"lat"`
	IgnitionOff bool      `json:"ignition_off"`
}

// Delivery records, as ground truth, one weighed yard visit.
type Delivery struct {
	Vehicle string    `json:"vehicle"`
	In      time.Time `json:"in"`
	Out     time.Time `json:"out"`
	GrossKg float64   `json:"gross_kg"`
	TareKg  float64   `json:"tare_kg"`
}

type agent struct {
	at   time.Time
	idx  int
	step func(now time.Time) time.Time
}

type agentHeap []*agent

func (h agentHeap) Len() int { return len(h) }
func (h agentHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].idx < h[j].idx
}
func (h agentHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *agentHeap) Push(x any)   { *h = append(*h, x.(*agent)) }
func (h *agentHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type queued struct {
	m   Message
	ord uint64
}

type msgHeap []queued

func (h msgHeap) Len() int { return len(h) }
func (h msgHeap) Less(i, j int) bool {
	if !h[i].m.SendTime.Equal(h[j].m.SendTime) {
		return h[i].m.SendTime.Before(h[j].m.SendTime)
	}
	return h[i].ord < h[j].ord
}
func (h msgHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *msgHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *msgHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Generator runs the world forward in simulated time and yields the devices'
// messages ordered by SendTime (ties in a fixed order), so the same seed,
// world and start always give the same sequence.
type Generator struct {
	w       *World
	start   time.Time
	now     time.Time
	agents  agentHeap
	pending msgHeap
	ord     uint64

	bins       []*binState
	binsBySite map[string][]*binState
	binByID    map[string]*binState
	vehicles   []*vehicleState
	claimed    map[string]string // site -> vehicle

	emptyings  []Emptying
	deliveries []Delivery
	seqs       map[revloop.DeviceID]uint64
	scaleBusy  time.Time
	stops      []VehicleStop
	noTruth    bool
}

// DiscardTruth stops recording emptyings, deliveries and vehicle halts, so
// a generator that runs for months keeps a bounded memory.
func (g *Generator) DiscardTruth() { g.noTruth = true }

// VehicleStops returns the planned vehicle halts begun so far.
func (g *Generator) VehicleStops() []VehicleStop { return append([]VehicleStop(nil), g.stops...) }

// nextSeq returns the next message counter of a fixed device.
func (g *Generator) nextSeq(dev revloop.DeviceID) uint64 {
	if g.seqs == nil {
		g.seqs = map[revloop.DeviceID]uint64{}
	}
	g.seqs[dev]++
	return g.seqs[dev]
}

// NewGenerator returns a generator that starts w at start (truncated to the
// millisecond). Bins start at deterministic levels between 5 and 70 percent;
// vehicles start at their depots, a third of them loaded and heading for the
// yard.
func NewGenerator(w *World, start time.Time) *Generator {
	start = start.UTC().Truncate(time.Millisecond)
	g := &Generator{w: w, start: start, now: start, binsBySite: map[string][]*binState{},
		binByID: map[string]*binState{}, claimed: map[string]string{}}
	idx := 0
	for i, b := range w.Bins {
		r := rngFor(w.Seed, 1000+uint64(i))
		s := &binState{g: g, b: b, rng: r, level: 5 + 65*r.Float64(), at: start, battery: 3.45 + 0.2*r.Float64(), boot: start.Add(-time.Duration(r.IntN(90*24)) * time.Hour)}
		g.bins = append(g.bins, s)
		g.binsBySite[b.Site] = append(g.binsBySite[b.Site], s)
		g.binByID[b.ID] = s
		first := start.Add(time.Duration(r.Int64N(int64(b.ReportEvery))))
		g.addAgent(idx, start, s.stepper(first))
		idx++
	}
	for i, v := range w.Vehicles {
		vs := newVehicleState(g, v, rngFor(w.Seed, 5000+uint64(i)), i)
		g.vehicles = append(g.vehicles, vs)
		g.addAgent(idx, start, vs.step)
		idx++
	}
	infra := &infraState{g: g, rng: rngFor(w.Seed, 9000)}
	g.addAgent(idx, start, infra.step)
	return g
}

func (g *Generator) addAgent(idx int, at time.Time, step func(time.Time) time.Time) {
	heap.Push(&g.agents, &agent{at: at, idx: idx, step: step})
}

// emit queues a message; its SendTime must not be before the current agent
// time.
func (g *Generator) emit(dev revloop.DeviceID, ch revloop.Channel, payload []byte, deviceTime, sendTime time.Time, retained bool) {
	g.ord++
	heap.Push(&g.pending, queued{ord: g.ord, m: Message{
		Topic: revloop.Topic(dev, ch), Payload: payload, Device: dev, Channel: ch,
		DeviceTime: deviceTime, SendTime: sendTime, Retained: retained,
	}})
}

// ready runs agents until the earliest pending message cannot be preceded
// by anything an agent would still produce.
func (g *Generator) ready() {
	for g.pending.Len() == 0 || (g.agents.Len() > 0 && g.agents[0].at.Before(g.pending[0].m.SendTime)) {
		a := g.agents[0]
		next := a.step(a.at)
		if !next.After(a.at) {
			next = a.at.Add(time.Second)
		}
		a.at = next
		heap.Fix(&g.agents, 0)
	}
}

// Next returns the next message. The world never ends, so Next always
// returns one.
func (g *Generator) Next() Message {
	g.ready()
	q := heap.Pop(&g.pending).(queued)
	g.now = q.m.SendTime
	return q.m
}

// Peek returns the send time of the next message without consuming it.
func (g *Generator) Peek() time.Time {
	g.ready()
	return g.pending[0].m.SendTime
}

// Until yields the messages sent before end.
func (g *Generator) Until(end time.Time) iter.Seq[Message] {
	return func(yield func(Message) bool) {
		for g.Peek().Before(end) {
			if !yield(g.Next()) {
				return
			}
		}
	}
}

// Now returns the send time of the last message returned.
func (g *Generator) Now() time.Time { return g.now }

// World returns the generator's world.
func (g *Generator) World() *World { return g.w }

// TrueLevelPct returns the true (noise-free) fill level of a bin at t, which
// must not be before the last simulated event of that bin.
func (g *Generator) TrueLevelPct(bin string, t time.Time) (float64, bool) {
	s, ok := g.binByID[bin]
	if !ok {
		return 0, false
	}
	if t.Before(s.at) {
		return s.level, true
	}
	return s.b.Fill.Advance(s.level, s.at, t), true
}

// Emptyings returns the bin emptyings simulated so far.
func (g *Generator) Emptyings() []Emptying { return append([]Emptying(nil), g.emptyings...) }

// Deliveries returns the weighed yard visits simulated so far.
func (g *Generator) Deliveries() []Delivery { return append([]Delivery(nil), g.deliveries...) }

// binState is the dynamic state of a bin and its sensor.
type binState struct {
	g       *Generator
	b       *Bin
	rng     *rand.Rand
	level   float64
	at      time.Time
	battery float64
	boot    time.Time
	seq     uint64
	buf     []fillSample
	fire    int
}

func (s *binState) advance(t time.Time) {
	if t.After(s.at) {
		s.level = s.b.Fill.Advance(s.level, s.at, t)
		s.at = t
	}
}

// empty empties the bin at t and returns the collected mass in kg.
func (s *binState) empty(t time.Time, vehicle string) float64 {
	s.advance(t)
	kg := s.b.VolumeM3 * s.level / 100 * s.b.DensityKgM3
	if !s.g.noTruth {
		s.g.emptyings = append(s.g.emptyings, Emptying{Bin: s.b.ID, Vehicle: vehicle, Time: t, LevelPct: s.level, CollectedKg: kg})
	}
	s.level = 2 * s.rng.Float64()
	return kg
}

// sample is the sensor's noisy view of the true level at t.
func (s *binState) sample(t time.Time) fillSample {
	s.advance(t)
	lvl := s.level + s.rng.NormFloat64()*1.2
	switch u := s.rng.Float64(); {
	case u < 0.006:
		lvl = 0 // lost echo
	case u < 0.012:
		lvl = 100 // obstruction in front of the sensor
	case u < 0.02:
		lvl += (s.rng.Float64()*2 - 1) * 40
	}
	lvl = math.Max(0, math.Min(100, lvl))
	hour := float64(t.In(Loc).Hour()) + float64(t.In(Loc).Minute())/60
	temp := 9 + 6*math.Sin((hour-9)/24*2*math.Pi) + s.rng.NormFloat64()*0.4
	if s.fire == 0 && s.rng.Float64() < 0.0003 {
		s.fire = 3 // a smouldering fire in the container for three readings
	}
	if s.fire > 0 {
		s.fire--
		temp = 55 + 35*s.rng.Float64()
	}
	tilt := math.Abs(1.5 + s.rng.NormFloat64()*0.6)
	if s.rng.Float64() < 0.002 {
		tilt = 40 + 40*s.rng.Float64() // knocked over
	}
	s.battery -= 0.00002
	s.seq++
	return fillSample{t: t, levelPct: lvl, distanceMm: 60 + s.b.DepthMm*(1-lvl/100), tempC: temp,
		batteryV: s.battery + s.rng.NormFloat64()*0.01, tiltDeg: tilt, seq: s.seq}
}

func (s *binState) stepper(first time.Time) func(time.Time) time.Time {
	nextSample := first
	nextStatus := s.g.start
	return func(now time.Time) time.Time {
		dev := s.b.Sensor
		if !now.Before(nextStatus) {
			s.g.emit(dev, revloop.ChannelStatus, encodeStatus(now, s.battery, -95+20*s.rng.Float64(), "fill-1.8.2", now.Sub(s.boot)), now, now, true)
			nextStatus = now.Add(12 * time.Hour)
		}
		if !now.Before(nextSample) {
			s.buf = append(s.buf, s.sample(now))
			if len(s.buf) >= max(1, s.b.Batch) {
				var p []byte
				switch s.b.Format {
				case FormatSenML:
					p = encodeFillSenML(dev, s.buf)
				case FormatLwM2M:
					p = encodeFillLwM2M(s.b.DepthMm, s.buf[0])
				default:
					p = encodeFillJSON(s.buf, s.b.Format == FormatJSONMs)
				}
				s.g.emit(dev, revloop.ChannelFill, p, s.buf[0].t, now, false)
				s.buf = nil
			}
			every := float64(s.b.ReportEvery)
			nextSample = now.Add(time.Duration(every * (0.97 + 0.06*s.rng.Float64()))).Truncate(time.Millisecond)
		}
		if nextStatus.Before(nextSample) {
			return nextStatus
		}
		return nextSample
	}
}

// infraState publishes the status of the yard's fixed devices.
type infraState struct {
	g   *Generator
	rng *rand.Rand
}

func (s *infraState) step(now time.Time) time.Time {
	for _, gt := range s.g.w.Gates {
		s.g.emit(gt.Device, revloop.ChannelStatus, encodeStatus(now, 24+s.rng.Float64()*0.2, -55-10*s.rng.Float64(), "uhf-gate-5.2", now.Sub(s.g.start)+72*time.Hour), now, now, true)
	}
	for _, sc := range s.g.w.Scales {
		s.g.emit(sc.Device, revloop.ChannelStatus, encodeStatus(now, 24+s.rng.Float64()*0.2, -50-10*s.rng.Float64(), "wb-3.0.7", now.Sub(s.g.start)+72*time.Hour), now, now, true)
	}
	return now.Add(time.Hour)
}
