package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

var t0 = time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC) // Tuesday, 08:30 local

func take(g *Generator, n int) []Message {
	out := make([]Message, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestGeneratorDeterministic(t *testing.T) {
	a := take(NewGenerator(NewWorld(7, 5, 40), t0), 3000)
	b := take(NewGenerator(NewWorld(7, 5, 40), t0), 3000)
	c := take(NewGenerator(NewWorld(8, 5, 40), t0), 3000)
	same := func(x, y []Message) bool {
		for i := range x {
			if x[i].Topic != y[i].Topic || !bytes.Equal(x[i].Payload, y[i].Payload) || !x[i].SendTime.Equal(y[i].SendTime) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("same seed gave different messages")
	}
	if same(a, c) {
		t.Fatal("different seeds gave identical messages")
	}
}

// decodeTimes returns the device timestamps a payload carries.
func decodeTimes(t *testing.T, m Message) []time.Time {
	t.Helper()
	if bytes.HasPrefix(m.Payload, []byte("$")) {
		var out []time.Time
		for _, line := range strings.Split(strings.TrimSpace(string(m.Payload)), "\r\n") {
			body, cs, ok := strings.Cut(line[1:], "*")
			if !ok || nmeaChecksum(body) != cs {
				t.Fatalf("%s: bad NMEA sentence %q", m.Topic, line)
			}
			f := strings.Split(body, ",")
			if f[0] == "GPRMC" {
				ts, err := time.Parse("150405.00 020106", f[1]+" "+f[9])
				if err != nil {
					t.Fatalf("%s: RMC time: %v", m.Topic, err)
				}
				out = append(out, ts)
			}
		}
		return out
	}
	var v any
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		t.Fatalf("%s: payload is not JSON: %v: %s", m.Topic, err, m.Payload)
	}
	var objs []map[string]any
	switch x := v.(type) {
	case map[string]any:
		objs = append(objs, x)
	case []any:
		for _, e := range x {
			objs = append(objs, e.(map[string]any))
		}
	}
	var out []time.Time
	for _, o := range objs {
		if bt, ok := o["bt"].(float64); ok {
			out = append(out, time.UnixMilli(int64(bt*1000+0.5)))
			continue
		}
		switch ts := o["ts"].(type) {
		case string:
			p, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				t.Fatalf("%s: ts %q: %v", m.Topic, ts, err)
			}
			out = append(out, p)
		case float64:
			out = append(out, time.UnixMilli(int64(ts)))
		case nil:
			if _, senml := o["n"]; !senml {
				t.Fatalf("%s: object without ts: %v", m.Topic, o)
			}
		}
		if reads, ok := o["reads"].([]any); ok && len(reads) == 0 {
			t.Fatalf("%s: empty rfid batch", m.Topic)
		}
	}
	return out
}

func TestMessagesFollowTheContract(t *testing.T) {
	w := NewWorld(3, 8, 60)
	devices := map[revloop.DeviceID]bool{}
	for _, d := range w.Devices {
		devices[d.ID] = true
	}
	g := NewGenerator(w, t0)
	var prev time.Time
	count := map[revloop.Channel]int{}
	bursts := 0
	readKeys := map[string]bool{}
	for m := range g.Until(t0.Add(10 * time.Hour)) {
		dev, ch, err := revloop.ParseTopic(m.Topic)
		if err != nil {
			t.Fatalf("topic: %v", err)
		}
		if dev != m.Device || ch != m.Channel || !ch.Uplink() || !devices[dev] {
			t.Fatalf("topic %s does not match device %s channel %s of the world", m.Topic, m.Device, m.Channel)
		}
		if m.SendTime.Before(prev) {
			t.Fatalf("send time went back from %s to %s", prev, m.SendTime)
		}
		prev = m.SendTime
		if m.DeviceTime.After(m.SendTime) || m.DeviceTime.Before(t0.Add(-time.Second)) {
			t.Fatalf("%s: device time %s outside [start, send time %s]", m.Topic, m.DeviceTime, m.SendTime)
		}
		for _, ts := range decodeTimes(t, m) {
			if ts.After(m.SendTime.Add(time.Millisecond)) || ts.Before(m.DeviceTime.Add(-10*time.Millisecond)) {
				t.Fatalf("%s: payload ts %s outside [%s, %s]", m.Topic, ts, m.DeviceTime, m.SendTime)
			}
		}
		if ch == revloop.ChannelRFID {
			var batch struct {
				Reads []struct {
					TS      string `json:"ts"`
					Antenna int    `json:"antenna"`
				} `json:"reads"`
			}
			if err := json.Unmarshal(m.Payload, &batch); err != nil {
				t.Fatal(err)
			}
			for _, r := range batch.Reads {
				k := string(m.Device) + "|" + strconv.Itoa(r.Antenna) + "|" + r.TS
				if readKeys[k] {
					t.Fatalf("two reads with the identity %s", k)
				}
				readKeys[k] = true
			}
		}
		if m.Retained != (ch == revloop.ChannelStatus) {
			t.Fatalf("%s: retained=%v", m.Topic, m.Retained)
		}
		if ch == revloop.ChannelGPS && m.SendTime.Sub(m.DeviceTime) > 30*time.Second {
			if m.Payload[0] != '[' {
				t.Fatalf("delayed fixes not sent as an array: %s", m.Payload[:40])
			}
			bursts++
		}
		count[ch]++
	}
	for _, ch := range []revloop.Channel{revloop.ChannelGPS, revloop.ChannelFill, revloop.ChannelRFID, revloop.ChannelWeight, revloop.ChannelStatus} {
		if count[ch] == 0 {
			t.Errorf("no %s message in 10 h", ch)
		}
	}
	if bursts == 0 {
		t.Error("no delayed burst of fixes in 10 h")
	}
	t.Logf("10 h, 8 vehicles, 60 bins: %v, %d bursts", count, bursts)
}

func TestBinsAreEmptiedAndWeighed(t *testing.T) {
	w := NewWorld(5, 6, 50)
	g := NewGenerator(w, t0)
	for range g.Until(t0.Add(36 * time.Hour)) {
	}
	es := g.Emptyings()
	if len(es) == 0 {
		t.Fatal("no bin was emptied in 36 h")
	}
	for _, e := range es {
		if lvl, _ := g.TrueLevelPct(e.Bin, e.Time); lvl > 5 && g.binByID[e.Bin].at.Equal(e.Time) {
			t.Errorf("bin %s at %.1f%% right after emptying", e.Bin, lvl)
		}
	}
	ds := g.Deliveries()
	if len(ds) == 0 {
		t.Fatal("no weighed delivery in 36 h")
	}
	for _, d := range ds {
		v := vehicleByID(w, d.Vehicle)
		if d.GrossKg <= d.TareKg || d.TareKg < v.TareKg-100 || d.TareKg > v.TareKg+200 || !d.Out.After(d.In) {
			t.Errorf("implausible delivery %+v (vehicle tare %.0f)", d, v.TareKg)
		}
	}
}

func vehicleByID(w *World, id string) *Vehicle {
	for _, v := range w.Vehicles {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func TestFillModelTimeToReach(t *testing.T) {
	w := NewWorld(2, 1, 10)
	for _, b := range w.Bins {
		at, ok := b.Fill.TimeToReach(20, t0, 80, 90*24*time.Hour)
		if !ok {
			t.Fatalf("%s: 80%% not reached in 90 days (rate %.3f%%/h)", b.ID, b.Fill.BasePctPerH)
		}
		if got := b.Fill.Advance(20, t0, at); got < 79.9 || got > 80.1 {
			t.Errorf("%s: Advance to TimeToReach gives %.2f, want 80", b.ID, got)
		}
		if got := b.Fill.Advance(20, t0, at.Add(-time.Hour)); got >= 80 {
			t.Errorf("%s: level %.2f an hour before the reach time", b.ID, got)
		}
	}
}

func TestMessagesMix(t *testing.T) {
	const n = 20000
	ms := Messages(11, n, 0.05)
	if len(ms) != n {
		t.Fatalf("got %d messages, want %d", len(ms), n)
	}
	again := Messages(11, 500, 0.05)
	for i := range again {
		if !bytes.Equal(again[i].Payload, ms[i].Payload) || again[i].Topic != ms[i].Topic {
			t.Fatalf("message %d differs between calls", i)
		}
	}
	count := map[revloop.Channel]int{}
	bad := 0
	ids := map[string]bool{}
	for _, m := range ms {
		count[m.Channel]++
		if !m.Malformed {
			if m.Channel != revloop.ChannelRFID {
				// A stored point's identity is (measurement, device, ts):
				// the mix must not repeat one, or a loss test miscounts.
				for _, ts := range decodeTimes(t, m) {
					k := m.Topic + "|" + ts.UTC().Format(time.RFC3339Nano)
					if ids[k] {
						t.Fatalf("point identity %s repeated", k)
					}
					ids[k] = true
				}
			}
			continue
		}
		bad++
		if m.Reason == "" {
			t.Fatalf("malformed message without reason: %s", m.Topic)
		}
		if m.Reason == ReasonInvalidJSON && json.Valid(m.Payload) {
			t.Errorf("%s flagged invalid_json but is valid JSON: %s", m.Topic, m.Payload)
		}
		if m.Reason == ReasonBadTopic {
			if _, _, err := revloop.ParseTopic(m.Topic); err == nil {
				t.Errorf("%s flagged bad_topic but parses", m.Topic)
			}
		}
	}
	if frac := float64(bad) / n; frac < 0.04 || frac > 0.06 {
		t.Errorf("malformed fraction %.3f, want about 0.05", frac)
	}
	if count[revloop.ChannelGPS] < n/2 {
		t.Errorf("gps is %d of %d, want the majority", count[revloop.ChannelGPS], n)
	}
	for _, ch := range []revloop.Channel{revloop.ChannelFill, revloop.ChannelRFID, revloop.ChannelWeight, revloop.ChannelStatus} {
		if count[ch] == 0 {
			t.Errorf("no %s message in the mix", ch)
		}
	}
	t.Logf("mix of %d: %v, %d malformed", n, count, bad)
}

func TestMessagesWhereThinsTheSameMix(t *testing.T) {
	isGPS := func(m Message) bool { return m.Channel == revloop.ChannelGPS }
	got := MessagesWhere(11, 3000, 0, isGPS)
	if len(got) != 3000 {
		t.Fatalf("got %d messages, want 3000", len(got))
	}
	var want []Message
	for _, m := range Messages(11, 20000, 0) {
		if isGPS(m) && len(want) < len(got) {
			want = append(want, m)
		}
	}
	if len(want) < len(got) {
		t.Fatalf("the plain mix of 20000 holds only %d gps messages", len(want))
	}
	for i := range got {
		if got[i].Topic != want[i].Topic || !bytes.Equal(got[i].Payload, want[i].Payload) {
			t.Fatalf("message %d: %s %s, want %s %s", i, got[i].Topic, got[i].Payload, want[i].Topic, want[i].Payload)
		}
	}
}

type fakePublisher struct {
	mu   sync.Mutex
	msgs []Message
	fail func(Message) error
}

var _ Publisher = (*fakePublisher)(nil)

func (f *fakePublisher) Publish(_ context.Context, m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(m); err != nil {
			return err
		}
	}
	f.msgs = append(f.msgs, m)
	return nil
}

func TestRun(t *testing.T) {
	errBroker := errors.New("broker says no")
	tests := []struct {
		name      string
		cfg       Config
		fail      func(Message) error
		wantSent  int64
		wantFails bool
	}{
		{name: "duration bounds simulated time", cfg: Config{Seed: 4, Vehicles: 3, Bins: 20, Start: t0, Duration: 2 * time.Hour, Speedup: -1}},
		{name: "max messages", cfg: Config{Seed: 4, Vehicles: 3, Bins: 20, Start: t0, Speedup: -1, MaxMessages: 500}, wantSent: 500},
		{name: "publish errors are counted and skipped", cfg: Config{Seed: 4, Vehicles: 3, Bins: 20, Start: t0, Duration: time.Hour, Speedup: -1},
			fail: func(m Message) error {
				if m.Channel == revloop.ChannelFill {
					return errBroker
				}
				return nil
			}, wantFails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakePublisher{fail: tc.fail}
			var progress bytes.Buffer
			tc.cfg.Progress = &progress
			st, err := Run(context.Background(), tc.cfg, pub)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSent > 0 && st.Sent != tc.wantSent {
				t.Errorf("sent %d, want %d", st.Sent, tc.wantSent)
			}
			if int64(len(pub.msgs)) != st.Sent {
				t.Errorf("stats say %d sent, publisher got %d", st.Sent, len(pub.msgs))
			}
			if tc.wantFails != (st.Failed > 0) {
				t.Errorf("failed = %d, want failures %v", st.Failed, tc.wantFails)
			}
			if tc.cfg.Duration > 0 {
				end := t0.Add(tc.cfg.Duration)
				want := 0
				for m := range NewGenerator(NewWorld(tc.cfg.Seed, tc.cfg.Vehicles, tc.cfg.Bins), t0).Until(end) {
					if tc.fail == nil || tc.fail(m) == nil {
						want++
					}
				}
				if len(pub.msgs) != want {
					t.Errorf("published %d, generator has %d before %s", len(pub.msgs), want, end)
				}
			}
			if !strings.Contains(progress.String(), "simulate done") {
				t.Errorf("no final progress line in %q", progress.String())
			}
		})
	}
}

func TestRunPacesBySpeedup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pub := &fakePublisher{}
	pub.fail = func(m Message) error {
		if m.SendTime.Sub(t0) > time.Minute {
			cancel()
		}
		return nil
	}
	// At 60x, one simulated minute takes one wall second: the run must see
	// messages at the start but not reach simulated minute 30.
	st, err := Run(ctx, Config{Seed: 1, Vehicles: 3, Bins: 10, Start: t0, Speedup: 60}, pub)
	if err != nil {
		t.Fatal(err)
	}
	if st.SimEnd.Sub(t0) > 30*time.Minute {
		t.Errorf("simulated %s despite the speed-up of 60", st.SimEnd.Sub(t0))
	}
}

// BenchmarkGenerator measures how fast the simulator produces messages (a
// world of 50 vehicles and 1,000 bins).
func BenchmarkGenerator(b *testing.B) {
	g := NewGenerator(NewWorld(1, 50, 1000), t0)
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bytes += int64(len(g.Next().Payload))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/msg")
}

func TestRunNeverPublishesAheadOfTheWallClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := &fakePublisher{}
	pub.fail = func(m Message) error {
		if m.SendTime.After(time.Now().Add(time.Second)) {
			t.Errorf("published %s at wall time %s", m.SendTime, time.Now())
		}
		return nil
	}
	// Starting 20 simulated seconds ago at 1000x: the backlog goes out at
	// once, then the run has to wait for the wall clock.
	start := time.Now().Add(-20 * time.Second)
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	st, err := Run(ctx, Config{Seed: 1, Vehicles: 2, Bins: 5, Start: start, Speedup: 1000}, pub)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent == 0 {
		t.Error("nothing published from the backlog")
	}
	if st.SimEnd.After(time.Now().Add(time.Second)) {
		t.Errorf("simulated time %s ran ahead of the wall clock", st.SimEnd)
	}
}
