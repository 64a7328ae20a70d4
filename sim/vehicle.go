package sim

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/paulmach/orb"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/geo"
)

const (
	actDrive = iota
	actStop
	actFunc
)

// action is one step of a vehicle's plan.
type action struct {
	kind int
	// drive
	path []orb.Point
	vmax float64 // m/s
	// stop
	dur    time.Duration
	until  time.Time
	ignOff bool
	// func (runs instantly)
	fn func(now time.Time)

	started bool
}

type vehicleState struct {
	g   *Generator
	v   *Vehicle
	rng *rand.Rand
	idx int

	pos      orb.Point
	speed    float64 // m/s
	heading  float64
	odoKm    float64
	ign      bool
	loadKg   float64
	seq      uint64
	boot     time.Time
	lightEnd time.Time

	plan   []*action
	outEnd time.Time
	buffer []fix

	nextStatus time.Time
	started    bool
	inAt       time.Time
	grossKg    float64
}

func newVehicleState(g *Generator, v *Vehicle, r *rand.Rand, idx int) *vehicleState {
	depot := g.w.Site(v.Depot)
	return &vehicleState{g: g, v: v, rng: r, idx: idx,
		pos:   geo.Destination(depot.Location, r.Float64()*360, 10+r.Float64()*25),
		odoKm: 20000 + r.Float64()*180000, boot: g.start.Add(-time.Duration(r.IntN(500)) * time.Hour),
		heading: r.Float64() * 360}
}

func inShift(t time.Time) bool {
	lt := t.In(Loc)
	return lt.Weekday() != time.Sunday && lt.Hour() >= 6 && lt.Hour() < 16
}

// nextShift returns the start of the next shift after t (06:00 local plus
// jitter).
func nextShift(t time.Time, r *rand.Rand) time.Time {
	lt := t.In(Loc)
	d := time.Date(lt.Year(), lt.Month(), lt.Day(), 6, 0, 0, 0, Loc)
	if !d.After(t) {
		d = d.AddDate(0, 0, 1)
	}
	if d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d.Add(time.Duration(r.IntN(25*60)) * time.Second)
}

func (s *vehicleState) step(now time.Time) time.Time {
	if !now.Before(s.nextStatus) {
		bat := 12.5
		if s.ign {
			bat = 14.1
		}
		s.g.emit(s.v.Tracker, revloop.ChannelStatus, encodeStatus(now, bat+s.rng.NormFloat64()*0.05, -65-25*s.rng.Float64(), "trk-2.4.1", now.Sub(s.boot)), now, now, true)
		s.nextStatus = now.Add(time.Hour)
	}
	if !s.started {
		s.started = true
		s.startPlan(now)
	}
	for guard := 0; guard < 100; guard++ {
		if len(s.plan) == 0 {
			s.replan(now)
			continue
		}
		a := s.plan[0]
		switch a.kind {
		case actFunc:
			a.fn(now)
			s.plan = s.plan[1:]
			continue
		case actStop:
			if !a.started {
				a.started = true
				a.until = now.Add(a.dur)
				if !s.g.noTruth {
					s.g.stops = append(s.g.stops, VehicleStop{Vehicle: s.v.ID, Start: now, End: a.until, Lon: s.pos[0], Lat: s.pos[1], IgnitionOff: a.ignOff})
				}
				s.speed = 0
				s.ign = !a.ignOff
				s.record(now)
				return s.stopNext(now, a)
			}
			if !now.Before(a.until) {
				s.plan = s.plan[1:]
				s.ign = true
				continue
			}
			s.record(now)
			return s.stopNext(now, a)
		case actDrive:
			if !a.started {
				a.started = true
				s.ign = true
			}
			done := s.drive(now, a)
			s.record(now)
			if done {
				s.plan = s.plan[1:]
			}
			return now.Add(s.fixEvery())
		}
	}
	return now.Add(time.Minute)
}

func (s *vehicleState) fixEvery() time.Duration {
	d := time.Duration(s.v.FixEvery)
	return d + time.Duration(s.rng.IntN(400)-200)*time.Millisecond
}

func (s *vehicleState) stopNext(now time.Time, a *action) time.Time {
	every := 30 * time.Second
	if !s.ign {
		every = 15 * time.Minute
	}
	next := now.Add(every + time.Duration(s.rng.IntN(1000))*time.Millisecond)
	if next.After(a.until) {
		next = a.until
	}
	return next
}

// drive advances the vehicle along a.path for one fix interval and reports
// whether the final waypoint was reached.
func (s *vehicleState) drive(now time.Time, a *action) bool {
	dt := time.Duration(s.v.FixEvery).Seconds()
	if now.Before(s.lightEnd) {
		s.speed = 0
		return false
	}
	const accel, decel, turnV = 1.2, 2.0, 4.0
	moveLeft := 0.0
	// Speed limit from the distance to the next waypoint.
	distNext := geo.DistanceM(s.pos, a.path[0])
	allowed := math.Sqrt(2 * decel * distNext)
	if len(a.path) > 1 {
		allowed = math.Sqrt(turnV*turnV + 2*decel*distNext)
	}
	target := math.Min(a.vmax*(0.9+0.2*s.rng.Float64()), allowed)
	newSpeed := math.Min(target, s.speed+accel*dt)
	newSpeed = math.Max(newSpeed, math.Max(0, s.speed-decel*dt*1.5))
	newSpeed = math.Min(newSpeed, math.Max(allowed, 1.5))
	moveLeft = (s.speed + newSpeed) / 2 * dt
	if moveLeft < 1 {
		moveLeft = math.Min(2, distNext)
	}
	s.speed = newSpeed
	for moveLeft > 0 && len(a.path) > 0 {
		d := geo.DistanceM(s.pos, a.path[0])
		if d <= moveLeft || d < 2 {
			moveLeft -= d
			s.odoKm += d / 1000
			if d > 0.5 {
				s.heading = geo.BearingDeg(s.pos, a.path[0])
			}
			s.pos = a.path[0]
			a.path = a.path[1:]
			if len(a.path) > 0 && s.rng.Float64() < 0.2 {
				// A traffic light or a junction.
				s.lightEnd = now.Add(time.Duration(10+s.rng.IntN(50)) * time.Second)
				s.speed = 0
				break
			}
			continue
		}
		s.heading = geo.BearingDeg(s.pos, a.path[0])
		s.pos = geo.Interpolate(s.pos, a.path[0], moveLeft/d)
		s.odoKm += moveLeft / 1000
		moveLeft = 0
	}
	if len(a.path) == 0 {
		s.speed = 0
		return true
	}
	// Occasional coverage loss while driving.
	if !now.Before(s.outEnd) && s.rng.Float64() < dt/3600*1.5 {
		s.outEnd = now.Add(time.Duration(60+s.rng.IntN(420)) * time.Second)
	}
	return false
}

func (s *vehicleState) inDeadZone() bool {
	for _, z := range s.g.w.DeadZones {
		if geo.DistanceM(z.Center, s.pos) < z.RadiusM {
			return true
		}
	}
	return false
}

// record takes a fix of the current state and publishes it, or buffers it
// while the tracker has no coverage.
func (s *vehicleState) record(now time.Time) {
	hdop := 0.7 + math.Abs(s.rng.NormFloat64())*0.4
	noise := 2.0 * hdop
	lonM, latM := geo.MetersPerDegree(s.pos[1])
	s.seq++
	f := fix{t: now, lat: s.pos[1] + s.rng.NormFloat64()*noise/latM, lon: s.pos[0] + s.rng.NormFloat64()*noise/lonM,
		speedKmh: math.Max(0, s.speed*3.6+s.rng.NormFloat64()*0.5*math.Min(1, s.speed)), headingDeg: math.Mod(s.heading+s.rng.NormFloat64()*2+360, 360),
		hdop: hdop, sats: 7 + s.rng.IntN(7), odometerKm: s.odoKm, ignition: s.ign, seq: s.seq}
	if s.speed == 0 {
		f.speedKmh = 0
	}
	if now.Before(s.outEnd) || s.inDeadZone() {
		if len(s.buffer) < 5000 {
			s.buffer = append(s.buffer, f)
		}
		return
	}
	dev := s.v.Tracker
	if len(s.buffer) > 0 {
		backlog := s.buffer
		s.buffer = nil
		if s.rng.IntN(3) == 0 {
			// Some trackers send the live fix first and the backlog
			// right after it: the backlog then arrives out of order.
			s.emitLive(f, now)
			s.g.emit(dev, revloop.ChannelGPS, encodeGPSJSON(backlog, s.v.TrackerFormat == FormatJSONMs), backlog[0].t, now.Add(700*time.Millisecond), false)
			return
		}
		// Trackers release a backlog as one JSON array whatever their live format.
		burst := append(backlog, f)
		s.g.emit(dev, revloop.ChannelGPS, encodeGPSJSON(burst, s.v.TrackerFormat == FormatJSONMs), burst[0].t, now, false)
		return
	}
	s.emitLive(f, now)
}

// emitLive publishes one fix in the tracker's live format.
func (s *vehicleState) emitLive(f fix, now time.Time) {
	dev := s.v.Tracker
	var p []byte
	switch s.v.TrackerFormat {
	case FormatNMEA:
		p = encodeNMEA(f)
	case FormatSenML:
		p = encodeGPSSenML(dev, f)
	default:
		p = encodeGPSJSON([]fix{f}, s.v.TrackerFormat == FormatJSONMs)
	}
	s.g.emit(dev, revloop.ChannelGPS, p, now, now, false)
}

// path returns plausible waypoints from a to b: an L-shaped detour along
// the street grid with jittered corners every few hundred meters.
func (s *vehicleState) path(a, b orb.Point) []orb.Point {
	d := geo.DistanceM(a, b)
	if d < 150 {
		return []orb.Point{b}
	}
	var corner orb.Point
	if s.rng.IntN(2) == 0 {
		corner = orb.Point{b[0], a[1]}
	} else {
		corner = orb.Point{a[0], b[1]}
	}
	// Pull the corner toward the straight line so the detour stays modest.
	mid := geo.Interpolate(a, b, 0.5)
	corner = geo.Interpolate(mid, corner, 0.4+0.3*s.rng.Float64())
	var out []orb.Point
	for _, leg := range [][2]orb.Point{{a, corner}, {corner, b}} {
		ld := geo.DistanceM(leg[0], leg[1])
		n := int(ld / 500)
		for i := 1; i <= n; i++ {
			p := geo.Interpolate(leg[0], leg[1], float64(i)/float64(n+1))
			out = append(out, geo.Destination(p, s.rng.Float64()*360, s.rng.Float64()*60))
		}
		out = append(out, leg[1])
	}
	out[len(out)-1] = b
	return out
}

func (s *vehicleState) cruise(d float64) float64 {
	if d > 3000 {
		return (55 + 15*s.rng.Float64()) / 3.6
	}
	return (32 + 18*s.rng.Float64()) / 3.6
}

func (s *vehicleState) driveTo(to orb.Point) {
	from := s.pos
	if n := len(s.plan); n > 0 {
		last := s.plan[n-1]
		if last.kind == actDrive {
			from = last.path[len(last.path)-1]
		}
	}
	s.plan = append(s.plan, &action{kind: actDrive, path: s.path(from, to), vmax: s.cruise(geo.DistanceM(from, to))})
}

func (s *vehicleState) crawl(vmax float64, pts ...orb.Point) {
	s.plan = append(s.plan, &action{kind: actDrive, path: pts, vmax: vmax})
}

func (s *vehicleState) stop(d time.Duration, ignOff bool) {
	s.plan = append(s.plan, &action{kind: actStop, dur: d, ignOff: ignOff})
}

func (s *vehicleState) do(fn func(time.Time)) {
	s.plan = append(s.plan, &action{kind: actFunc, fn: fn})
}

// startPlan sets the first plan: outside the shift the vehicle is parked;
// in it, every third vehicle starts loaded and heads for the yard, the
// others start collecting after a staggered delay.
func (s *vehicleState) startPlan(now time.Time) {
	if !inShift(now) {
		s.stop(nextShift(now, s.rng).Sub(now), true)
		return
	}
	if s.idx%3 == 0 {
		s.loadKg = s.v.CapacityKg * (0.4 + 0.4*s.rng.Float64())
		s.stop(time.Duration(s.idx)*20*time.Second+time.Second, false)
		s.yardVisit()
		return
	}
	s.stop(time.Duration(1+s.rng.IntN(20))*time.Minute, true)
}

// minYardLoadKg is the least load worth a trip to the yard; smaller loads
// stay on the truck until more is collected.
const minYardLoadKg = 300

// replan chooses what to do next when the plan is empty.
func (s *vehicleState) replan(now time.Time) {
	depot := s.g.w.Site(s.v.Depot)
	lt := now.In(Loc)
	if !inShift(now) {
		if s.loadKg >= minYardLoadKg && lt.Weekday() != time.Sunday && lt.Hour() < 18 {
			s.yardVisit()
			return
		}
		if geo.DistanceM(s.pos, depot.Location) > 80 {
			s.driveTo(geo.Destination(depot.Location, s.rng.Float64()*360, 10+s.rng.Float64()*20))
			return
		}
		s.stop(nextShift(now, s.rng).Sub(now), true)
		return
	}
	if s.loadKg > 0.7*s.v.CapacityKg || (lt.Hour() >= 15 && s.loadKg >= minYardLoadKg) {
		s.yardVisit()
		return
	}
	sites := s.pickSites(now, 60, 4)
	if len(sites) == 0 {
		// Nothing urgent: collect what will be urgent soon.
		sites = s.pickSites(now, 35, 3)
	}
	if len(sites) == 0 {
		switch {
		case s.loadKg >= minYardLoadKg:
			s.yardVisit()
		case geo.DistanceM(s.pos, depot.Location) > 80:
			s.driveTo(geo.Destination(depot.Location, s.rng.Float64()*360, 10+s.rng.Float64()*20))
		default:
			s.stop(time.Duration(20+s.rng.IntN(25))*time.Minute, true)
		}
		return
	}
	for _, site := range sites {
		site := site
		s.g.claimed[site.ID] = s.v.ID
		s.driveTo(geo.Destination(site.Location, s.rng.Float64()*360, s.rng.Float64()*8))
		svc := time.Duration(4*60+s.rng.IntN(8*60)) * time.Second
		s.do(func(t time.Time) {
			for _, b := range s.g.binsBySite[site.ID] {
				b.advance(t)
				if b.level >= 25 {
					s.loadKg += b.empty(t.Add(time.Minute), s.v.ID)
				}
			}
			delete(s.g.claimed, site.ID)
		})
		s.stop(svc, s.rng.IntN(2) == 0)
	}
}

// pickSites returns up to limit unclaimed sites with a bin at minPct
// percent or more, nearest first.
func (s *vehicleState) pickSites(now time.Time, minPct float64, limit int) []*Site {
	type cand struct {
		site *Site
		d    float64
	}
	var cs []cand
	for _, site := range s.g.w.Sites {
		if site.Kind != SiteDropPoint && site.Kind != SiteCustomerSite {
			continue
		}
		if _, taken := s.g.claimed[site.ID]; taken {
			continue
		}
		full := false
		for _, b := range s.g.binsBySite[site.ID] {
			if b.b.Fill.Advance(b.level, b.at, now) >= minPct {
				full = true
				break
			}
		}
		if full {
			cs = append(cs, cand{site, 0})
		}
	}
	var out []*Site
	pos := s.pos
	for len(out) < limit && len(cs) > 0 {
		for i := range cs {
			cs[i].d = geo.DistanceM(pos, cs[i].site.Location)
		}
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].d != cs[j].d {
				return cs[i].d < cs[j].d
			}
			return cs[i].site.ID < cs[j].site.ID
		})
		out = append(out, cs[0].site)
		pos = cs[0].site.Location
		cs = cs[1:]
	}
	return out
}

// yardVisit plans the visit of the yard: in through the gate, weighed
// gross, unloaded, weighed tare, out through the gate.
func (s *vehicleState) yardVisit() {
	gate := s.g.w.Gates[0]
	scale := s.g.w.Scales[0]
	yard := s.g.w.Site(gate.Site)
	tip := geo.Destination(yard.Location, s.rng.Float64()*360, 20+s.rng.Float64()*40)
	s.driveTo(gate.Outside)
	s.do(func(t time.Time) { s.gatePassage(t, gate, true) })
	s.crawl(3, gate.Location, gate.Inside)
	s.waitForScale()
	s.crawl(2.5, scale.Location)
	grossStop := time.Duration(50+s.rng.IntN(40)) * time.Second
	s.do(func(t time.Time) {
		s.inAt = t
		s.grossKg = s.weigh(t, grossStop, s.v.TareKg+s.loadKg+80, scale)
	})
	s.stop(grossStop, false)
	s.crawl(4, tip)
	s.stop(time.Duration(12*60+s.rng.IntN(13*60))*time.Second, s.rng.IntN(3) == 0)
	s.do(func(time.Time) { s.loadKg = 0 })
	s.waitForScale()
	s.crawl(4, scale.Location)
	tareStop := time.Duration(40+s.rng.IntN(30)) * time.Second
	s.do(func(t time.Time) {
		tare := s.weigh(t, tareStop, s.v.TareKg+80+s.rng.NormFloat64()*15, scale)
		if !s.g.noTruth {
			s.g.deliveries = append(s.g.deliveries, Delivery{Vehicle: s.v.ID, In: s.inAt, Out: t, GrossKg: s.grossKg, TareKg: tare})
		}
	})
	s.stop(tareStop, false)
	s.crawl(3, gate.Inside, gate.Location)
	s.do(func(t time.Time) { s.gatePassage(t, gate, false) })
	s.crawl(5, gate.Outside)
}

// waitForScale queues the vehicle while another one stands on the scale.
func (s *vehicleState) waitForScale() {
	s.do(func(t time.Time) {
		if s.g.scaleBusy.After(t) {
			wait := &action{kind: actStop, dur: s.g.scaleBusy.Sub(t) + 5*time.Second}
			s.plan = append([]*action{s.plan[0], wait}, s.plan[1:]...)
		}
		s.g.scaleBusy = t.Add(3 * time.Minute) // reserved while driving onto it
	})
}

// gatePassage schedules the raw reads of the vehicle's tag as it passes the
// gate: the first antenna (outside when entering) sees it first, the other
// one later, several reads per second with a rising then falling RSSI. The
// reader publishes one batch per second.
func (s *vehicleState) gatePassage(t time.Time, gate *Gate, in bool) {
	first, second := 1, 2
	if !in {
		first, second = 2, 1
	}
	var reads []tagRead
	window := func(ant int, from, dur float64) {
		for x := 0.0; x < dur; x += 0.08 + 0.12*s.rng.Float64() {
			if s.rng.Float64() < 0.2 {
				continue
			}
			rel := 2*x/dur - 1
			rssi := -47 - 22*rel*rel + s.rng.NormFloat64()*1.5
			reads = append(reads, tagRead{t: t.Add(time.Duration((from + x) * float64(time.Second))).Truncate(time.Millisecond), epc: s.v.EPC, antenna: ant, rssiDbm: rssi})
		}
	}
	window(first, 0.2, 4)
	window(second, 2.6, 4)
	if s.rng.Float64() < 0.15 && len(s.g.w.Vehicles) > 1 {
		// A stray read of a tag parked near the gate.
		other := s.g.w.Vehicles[(s.idx+1)%len(s.g.w.Vehicles)]
		reads = append(reads, tagRead{t: t.Add(1500 * time.Millisecond), epc: other.EPC, antenna: 2, rssiDbm: -79 + s.rng.NormFloat64()})
	}
	sort.Slice(reads, func(i, j int) bool { return reads[i].t.Before(reads[j].t) })
	// A reader never reports two reads on one antenna in the same
	// millisecond: a point's identity is (device, antenna, ts).
	for i := 1; i < len(reads); i++ {
		for k := i - 1; k >= 0 && !reads[i].t.After(reads[k].t); k-- {
			if reads[k].antenna == reads[i].antenna {
				reads[i].t = reads[k].t.Add(time.Millisecond)
			}
		}
	}
	sort.SliceStable(reads, func(i, j int) bool { return reads[i].t.Before(reads[j].t) })
	for len(reads) > 0 {
		end := reads[0].t.Truncate(time.Second).Add(time.Second)
		n := 0
		for n < len(reads) && reads[n].t.Before(end) {
			n++
		}
		gs := s.g.nextSeq(gate.Device)
		s.g.emit(gate.Device, revloop.ChannelRFID, encodeRFID(reads[:n], gs), reads[0].t, end, false)
		reads = reads[n:]
	}
}

// weigh schedules the scale's readings for a vehicle standing on it from t
// for d: unstable readings while it settles, then stable ones every two
// seconds, then a stable zero when it has left. It returns the stable
// weight.
func (s *vehicleState) weigh(t time.Time, d time.Duration, kg float64, scale *Scale) float64 {
	res := scale.ResolutionKg
	w := math.Round(kg/res) * res
	k := 0
	for ; k < 6; k++ {
		f := 1 - math.Exp(-float64(k+1)/1.3)
		v := math.Round((w*f+w*0.025*math.Cos(float64(k)*2.1)*math.Exp(-float64(k)/3))/res) * res
		ts := t.Add(time.Duration(k+1) * time.Second)
		s.g.emit(scale.Device, revloop.ChannelWeight, encodeWeight(ts, v, false, s.g.nextSeq(scale.Device)), ts, ts, false)
	}
	for sec := k + 2; time.Duration(sec)*time.Second < d-3*time.Second; sec += 2 {
		ts := t.Add(time.Duration(sec) * time.Second)
		s.g.emit(scale.Device, revloop.ChannelWeight, encodeWeight(ts, w, true, s.g.nextSeq(scale.Device)), ts, ts, false)
	}
	ts := t.Add(d + 4*time.Second)
	s.g.scaleBusy = ts.Add(time.Second)
	s.g.emit(scale.Device, revloop.ChannelWeight, encodeWeight(ts, 0, true, s.g.nextSeq(scale.Device)), ts, ts, false)
	return w
}
