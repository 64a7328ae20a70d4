package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// MQTTConfig configures the MQTT source.
type MQTTConfig struct {
	// URL of the broker, e.g. tcp://127.0.0.1:1883 or ssl://host:8883.
	URL string
	// ClientID must be stable across restarts (the broker keeps the
	// session, and so the unacknowledged messages, under it) and unique
	// among ingest replicas.
	ClientID           string
	Username, Password string
	// ShareGroup, when set, subscribes through $share/<group>/... so that
	// replicas of one group each get a part of the stream.
	ShareGroup string
	// Filter is the subscription; default revloop/v1/+/+.
	Filter    string
	TLSConfig *tls.Config
	// ConnectTimeout bounds one connection attempt; default 10s.
	ConnectTimeout time.Duration
	// MaxQueue bounds the messages received and not yet taken by the
	// pipeline; default 65536 (the most a broker can have in flight to one
	// client). paho's reader waits while it is full.
	MaxQueue int
}

// MQTTSource receives device messages from a broker with QoS 1 over a
// persistent session and hands them to the pipeline; the pipeline
// acknowledges each after it is durably handled.
type MQTTSource struct {
	log       *slog.Logger
	cfg       MQTTConfig
	client    paho.Client
	connected atomic.Bool
	// conn is the latest connection, on which acknowledgements are
	// written directly (nil when paho's own dialer is in use).
	conn atomic.Pointer[bufferedConn]

	mu       sync.Mutex
	space    *sync.Cond // signalled when the queue shrinks or closes
	queue    []Message
	maxQueue int
	closed   bool
	ready    chan struct{}
}

var _ Source = (*MQTTSource)(nil)

// NewMQTTSource returns a source for cfg; it connects in Run.
func NewMQTTSource(log *slog.Logger, cfg MQTTConfig) (*MQTTSource, error) {
	if cfg.URL == "" {
		return nil, errors.New("ingest mqtt: no broker url")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("ingest mqtt: no client id")
	}
	if cfg.Filter == "" {
		cfg.Filter = "revloop/v1/+/+"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 65536
	}
	src := &MQTTSource{log: log, cfg: cfg, maxQueue: cfg.MaxQueue, ready: make(chan struct{}, 1)}
	src.space = sync.NewCond(&src.mu)
	return src, nil
}

// Subscription returns the filter the source subscribes to.
func (s *MQTTSource) Subscription() string {
	if s.cfg.ShareGroup != "" {
		return "$share/" + s.cfg.ShareGroup + "/" + s.cfg.Filter
	}
	return s.cfg.Filter
}

// Connected reports whether the client is connected to the broker.
func (s *MQTTSource) Connected() bool { return s.connected.Load() }

// handle is the paho message handler. It only appends the message to the
// source's bounded queue (waiting while it is full) and returns at once;
// messages the pipeline no longer takes stay unacknowledged and the broker
// delivers them again.
func (s *MQTTSource) handle(_ paho.Client, m paho.Message) {
	msg := Message{Topic: m.Topic(), Payload: m.Payload(), Received: time.Now(), Ack: m.Ack}
	if bc := s.conn.Load(); bc != nil && m.Qos() == 1 {
		// The PUBACK is 4 bytes queued on the connection: paho's Ack
		// formats a store key, allocates a packet and hands it to its
		// writer goroutine through a channel for each message.
		id := m.MessageID()
		msg.Ack = func() { bc.puback(id) }
	}
	s.mu.Lock()
	for len(s.queue) >= s.maxQueue && !s.closed {
		s.space.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, msg)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// pump moves queued messages into the pipeline until ctx ends.
func (s *MQTTSource) pump(ctx context.Context, out chan<- Message) {
	var batch []Message
	for {
		select {
		case <-s.ready:
		case <-ctx.Done():
			return
		}
		for {
			s.mu.Lock()
			batch, s.queue = s.queue, batch[:0]
			s.space.Broadcast()
			s.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, m := range batch {
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
				batch[i] = Message{}
			}
		}
	}
}

// readGather is how long the ingest connection waits before reading again
// after a short read.
const readGather = 500 * time.Microsecond

// Run connects (retrying until ctx ends), subscribes on every connect and
// delivers messages to out until ctx ends. The connection stays open after
// Run returns so that the pipeline can still acknowledge; Close ends it.
func (s *MQTTSource) Run(ctx context.Context, out chan<- Message) error {
	o := paho.NewClientOptions().
		AddBroker(s.cfg.URL).
		SetClientID(s.cfg.ClientID).
		SetCleanSession(false).
		// paho runs each handler in a goroutine of its own unless order
		// matters; handle only appends to the queue, and a queue of
		// 65535 or more cannot fill from one connection's in-flight
		// messages, so it runs on paho's router instead. With a smaller
		// queue handle may wait, and must not hold the router.
		SetOrderMatters(s.maxQueue >= 65535).
		SetAutoAckDisabled(true).
		SetStore(newAckStore()).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(s.cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetResumeSubs(true).
		SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
			c, err := dialMQTT(uri, s.cfg.TLSConfig, s.cfg.ConnectTimeout, readGather)
			if bc, ok := c.(*bufferedConn); ok && err == nil {
				s.conn.Store(bc)
			}
			return c, err
		}).
		SetDefaultPublishHandler(s.handle).
		SetOnConnectHandler(func(c paho.Client) {
			s.connected.Store(true)
			filter := s.Subscription()
			s.log.Info("ingest: connected to broker", "url", s.cfg.URL, "client_id", s.cfg.ClientID, "subscription", filter)
			// No callback: messages go to the default handler. A route
			// would make paho split the filter and the topic on "/" for
			// every message to match them.
			tok := c.Subscribe(filter, 1, nil)
			go func() {
				if tok.WaitTimeout(30*time.Second) && tok.Error() != nil {
					s.log.Error("ingest: subscribe failed", "filter", filter, "err", tok.Error())
				}
			}()
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.connected.Store(false)
			s.log.Warn("ingest: broker connection lost; reconnecting", "err", err)
		})
	if s.cfg.Username != "" {
		o.SetUsername(s.cfg.Username)
		o.SetPassword(s.cfg.Password)
	}
	if s.cfg.TLSConfig != nil {
		o.SetTLSConfig(s.cfg.TLSConfig)
	}
	s.client = paho.NewClient(o)
	tok := s.client.Connect()
	for !tok.WaitTimeout(200 * time.Millisecond) {
		if ctx.Err() != nil {
			s.shutdownIntake()
			return nil
		}
	}
	if err := tok.Error(); err != nil {
		s.shutdownIntake()
		return fmt.Errorf("connect %s: %w", s.cfg.URL, err)
	}
	s.pump(ctx, out)
	s.shutdownIntake()
	return nil
}

func (s *MQTTSource) shutdownIntake() {
	s.mu.Lock()
	s.closed = true
	s.queue = nil
	s.space.Broadcast()
	s.mu.Unlock()
}

// Close disconnects from the broker; unacknowledged messages stay in the
// session for the next connection.
func (s *MQTTSource) Close() error {
	if s.client != nil {
		s.client.Disconnect(500)
	}
	s.connected.Store(false)
	return nil
}
