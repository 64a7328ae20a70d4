package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/broker"
	"github.com/revloop/revloop/devices"
)

// ingestAccount is the MQTT user of the ingest client on the embedded broker.
const ingestAccount = "revloop-ingest"

func init() {
	registerWiring("devices", wireDevices)
}

// wireDevices attaches the device registry: per-device authentication and
// ACL on the embedded broker (the ingest client gets a service account with
// a secret made at each start), the ingest-side device check, device health
// from status messages and silence, and the config downlink.
func wireDevices(ctx context.Context, a *app) error {
	log := a.log.With("part", "devices")
	reg := devices.NewRegistry(a.DB, log, devices.Options{})
	if a.role == roleServe && a.cfg.mqttURL == "" {
		secret, err := devices.NewSecret()
		if err != nil {
			return err
		}
		a.cfg.mqttUser, a.cfg.mqttPass = ingestAccount, secret
		auth := devices.NewMQTTAuth(reg, devices.ServiceAccount{Username: ingestAccount, Secret: secret})
		auth.SetLogger(log)
		a.BrokerHooks = append(a.BrokerHooks, broker.Hook{Hook: auth})
		if c := a.cfg; c.mqttTLSAddr != "" {
			tlsCfg, err := devices.ServerTLSConfig(c.mqttTLSCert, c.mqttTLSKey, c.mqttTLSClientCA, false)
			if err != nil {
				return fmt.Errorf("--mqtt-tls-addr: %w", err)
			}
			a.BrokerTLS = tlsCfg
		}
		a.Runners = append(a.Runners, func(ctx context.Context) error { return auth.Run(ctx, 30*time.Second) })
	}
	a.Ingest.Devices = devices.NewChecker(reg, 10*time.Second)
	health := devices.NewHealth(reg, log, devices.HealthOptions{})
	if err := health.Load(ctx); err != nil {
		return err
	}
	a.Ingest.Observers = append(a.Ingest.Observers, health)
	a.Runners = append(a.Runners, health.Run)
	pub := &downlinkPublisher{a: a}
	a.Closers = append(a.Closers, pub.close)
	a.API.Devices = api.DevicesDeps{Registry: reg, Downlink: devices.NewDownlink(reg, pub), Health: health}
	return nil
}

// downlinkPublisher publishes retained config messages through the embedded
// broker, or through its own MQTT connection to an external broker (with the
// ingest client's credentials), made at the first downlink.
type downlinkPublisher struct {
	a      *app
	mu     sync.Mutex
	client paho.Client
}

var _ devices.Publisher = (*downlinkPublisher)(nil)

func (p *downlinkPublisher) Publish(topic string, payload []byte, retain bool, qos byte) error {
	if b := p.a.broker; b != nil {
		return b.Server().Publish(topic, payload, retain, qos)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		cfg := p.a.cfg
		opts := paho.NewClientOptions().AddBroker(cfg.mqttURL).SetClientID(cfg.clientID + "-downlink").
			SetUsername(cfg.mqttUser).SetPassword(cfg.mqttPass).SetAutoReconnect(true).SetConnectTimeout(10 * time.Second)
		c := paho.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(15 * time.Second) {
			return fmt.Errorf("downlink: connect %s: no answer in 15 s", cfg.mqttURL)
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("downlink: connect %s: %w", cfg.mqttURL, err)
		}
		p.client = c
	}
	tok := p.client.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(15 * time.Second) {
		return fmt.Errorf("downlink: publish %s: no acknowledgement in 15 s", topic)
	}
	return tok.Error()
}

func (p *downlinkPublisher) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Disconnect(250)
	}
	return nil
}
