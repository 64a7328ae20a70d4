package sim

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/revloop/revloop"
)

// Sentinel errors of the MQTT publisher.
var (
	ErrNoCredentials  = errors.New("no credentials for device")
	ErrBadCredentials = errors.New("invalid credentials file")
)

// MQTTConfig configures an MQTTPublisher.
type MQTTConfig struct {
	// URL of the broker, e.g. tcp://127.0.0.1:1883.
	URL string
	// Username and Password of the single shared connection.
	Username, Password string
	// Credentials, when set, switch to one connection per device with
	// username = device id and password = secret, so brokers can enforce
	// per-device ACLs; each connection has the last will
	// {"online":false} retained on the device's status topic.
	Credentials map[revloop.DeviceID]string
	// QoS of publications (default 1).
	QoS byte
	// MaxInflight bounds the publications awaiting acknowledgement
	// (default 64).
	MaxInflight int
	// ClientID of the shared connection, or prefix of per-device ones
	// (default "revloop-sim").
	ClientID string
	// ConnectTimeout (default 10s) and AckTimeout (default 30s).
	ConnectTimeout, AckTimeout time.Duration
	// Log receives connection events; nil discards them.
	Log *slog.Logger
}

// MQTTPublisher publishes simulated messages with paho, waiting for QoS 1
// acknowledgements in the background with a bounded number in flight.
type MQTTPublisher struct {
	cfg     MQTTConfig
	sem     chan struct{}
	mu      sync.Mutex
	shared  mqtt.Client
	clients map[revloop.DeviceID]mqtt.Client
	failed  atomic.Int64
	logged  atomic.Int64
	missing map[revloop.DeviceID]bool
}

var (
	_ Publisher      = (*MQTTPublisher)(nil)
	_ Flusher        = (*MQTTPublisher)(nil)
	_ FailureCounter = (*MQTTPublisher)(nil)
)

// NewMQTTPublisher connects to the broker (the shared connection at once;
// per-device connections on first use).
func NewMQTTPublisher(ctx context.Context, cfg MQTTConfig) (*MQTTPublisher, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("mqtt publisher: empty broker url")
	}
	if cfg.QoS == 0 {
		cfg.QoS = 1
	}
	if cfg.QoS > 2 {
		return nil, fmt.Errorf("mqtt publisher: qos %d not in 0..2", cfg.QoS)
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 64
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "revloop-sim"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &MQTTPublisher{cfg: cfg, sem: make(chan struct{}, cfg.MaxInflight),
		clients: map[revloop.DeviceID]mqtt.Client{}, missing: map[revloop.DeviceID]bool{}}
	if cfg.Credentials == nil {
		c, err := p.connect(ctx, cfg.ClientID, cfg.Username, cfg.Password, "")
		if err != nil {
			return nil, err
		}
		p.shared = c
	}
	return p, nil
}

func (p *MQTTPublisher) connect(ctx context.Context, clientID, user, pass string, dev revloop.DeviceID) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(p.cfg.URL).SetClientID(clientID).
		SetAutoReconnect(true).SetConnectRetry(false).SetOrderMatters(false).
		SetCleanSession(true).SetKeepAlive(30 * time.Second).SetConnectTimeout(p.cfg.ConnectTimeout).
		SetWriteTimeout(p.cfg.AckTimeout).SetMaxReconnectInterval(10 * time.Second)
	if user != "" {
		o.SetUsername(user)
		o.SetPassword(pass)
	}
	if dev != "" {
		o.SetBinaryWill(revloop.Topic(dev, revloop.ChannelStatus), OfflinePayload, 1, true)
	}
	log := p.cfg.Log
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		log.Warn("simulate: mqtt connection lost", "client", clientID, "err", err)
	})
	c := mqtt.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, fmt.Errorf("mqtt connect %s: %w", p.cfg.URL, ctx.Err())
	case <-time.After(p.cfg.ConnectTimeout + time.Second):
		return nil, fmt.Errorf("mqtt connect %s: timed out after %s", p.cfg.URL, p.cfg.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mqtt connect %s as %s: %w", p.cfg.URL, clientID, err)
	}
	return c, nil
}

func (p *MQTTPublisher) client(ctx context.Context, dev revloop.DeviceID) (mqtt.Client, error) {
	if p.shared != nil {
		return p.shared, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[dev]; ok {
		return c, nil
	}
	secret, ok := p.cfg.Credentials[dev]
	if !ok {
		if !p.missing[dev] {
			p.missing[dev] = true
			p.cfg.Log.Warn("simulate: device has no credentials; its messages are skipped", "device", dev)
		}
		return nil, fmt.Errorf("publish for %s: %w", dev, ErrNoCredentials)
	}
	c, err := p.connect(ctx, p.cfg.ClientID+"-"+string(dev), string(dev), secret, dev)
	if err != nil {
		return nil, err
	}
	p.clients[dev] = c
	return c, nil
}

// Publish hands m to the broker connection of its device. It blocks while
// MaxInflight publications await acknowledgement; a publication that is not
// acknowledged within AckTimeout counts as failed (see Failed).
func (p *MQTTPublisher) Publish(ctx context.Context, m Message) error {
	c, err := p.client(ctx, m.Device)
	if err != nil {
		return err
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("publish %s: %w", m.Topic, ctx.Err())
	}
	tok := c.Publish(m.Topic, p.cfg.QoS, m.Retained, m.Payload)
	go func() {
		defer func() { <-p.sem }()
		if !tok.WaitTimeout(p.cfg.AckTimeout) {
			p.fail(m.Topic, errors.New("acknowledgement timed out"))
			return
		}
		if err := tok.Error(); err != nil {
			p.fail(m.Topic, err)
		}
	}()
	return nil
}

func (p *MQTTPublisher) fail(topic string, err error) {
	p.failed.Add(1)
	if p.logged.Add(1) <= 20 {
		p.cfg.Log.Warn("simulate: publish not acknowledged", "topic", topic, "err", err)
	}
}

// Failed returns how many publications failed after Publish returned.
func (p *MQTTPublisher) Failed() int64 { return p.failed.Load() }

// Flush waits until no publication is in flight.
func (p *MQTTPublisher) Flush(ctx context.Context) error {
	for i := 0; i < cap(p.sem); i++ {
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			for ; i > 0; i-- {
				<-p.sem
			}
			return fmt.Errorf("flush: %w", ctx.Err())
		}
	}
	for i := 0; i < cap(p.sem); i++ {
		<-p.sem
	}
	return nil
}

// Close flushes and disconnects every connection. Per-device connections
// disconnect cleanly, so their last will is not published.
func (p *MQTTPublisher) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.AckTimeout)
	defer cancel()
	err := p.Flush(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shared != nil {
		p.shared.Disconnect(250)
	}
	for _, c := range p.clients {
		c.Disconnect(250)
	}
	return err
}

// ReadCredentials reads a CSV file of device_id,secret lines. A first line
// "device_id,secret" is a header; blank lines and lines starting with # are
// skipped.
func ReadCredentials(r io.Reader) (map[revloop.DeviceID]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	out := map[revloop.DeviceID]string{}
	for line := 0; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read credentials: %w: %w", ErrBadCredentials, err)
		}
		row, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return nil, fmt.Errorf("read credentials: %w: line %d has %d fields, want device_id,secret", ErrBadCredentials, row, len(rec))
		}
		id, secret := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if line == 0 && strings.EqualFold(id, "device_id") {
			continue
		}
		dev, err := revloop.ParseDeviceID(id)
		if err != nil {
			return nil, fmt.Errorf("read credentials: %w: line %d: %w", ErrBadCredentials, row, err)
		}
		if secret == "" {
			return nil, fmt.Errorf("read credentials: %w: line %d: empty secret for %s", ErrBadCredentials, row, dev)
		}
		if _, dup := out[dev]; dup {
			return nil, fmt.Errorf("read credentials: %w: line %d: device %s listed twice", ErrBadCredentials, row, dev)
		}
		out[dev] = secret
	}
	return out, nil
}
