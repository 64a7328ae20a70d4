package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"go.etcd.io/bbolt"
)

// Hook is an extra mochi hook with its configuration.
type Hook struct {
	Hook   mqtt.Hook
	Config any
}

// Options configure the embedded broker.
type Options struct {
	// Addr is the plain TCP listener, e.g. ":1883" (":0" picks a free port).
	Addr string
	// TLSAddr, when set with TLSConfig, adds an MQTT over TLS listener.
	TLSAddr   string
	TLSConfig *tls.Config
	// DataDir, when set, keeps sessions, subscriptions and in-flight
	// messages in DataDir/mqtt.bolt and retained messages in
	// DataDir/retained.bolt (written every 100 ms) across restarts.
	DataDir string
	// InflightMax is how many unacknowledged QoS 1/2 messages the broker
	// keeps per client (and so for a persistent session while its client is
	// away); default and maximum 65535. Messages beyond it are dropped, so it
	// bounds how far ingest may fall behind.
	InflightMax int
	// ReceiveMaximum is how many unacknowledged QoS messages a client may
	// send concurrently; default 65535.
	ReceiveMaximum int
	// ClientWritesPending is the per-client outbound queue (allocated for
	// every connection); default 8192. Past it the broker drops messages,
	// so it must stay above BackpressureHigh.
	ClientWritesPending int
	// Journal keeps every QoS 1/2 publication from a client in
	// DataDir/journal before acknowledging it, until each subscriber that
	// takes it at QoS 1/2 has acknowledged it, and publishes again after a
	// restart what was not: a crash of the process then loses no message
	// the broker acknowledged. Without it a restart keeps sessions,
	// subscriptions and retained messages but not the messages in flight.
	Journal bool
	// SyncWrites fsyncs the session store on every change and the journal
	// on every write (survives a power loss, not only a process crash).
	SyncWrites bool
	// BackpressureHigh is the number of messages in flight to subscribers
	// above which publishers are held (until it falls below half of it);
	// default 4096 (at most half of ClientWritesPending). Holding publishers
	// keeps a slow ingest from reaching InflightMax or its outbound queue,
	// where the broker would drop messages.
	BackpressureHigh int
	// BackpressureWait is the longest one publication is held; default 10s,
	// negative disables backpressure.
	BackpressureWait time.Duration
	// Hooks are added in order before the listeners start. When none of
	// them handles authentication (OnConnectAuthenticate), AllowAll must be
	// set, or New fails.
	Hooks []Hook
	// AllowAll admits every client and topic when no auth hook is given.
	AllowAll bool
}

// ErrNoAuth is returned by New when no hook authenticates clients and
// AllowAll is not set.
var ErrNoAuth = errors.New("broker: no authentication hook and AllowAll not set")

// Broker is the embedded MQTT broker.
type Broker struct {
	log  *slog.Logger
	srv  *mqtt.Server
	tcp  net.Listener
	tls  net.Listener
	done chan struct{}

	journal *journal // nil without Options.Journal
}

// New builds the broker and opens its listeners (so Addr is known at once);
// Run starts serving.
func New(log *slog.Logger, opts Options) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Addr == "" {
		opts.Addr = ":1883"
	}
	if opts.InflightMax <= 0 || opts.InflightMax > 65535 {
		opts.InflightMax = 65535
	}
	if opts.ReceiveMaximum <= 0 || opts.ReceiveMaximum > 65535 {
		opts.ReceiveMaximum = 65535
	}
	if opts.ClientWritesPending <= 0 {
		opts.ClientWritesPending = 8192
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = uint16(opts.InflightMax)
	caps.ReceiveMaximum = uint16(opts.ReceiveMaximum)
	caps.MaximumClientWritesPending = int32(opts.ClientWritesPending)
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	srv := mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		InlineClient:             true,
		Logger:                   log.With("component", "mqtt-broker"),
		SysTopicResendInterval:   0,
		ClientNetWriteBufferSize: 32 << 10,
		ClientNetReadBufferSize:  16 << 10,
	})
	hasAuth := false
	for _, h := range opts.Hooks {
		if h.Hook.Provides(mqtt.OnConnectAuthenticate) {
			hasAuth = true
		}
		if err := srv.AddHook(h.Hook, h.Config); err != nil {
			return nil, fmt.Errorf("broker: hook %s: %w", h.Hook.ID(), err)
		}
	}
	if !hasAuth {
		if !opts.AllowAll {
			return nil, ErrNoAuth
		}
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			return nil, fmt.Errorf("broker: allow-all hook: %w", err)
		}
	}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		err := srv.AddHook(&sessionStore{Hook: new(bolt.Hook)}, &bolt.Options{
			Path:    filepath.Join(opts.DataDir, "mqtt.bolt"),
			Options: &bbolt.Options{Timeout: 2 * time.Second, NoSync: !opts.SyncWrites},
		})
		if err != nil {
			return nil, fmt.Errorf("broker: session store: %w", err)
		}
		rs, err := openRetainedStore(filepath.Join(opts.DataDir, "retained.bolt"),
			&bbolt.Options{Timeout: 2 * time.Second, NoSync: !opts.SyncWrites}, 100*time.Millisecond, log.With("component", "mqtt-broker"))
		if err != nil {
			return nil, err
		}
		if err := srv.AddHook(rs, nil); err != nil {
			rs.Stop()
			return nil, fmt.Errorf("broker: retained store: %w", err)
		}
	}
	if opts.BackpressureWait == 0 {
		opts.BackpressureWait = 10 * time.Second
	}
	if opts.BackpressureWait > 0 {
		if limit := min(opts.InflightMax, opts.ClientWritesPending/2); opts.BackpressureHigh <= 0 || opts.BackpressureHigh > limit {
			opts.BackpressureHigh = min(4096, limit)
		}
		bp := &backpressure{srv: srv, high: int64(opts.BackpressureHigh), low: int64(opts.BackpressureHigh) / 2, maxWait: opts.BackpressureWait}
		if err := srv.AddHook(bp, nil); err != nil {
			return nil, fmt.Errorf("broker: backpressure hook: %w", err)
		}
	}
	b := &Broker{log: log, srv: srv, done: make(chan struct{})}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", opts.Addr, err)
	}
	b.tcp = ln
	if err := srv.AddListener(listeners.NewNet("tcp", coalescingListener{ln})); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if opts.TLSAddr != "" && opts.TLSConfig != nil {
		// Not coalesced: hooks identify devices by the connection's
		// *tls.Conn (client certificates), and TLS records are not MQTT
		// packets the coalescing could recognise anyway.
		tl, err := tls.Listen("tcp", opts.TLSAddr, opts.TLSConfig)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("broker: listen tls %s: %w", opts.TLSAddr, err)
		}
		b.tls = tl
		if err := srv.AddListener(listeners.NewNet("tls", tl)); err != nil {
			ln.Close()
			tl.Close()
			return nil, fmt.Errorf("broker: %w", err)
		}
	}
	if opts.DataDir != "" && opts.Journal {
		// Last: what an earlier hook holds or refuses is not journalled.
		j, err := openJournal(filepath.Join(opts.DataDir, "journal"), opts.SyncWrites, log.With("component", "mqtt-broker"))
		if err == nil {
			if err = srv.AddHook(j, nil); err != nil {
				j.close()
				err = fmt.Errorf("broker: journal hook: %w", err)
			}
		}
		if err != nil {
			b.tcp.Close()
			if b.tls != nil {
				b.tls.Close()
			}
			return nil, err
		}
		b.journal = j
	}
	return b, nil
}

// JournalStats reports the state of the journal (zero without
// Options.Journal).
func (b *Broker) JournalStats() JournalStats {
	if b.journal == nil {
		return JournalStats{}
	}
	return b.journal.stats()
}

// Addr returns the address of the plain TCP listener.
func (b *Broker) Addr() string { return b.tcp.Addr().String() }

// TLSAddr returns the address of the TLS listener, or "".
func (b *Broker) TLSAddr() string {
	if b.tls == nil {
		return ""
	}
	return b.tls.Addr().String()
}

// URL returns a tcp:// URL a client on this host can connect to.
func (b *Broker) URL() string {
	host, port, _ := net.SplitHostPort(b.Addr())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Server exposes the mochi server, e.g. for publishing inline.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// Healthy reports whether the broker is serving.
func (b *Broker) Healthy() error {
	select {
	case <-b.done:
		return errors.New("broker: stopped")
	default:
		return nil
	}
}

// Run serves until ctx ends, then closes every client and the session store.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		close(b.done)
		return fmt.Errorf("broker: serve: %w", err)
	}
	b.log.Info("mqtt broker listening", "addr", b.Addr(), "tls", b.TLSAddr())
	if b.journal != nil {
		// The session store has restored the sessions the publications
		// still in the journal go to.
		b.journal.start(b.srv)
	}
	<-ctx.Done()
	err := b.srv.Close()
	close(b.done)
	if err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// sessionStore is mochi's bolt storage hook without the retained messages
// (retainedStore batches those) and without the per-message in-flight
// events (the journal keeps what is in flight).
type sessionStore struct {
	*bolt.Hook
}

// Provides leaves out retained and in-flight messages.
func (h *sessionStore) Provides(b byte) bool {
	switch b {
	case mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.StoredInflightMessages,
		mqtt.OnSysInfoTick, mqtt.StoredSysInfo, mqtt.OnRetainMessage, mqtt.StoredRetainedMessages:
		return false
	}
	return h.Hook.Provides(b)
}
