package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/firmware-bridge/queue"
)

// ErrRuntimeConfig marks a rejected message on the config topic.
var ErrRuntimeConfig = errors.New("bridge: runtime config")

// Bridge reads the configured sensors, queues their readings on disk and
// forwards them to the broker.
type Bridge struct {
	cfg   *Config
	log   *slog.Logger
	hw    Hardware
	q     *queue.Queue
	now   func() time.Time
	tap   func(topic string, obj []byte)
	start time.Time

	sensors []*sensor
	byName  map[string]*sensor

	mu            sync.Mutex
	thr           Thresholds
	configVersion int64
	configErr     string

	client     mqtt.Client
	configCh   chan []byte
	statusKick chan struct{}

	published  atomic.Uint64 // readings acknowledged by the broker
	messages   atomic.Uint64 // messages acknowledged by the broker
	enqueueErr atomic.Uint64
	noFix      atomic.Uint64
	fireAlerts atomic.Uint64
}

// Options are the Bridge's collaborators; zero values take defaults.
type Options struct {
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Hardware opens the buses; required.
	Hardware Hardware
	// Now is the device clock for reading timestamps; default time.Now.
	Now func() time.Time
	// Tap, when set, sees every reading queued (topic, JSON object); tests
	// and the benchmarks use it.
	Tap func(topic string, obj []byte)
}

// New opens the queue and prepares the sensors; Run starts everything.
func New(cfg *Config, o Options) (*Bridge, error) {
	if o.Hardware == nil {
		return nil, errors.New("bridge: no hardware")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	q, err := queue.Open(cfg.QueueOptions())
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b := &Bridge{cfg: cfg, log: o.Logger, hw: o.Hardware, q: q, now: o.Now, tap: o.Tap, thr: cfg.Thresholds,
		byName: map[string]*sensor{}, configCh: make(chan []byte, 1), statusKick: make(chan struct{}, 1)}
	if st := q.Stats(); st.TruncatedBytes > 0 {
		b.log.Warn("queue: cut a torn tail after an unclean stop", "bytes", st.TruncatedBytes)
	}
	buses := map[string]BusConfig{}
	for _, bc := range cfg.Buses {
		buses[bc.Name] = bc
	}
	for _, dc := range cfg.Devices {
		s := &sensor{b: b, conf: dc, bus: buses[dc.Bus], kick: make(chan struct{}, 1), lastTempC: nan()}
		s.every.Store(int64(dc.Interval))
		b.sensors = append(b.sensors, s)
		b.byName[dc.Name] = s
	}
	for _, s := range b.sensors {
		if t := s.conf.TempSensor; t != "" {
			s.tempOf = b.byName[t]
			b.byName[t].fillOf = s
		}
	}
	return b, nil
}

// Queue exposes the store-and-forward queue (for status and tests).
func (b *Bridge) Queue() *queue.Queue { return b.q }

func (b *Bridge) thresholds() Thresholds {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.thr
}

// readingTime normalises a timestamp to the millisecond the wire carries.
func (b *Bridge) readingTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func (b *Bridge) enqueue(topic string, obj []byte) error {
	return b.enqueueRaw(MarshalRecord(topic, obj))
}

func (b *Bridge) enqueueRaw(recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	if err := b.q.Append(recs...); err != nil {
		b.enqueueErr.Add(1)
		if errors.Is(err, queue.ErrFull) {
			return nil // counted by the queue and reported in status
		}
		return err
	}
	if b.tap != nil {
		for _, r := range recs {
			if rec, err := UnmarshalRecord(r); err == nil {
				b.tap(rec.Topic, rec.JSON)
			}
		}
	}
	return nil
}

// Run starts the sensors and the uplink and blocks until ctx ends. On return
// every reading taken is in the queue (fsynced) and the status topic carries
// a retained offline status.
func (b *Bridge) Run(ctx context.Context) error {
	b.start = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range b.sensors {
		wg.Add(1)
		go func() { defer wg.Done(); s.run(ctx) }()
	}
	err := b.uplink(ctx)
	cancel()
	wg.Wait()
	if cerr := b.q.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

func (b *Bridge) statusTopic() string { return revloop.Topic(b.cfg.DeviceID, revloop.ChannelStatus) }

// offlinePayload is the last will and the status left on a clean stop.
const offlinePayload = `{"online":false}`

func (b *Bridge) clientOptions() (*mqtt.ClientOptions, error) {
	m := b.cfg.MQTT
	u := strings.Replace(strings.Replace(m.URL, "tls://", "ssl://", 1), "mqtts://", "ssl://", 1)
	u = strings.Replace(u, "mqtt://", "tcp://", 1)
	o := mqtt.NewClientOptions().AddBroker(u).SetClientID(m.ClientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(m.ReconnectMax).
		SetKeepAlive(m.KeepAlive).SetPingTimeout(5*time.Second).SetConnectTimeout(10*time.Second).
		SetOrderMatters(false).SetWill(b.statusTopic(), offlinePayload, 1, true)
	if m.Username != "" {
		o.SetUsername(m.Username)
	}
	if m.password != "" {
		o.SetPassword(m.password)
	}
	if strings.HasPrefix(u, "ssl://") || m.TLS.CAFile != "" {
		tc, err := tlsConfig(m.TLS)
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	o.SetOnConnectHandler(func(c mqtt.Client) {
		b.log.Info("mqtt connected", "broker", m.URL)
		c.Subscribe(revloop.Topic(b.cfg.DeviceID, revloop.ChannelConfig), 1, func(_ mqtt.Client, msg mqtt.Message) {
			// Never block here: hand the newest config to the uplink loop.
			select {
			case <-b.configCh:
			default:
			}
			b.configCh <- append([]byte(nil), msg.Payload()...)
		})
		select {
		case b.statusKick <- struct{}{}:
		default:
		}
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		b.log.Warn("mqtt connection lost; readings stay queued", "err", err)
	})
	return o, nil
}

func tlsConfig(t TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bridge: tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bridge: tls ca %s: no certificates", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		c, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bridge: tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// uplink connects and forwards the queue until ctx ends.
func (b *Bridge) uplink(ctx context.Context) error {
	o, err := b.clientOptions()
	if err != nil {
		return err
	}
	b.client = mqtt.NewClient(o)
	b.client.Connect() // with ConnectRetry it keeps trying in the background
	defer func() {
		if b.client.IsConnectionOpen() {
			t := b.client.Publish(b.statusTopic(), 1, true, offlinePayload)
			t.WaitTimeout(2 * time.Second)
		}
		b.client.Disconnect(250)
	}()
	statusT := time.NewTicker(b.cfg.MQTT.StatusInterval)
	defer statusT.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-b.configCh:
			b.applyConfig(p)
			b.publishStatus()
			continue
		case <-b.statusKick:
			b.publishStatus()
			continue
		case <-statusT.C:
			b.publishStatus()
			continue
		default:
		}
		if !b.client.IsConnectionOpen() {
			b.wait(ctx, 100*time.Millisecond, nil)
			continue
		}
		n, err := b.forward(ctx)
		if err != nil && ctx.Err() != nil {
			return nil // stopping: the window stays queued for the next start
		}
		if err != nil {
			b.log.Warn("forwarding stopped; will resend from the oldest unacknowledged reading", "err", err)
			b.q.Rewind()
			b.wait(ctx, time.Second, nil)
			continue
		}
		if n == 0 {
			b.wait(ctx, time.Second, b.q.Notify())
		}
	}
}

func (b *Bridge) wait(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	case <-b.statusKick:
		select {
		case b.statusKick <- struct{}{}:
		default:
		}
	case p := <-b.configCh:
		b.configCh <- p
	}
}

type pending struct {
	tok   mqtt.Token
	count int
}

// forward publishes one window of queued readings and acknowledges it in the
// queue once every message of it has its PUBACK. It returns how many
// readings it forwarded.
func (b *Bridge) forward(ctx context.Context) (int, error) {
	recs, err := b.q.Read(b.cfg.MQTT.Window)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	// Group by topic, keeping each topic's order; topics go out in order of
	// their first reading.
	type group struct {
		topic string
		objs  [][]byte
	}
	var groups []*group
	idx := map[string]*group{}
	for _, r := range recs {
		rec, err := UnmarshalRecord(r.Data)
		if err != nil {
			b.log.Error("dropping unreadable queue record", "seq", r.Seq, "err", err)
			continue
		}
		g := idx[rec.Topic]
		if g == nil {
			g = &group{topic: rec.Topic}
			idx[rec.Topic] = g
			groups = append(groups, g)
		}
		g.objs = append(g.objs, rec.JSON)
	}
	var toks []pending
	for _, g := range groups {
		_, ch, _ := revloop.ParseTopic(g.topic)
		step := b.cfg.MQTT.BatchMax
		if !batchable(ch) {
			step = 1
		}
		for i := 0; i < len(g.objs); i += step {
			part := g.objs[i:min(i+step, len(g.objs))]
			var payload []byte
			if step == 1 {
				payload = part[0]
			} else {
				payload = append(append([]byte{'['}, bytes.Join(part, []byte{','})...), ']')
			}
			toks = append(toks, pending{b.client.Publish(g.topic, 1, false, payload), len(part)})
		}
	}
	for _, p := range toks {
		if err := b.waitAck(ctx, p.tok); err != nil {
			return 0, err
		}
	}
	if err := b.q.Ack(recs[len(recs)-1].Seq); err != nil {
		return 0, err
	}
	b.published.Add(uint64(len(recs)))
	b.messages.Add(uint64(len(toks)))
	return len(recs), nil
}

// waitAck waits for a PUBACK. Time without a connection does not count
// against PublishTimeout: the client resends in-flight messages itself after
// a reconnect.
func (b *Bridge) waitAck(ctx context.Context, t mqtt.Token) error {
	var open time.Duration
	const step = 100 * time.Millisecond
	for !t.WaitTimeout(step) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if b.client.IsConnectionOpen() {
			open += step
		}
		if open > b.cfg.MQTT.PublishTimeout {
			return fmt.Errorf("bridge: no PUBACK within %v", b.cfg.MQTT.PublishTimeout)
		}
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("bridge: publish: %w", err)
	}
	return nil
}

// Status is the gateway's health report on revloop/v1/<id>/status.
type Status struct {
	Device        revloop.DeviceID  `json:"device"`
	TS            ts                `json:"ts"`
	Online        bool              `json:"online"`
	Firmware      string            `json:"firmware,omitempty"`
	UptimeS       float64           `json:"uptime_s"`
	ConfigVersion int64             `json:"config_version,omitempty"`
	ConfigError   string            `json:"config_error,omitempty"`
	QueueLen      int               `json:"queue_len"`
	QueueDropped  uint64            `json:"queue_dropped"`
	QueueOverflow string            `json:"queue_overflow"`
	QueueTornB    int64             `json:"queue_truncated_bytes,omitempty"`
	Published     uint64            `json:"published"`
	NoFix         uint64            `json:"gps_no_fix,omitempty"`
	FireAlerts    uint64            `json:"fire_alerts,omitempty"`
	SensorErrors  map[string]uint64 `json:"sensor_errors,omitempty"`
}

// StatusNow returns the current status.
func (b *Bridge) StatusNow() Status {
	st := b.q.Stats()
	b.mu.Lock()
	s := Status{Device: b.cfg.DeviceID, TS: ts(b.now()), Online: true, Firmware: b.cfg.Firmware,
		UptimeS: time.Since(b.start).Round(time.Second).Seconds(), ConfigVersion: b.configVersion, ConfigError: b.configErr}
	b.mu.Unlock()
	s.QueueLen, s.QueueDropped, s.QueueTornB = st.Len, st.Dropped, st.TruncatedBytes
	s.QueueOverflow = string(b.cfg.QueueOptions().Overflow)
	if s.QueueOverflow == "" {
		s.QueueOverflow = string(queue.DropOldest)
	}
	s.Published, s.NoFix, s.FireAlerts = b.published.Load(), b.noFix.Load(), b.fireAlerts.Load()
	for _, x := range b.sensors {
		if n := x.errs.Load(); n > 0 {
			if s.SensorErrors == nil {
				s.SensorErrors = map[string]uint64{}
			}
			s.SensorErrors[x.conf.Name] = n
		}
	}
	return s
}

func (b *Bridge) publishStatus() {
	if b.client == nil || !b.client.IsConnectionOpen() {
		return
	}
	p, err := json.Marshal(b.StatusNow())
	if err != nil {
		b.log.Error("status", "err", err)
		return
	}
	b.client.Publish(b.statusTopic(), 1, true, p) // completion not awaited: the next status supersedes it
}

// RuntimeConfig is the JSON the server publishes, retained, on
// revloop/v1/<id>/config. Unknown fields are rejected.
type RuntimeConfig struct {
	// Version must grow with every change; the applied one is reported in status.
	Version int64 `json:"version"`
	// Intervals by device name, as Go durations ("30s", "5m").
	Intervals map[string]string `json:"intervals,omitempty"`
	// Thresholds replace the configured ones field by field.
	Thresholds *struct {
		FireTempC         *float64 `json:"fire_temp_c,omitempty"`
		StableToleranceKg *float64 `json:"stable_tolerance_kg,omitempty"`
	} `json:"thresholds,omitempty"`
}

// ApplyConfig validates and applies a runtime config message. A message with
// a version not above the applied one is ignored (a retained copy seen again
// after a reconnect).
func (b *Bridge) ApplyConfig(payload []byte) error {
	var rc RuntimeConfig
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rc); err != nil {
		return fmt.Errorf("%w: %v", ErrRuntimeConfig, err)
	}
	if rc.Version <= 0 {
		return fmt.Errorf("%w: version %d must be positive", ErrRuntimeConfig, rc.Version)
	}
	b.mu.Lock()
	applied := b.configVersion
	b.mu.Unlock()
	if rc.Version <= applied {
		return nil
	}
	iv := map[*sensor]time.Duration{}
	for name, s := range rc.Intervals {
		x, ok := b.byName[name]
		if !ok {
			return fmt.Errorf("%w: intervals: no device %q", ErrRuntimeConfig, name)
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 10*time.Millisecond || d > 24*time.Hour {
			return fmt.Errorf("%w: intervals.%s: %q: want a duration from 10ms to 24h", ErrRuntimeConfig, name, s)
		}
		iv[x] = d
	}
	thr := b.thresholds()
	if t := rc.Thresholds; t != nil {
		if t.FireTempC != nil {
			if *t.FireTempC < 30 || *t.FireTempC > 125 {
				return fmt.Errorf("%w: fire_temp_c %v outside 30..125", ErrRuntimeConfig, *t.FireTempC)
			}
			thr.FireTempC = *t.FireTempC
		}
		if t.StableToleranceKg != nil {
			if *t.StableToleranceKg <= 0 {
				return fmt.Errorf("%w: stable_tolerance_kg %v must be positive", ErrRuntimeConfig, *t.StableToleranceKg)
			}
			thr.StableToleranceKg = *t.StableToleranceKg
		}
	}
	for x, d := range iv {
		x.setInterval(d)
	}
	b.mu.Lock()
	b.thr = thr
	b.configVersion = rc.Version
	b.configErr = ""
	b.mu.Unlock()
	return nil
}

func (b *Bridge) applyConfig(p []byte) {
	if err := b.ApplyConfig(p); err != nil {
		b.log.Warn("rejected runtime config", "err", err)
		b.mu.Lock()
		b.configErr = err.Error()
		b.mu.Unlock()
		return
	}
	b.log.Info("runtime config applied", "version", b.StatusNow().ConfigVersion)
}

func nan() float64 { var z float64; return z / z }
