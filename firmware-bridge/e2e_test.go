package bridge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/firmware-bridge/queue"
)

func queueq(s string) queue.Policy { return queue.Policy(s) }

// broker is an embedded mochi broker with an inline subscriber on the
// revloop tree, so no message can slip past while a client reconnects.
type broker struct {
	srv  *mochi.Server
	addr string
}

func startBroker(t testing.TB, addr string, onMsg func(topic string, payload []byte, retained bool)) *broker {
	t.Helper()
	return startBrokerTLS(t, addr, nil, onMsg)
}

func startBrokerTLS(t testing.TB, addr string, tc *tls.Config, onMsg func(topic string, payload []byte, retained bool)) *broker {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	var tcp *listeners.TCP
	for try := 0; ; try++ {
		tcp = listeners.NewTCP(listeners.Config{ID: "t", Address: addr, TLSConfig: tc})
		err := srv.AddListener(tcp)
		if err == nil {
			break
		}
		if try > 50 {
			t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond) // port still held by the previous broker's sockets
	}
	if err := srv.Subscribe("revloop/#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		onMsg(pk.TopicName, append([]byte(nil), pk.Payload...), pk.FixedHeader.Retain)
	}); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	return &broker{srv: srv, addr: tcp.Address()}
}

// collector keeps what the subscriber received, keyed by device, channel,
// ts (and epc for rfid reads, which share a round's ts).
type collector struct {
	mu       sync.Mutex
	seen     map[string]int
	order    map[string][]string // topic -> keys in arrival order (first arrivals)
	status   []Status
	badJSON  []string
	messages int
}

func newCollector() *collector {
	return &collector{seen: map[string]int{}, order: map[string][]string{}}
}

func readingKey(topic string, obj map[string]any) string {
	k := topic + "|" + fmt.Sprint(obj["ts"])
	if epc, ok := obj["epc"]; ok {
		k += "|" + fmt.Sprint(epc)
	}
	return k
}

func (c *collector) add(topic string, payload []byte, _ bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ch, err := revloop.ParseTopic(topic)
	if err != nil {
		return
	}
	c.messages++
	if ch == revloop.ChannelStatus {
		var s Status
		if err := json.Unmarshal(payload, &s); err == nil {
			c.status = append(c.status, s)
		}
		return
	}
	if ch == revloop.ChannelConfig {
		return
	}
	var objs []map[string]any
	if strings.HasPrefix(string(payload), "[") {
		if err := json.Unmarshal(payload, &objs); err != nil {
			c.badJSON = append(c.badJSON, string(payload))
			return
		}
	} else {
		var o map[string]any
		if err := json.Unmarshal(payload, &o); err != nil {
			c.badJSON = append(c.badJSON, string(payload))
			return
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		k := readingKey(topic, o)
		if c.seen[k] == 0 {
			c.order[topic] = append(c.order[topic], k)
		}
		c.seen[k]++
	}
}

func (c *collector) has(keys []string) (missing int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if c.seen[k] == 0 {
			missing++
		}
	}
	return missing
}

// produced records every reading the bridge queued, via Options.Tap.
type produced struct {
	mu    sync.Mutex
	keys  []string
	count map[string]int
}

func (p *produced) tap(topic string, obj []byte) {
	var o map[string]any
	if err := json.Unmarshal(obj, &o); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := readingKey(topic, o)
	p.keys = append(p.keys, k)
	p.count[k]++
}

func (p *produced) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.keys...)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func simConfig(t testing.TB, url string) *Config {
	t.Helper()
	y := fmt.Sprintf(`
device_id: gw-test
firmware: test
data_dir: %s
mqtt:
  url: %s
  status_interval: 200ms
  reconnect_max: 500ms
  batch_max: 20
  window: 200
buses:
  - {name: i2c, type: sim}
  - {name: gnss, type: sim}
  - {name: gate, type: sim}
  - {name: gpio, type: sim}
devices:
  - {name: bin, driver: srf02, bus: i2c, device_id: bin-7, bin: b7, site: s1, depth_mm: 1200, interval: 25ms, temp_sensor: bin-temp}
  - {name: bin-temp, driver: mcp9808, bus: i2c, device_id: bin-7, interval: 25ms}
  - {name: tracker, driver: nmea, bus: gnss, device_id: truck-1, interval: 40ms}
  - {name: gate, driver: chafon, bus: gate, device_id: gate-1, interval: 60ms}
  - {name: scale, driver: hx711, bus: gpio, device_id: scale-1, offset: 8000, counts_per_kg: 10000, interval: 30ms}
`, t.TempDir(), url)
	c, err := ParseConfig([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEndToEndBrokerOutage runs the bridge on simulated buses against an
// embedded broker, stops the broker for a while and restarts it on the same
// port: every reading taken arrives once (by device+ts) with its original
// timestamp, in order per topic.
func TestEndToEndBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	addr := freeAddr(t)
	col := newCollector()
	br := startBroker(t, addr, col.add)
	// A retained runtime config waiting for the gateway.
	if err := br.srv.Publish("revloop/v1/gw-test/config", []byte(`{"version":3,"thresholds":{"fire_temp_c":60}}`), true, 1); err != nil {
		t.Fatal(err)
	}

	cfg := simConfig(t, "tcp://"+addr)
	prod := &produced{count: map[string]int{}}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := New(cfg, Options{Hardware: &Sim{GNSSPeriod: 40 * time.Millisecond}, Logger: log, Tap: prod.tap})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	waitFor(t, "readings before the outage", 10*time.Second, func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		return len(col.seen) >= 40
	})
	waitFor(t, "status acknowledging config version 3", 5*time.Second, func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, s := range col.status {
			if s.ConfigVersion == 3 && s.Online {
				return true
			}
		}
		return false
	})

	// Outage: stop the broker; readings keep being taken and pile up.
	br.srv.Close()
	atStop := len(prod.snapshot())
	waitFor(t, "a backlog during the outage", 10*time.Second, func() bool { return b.Queue().Len() >= 50 })
	duringOutage := len(prod.snapshot()) - atStop

	br = startBroker(t, addr, col.add)
	defer br.srv.Close()

	// Everything taken up to now must arrive.
	want := prod.snapshot()
	waitFor(t, "every reading taken so far", 30*time.Second, func() bool { return col.has(want) == 0 })

	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	all := prod.snapshot()
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.badJSON) > 0 {
		t.Errorf("unparsable payloads: %q", col.badJSON[:1])
	}
	dups := 0
	for k, n := range prod.count {
		if n != 1 {
			t.Errorf("reading %s taken %d times", k, n)
		}
	}
	for k, n := range col.seen {
		if prod.count[k] == 0 {
			t.Errorf("received %s that the bridge never took", k)
		}
		dups += n - 1
	}
	// Per topic, first arrivals follow the order readings were taken.
	pos := map[string]int{}
	for i, k := range all {
		pos[k] = i
	}
	for topic, keys := range col.order {
		if !sort.SliceIsSorted(keys, func(i, j int) bool { return pos[keys[i]] < pos[keys[j]] }) {
			t.Errorf("topic %s: readings arrived out of order", topic)
		}
	}
	if n := len(col.status); n == 0 || col.status[n-1].Online {
		t.Errorf("a clean stop must leave {\"online\":false} as the last status")
	}
	var st *Status
	for i := range col.status {
		if col.status[i].Online {
			st = &col.status[i]
		}
	}
	if st == nil || st.QueueDropped != 0 {
		t.Errorf("last online status = %+v, want no drops", st)
	}
	t.Logf("readings taken %d (%d during the outage), received %d distinct, %d redelivered duplicates, %d messages",
		len(all), duringOutage, len(col.seen), dups, col.messages)
	if duringOutage == 0 {
		t.Error("no readings were taken during the outage")
	}
}

// TestNoBrokerKeepsEverything runs the bridge against an address where no
// broker listens: every reading taken must be in the queue after the stop,
// and an overflow under drop-newest must show in status.
func TestNoBrokerKeepsEverything(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		policy      string
		wantDropped bool
	}{
		{"unbounded enough", 100000, "drop-oldest", false},
		{"overflow drop-newest", 20, "drop-newest", true},
		{"overflow drop-oldest", 20, "drop-oldest", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := simConfig(t, "tcp://"+freeAddr(t))
			cfg.Queue.MaxReadings, cfg.Queue.Overflow = tc.max, queueq(tc.policy)
			prod := &produced{count: map[string]int{}}
			b, err := New(cfg, Options{Hardware: &Sim{GNSSPeriod: 40 * time.Millisecond}, Tap: prod.tap})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- b.Run(ctx) }()
			waitFor(t, "readings", 10*time.Second, func() bool {
				if tc.wantDropped {
					return b.StatusNow().QueueDropped > 0
				}
				return len(prod.snapshot()) >= 40
			})
			st := b.StatusNow()
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if (st.QueueDropped > 0) != tc.wantDropped || st.QueueOverflow != tc.policy {
				t.Errorf("status queue_dropped=%d overflow=%q, want drops %v", st.QueueDropped, st.QueueOverflow, tc.wantDropped)
			}
			// Reopen as after a restart.
			b2, err := New(cfg, Options{Hardware: &Sim{}})
			if err != nil {
				t.Fatal(err)
			}
			defer b2.Queue().Close()
			n := len(prod.snapshot())
			if got := b2.Queue().Len(); tc.wantDropped && got != tc.max || !tc.wantDropped && got != n {
				t.Errorf("queue after restart holds %d readings; taken %d, bound %d", got, n, tc.max)
			}
		})
	}
}
