package devices

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/revloop/revloop"
)

// ServiceAccount is a non-device MQTT client (the ingest consumer): it may
// read everything under revloop/v1/ (shared subscriptions included) and
// write downlink config topics. Exactly one of Secret (compared in constant
// time) or Hash (argon2id PHC) authenticates it.
type ServiceAccount struct {
	Username string
	Secret   string
	Hash     string
}

// UplinkChannels are the channels a device may publish on, under its own id.
var UplinkChannels = []revloop.Channel{revloop.ChannelGPS, revloop.ChannelFill, revloop.ChannelRFID,
	revloop.ChannelWeight, revloop.ChannelStatus}

// identity is who an authenticated MQTT client is.
type identity struct {
	device  revloop.DeviceID // set for devices
	service string           // set for service accounts
	version int64            // credential version at connect
}

// MQTTAuth is a mochi-mqtt hook that authenticates CONNECT against the
// registry and enforces the v1 topic ACL. Devices connect with username =
// device id and password = secret, or over TLS with a client certificate
// whose common name is the device id. A device may publish only its uplink
// channels under revloop/v1/<its id>/ (gps, fill, rfid, weight, status; never
// config) and read only
// revloop/v1/<its id>/config; service accounts read revloop/v1/# and write
// revloop/v1/<id>/config; anonymous clients are refused.
//
// Wire it into the embedded broker before Serve:
//
//	auth := devices.NewMQTTAuth(reg, devices.ServiceAccount{Username: "ingest", Secret: pw})
//	auth.SetLogger(log)
//	if err := server.AddHook(auth, nil); err != nil { ... }
//	go auth.Run(ctx, 30*time.Second) // re-checks live sessions against the store
type MQTTAuth struct {
	mqtt.HookBase
	reg      *Registry
	services map[string]ServiceAccount
	log      *slog.Logger
	timeout  time.Duration

	mu       sync.Mutex
	clients  map[*mqtt.Client]identity
	byDevice map[revloop.DeviceID]map[*mqtt.Client]struct{}

	accepted, refused atomic.Int64
}

var _ mqtt.Hook = (*MQTTAuth)(nil)

// NewMQTTAuth returns the hook; it subscribes to reg's changes so that a
// rotated, disabled or revoked device is disconnected at once.
func NewMQTTAuth(reg *Registry, services ...ServiceAccount) *MQTTAuth {
	a := &MQTTAuth{reg: reg, services: map[string]ServiceAccount{}, log: slog.New(slog.DiscardHandler),
		timeout: 5 * time.Second, clients: map[*mqtt.Client]identity{}, byDevice: map[revloop.DeviceID]map[*mqtt.Client]struct{}{}}
	for _, s := range services {
		a.services[s.Username] = s
	}
	reg.Subscribe(a.onChange)
	return a
}

// SetLogger sets the logger for refused connections (never with secrets).
func (a *MQTTAuth) SetLogger(l *slog.Logger) {
	if l != nil {
		a.log = l
	}
}

// ID names the hook.
func (a *MQTTAuth) ID() string { return "revloop-device-auth" }

// Provides says which hook methods MQTTAuth implements.
func (a *MQTTAuth) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnDisconnect}, []byte{b})
}

// AuthStats are counters of CONNECT decisions.
type AuthStats struct {
	Accepted, Refused int64
	Sessions          int
}

// Stats returns the counters.
func (a *MQTTAuth) Stats() AuthStats {
	a.mu.Lock()
	n := len(a.clients)
	a.mu.Unlock()
	return AuthStats{Accepted: a.accepted.Load(), Refused: a.refused.Load(), Sessions: n}
}

// OnConnectAuthenticate decides whether a CONNECT may proceed.
func (a *MQTTAuth) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	id, err := a.authenticate(cl, pk)
	if err == nil && pk.Connect.WillFlag && !a.allowed(id, pk.Connect.WillTopic, true) {
		err = fmt.Errorf("will topic %q not allowed", pk.Connect.WillTopic)
	}
	if err != nil {
		a.refused.Add(1)
		a.log.Info("mqtt: connection refused", "client", cl.ID, "username", string(pk.Connect.Username),
			"remote", cl.Net.Remote, "err", err)
		return false
	}
	a.accepted.Add(1)
	a.mu.Lock()
	a.clients[cl] = id
	if id.device != "" {
		m := a.byDevice[id.device]
		if m == nil {
			m = map[*mqtt.Client]struct{}{}
			a.byDevice[id.device] = m
		}
		m[cl] = struct{}{}
	}
	a.mu.Unlock()
	return true
}

func (a *MQTTAuth) authenticate(cl *mqtt.Client, pk packets.Packet) (identity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	user := string(pk.Connect.Username)
	if cn, ok := peerCommonName(cl); ok {
		if user != "" && user != cn {
			return identity{}, fmt.Errorf("username %q differs from certificate name %q", user, cn)
		}
		id, err := a.named(cn)
		if err != nil {
			return identity{}, fmt.Errorf("certificate name: %w", err)
		}
		if id.service != "" {
			return id, nil
		}
		st, err := a.reg.status(ctx, id.device)
		if err != nil {
			return identity{}, err
		}
		if err := st.usable(); err != nil {
			return identity{}, err
		}
		id.version = st.CredVersion
		return id, nil
	}
	if user == "" {
		return identity{}, errors.New("anonymous clients are not allowed")
	}
	secret := string(pk.Connect.Password)
	id, err := a.named(user)
	if err != nil {
		return identity{}, ErrUnknownDevice
	}
	if id.service != "" {
		if !a.services[user].check(secret) {
			return identity{}, ErrBadCredentials
		}
		return id, nil
	}
	st, err := a.reg.authenticate(ctx, id.device, secret)
	if err != nil {
		return identity{}, err
	}
	id.version = st.CredVersion
	return id, nil
}

func (s ServiceAccount) check(secret string) bool {
	switch {
	case s.Hash != "":
		ok, err := VerifySecret(secret, s.Hash)
		return err == nil && ok
	case s.Secret != "":
		a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(s.Secret))
		return subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	return false
}

// peerCommonName returns the common name of a verified client certificate.
func peerCommonName(cl *mqtt.Client) (string, bool) {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return "", false
	}
	cn := st.PeerCertificates[0].Subject.CommonName
	return cn, cn != ""
}

// OnACLCheck allows or refuses a publish (write) or a subscription/delivery
// (read) of topic for cl.
func (a *MQTTAuth) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	a.mu.Lock()
	id, ok := a.clients[cl]
	a.mu.Unlock()
	if !ok && !write {
		id, ok = a.sessionIdentity(cl)
	}
	return ok && a.allowed(id, topic, write)
}

// sessionIdentity is the identity of a persistent session whose client is
// away, or which the broker restored after a restart: deliveries queue in it
// under the name it authenticated with when it subscribed (its username; a
// client certificate's name, which is its client id). Only reads are
// checked this way: publishing needs a live, authenticated connection.
func (a *MQTTAuth) sessionIdentity(cl *mqtt.Client) (identity, bool) {
	name := string(cl.Properties.Username)
	if name == "" {
		name = cl.ID
	}
	id, err := a.named(name)
	return id, err == nil
}

// named is the identity a name stands for: a service account, or else a
// device (without its credential version).
func (a *MQTTAuth) named(name string) (identity, error) {
	if _, ok := a.services[name]; ok {
		return identity{service: name}, nil
	}
	dev, err := revloop.ParseDeviceID(name)
	if err != nil {
		return identity{}, err
	}
	return identity{device: dev}, nil
}

func (a *MQTTAuth) allowed(id identity, topic string, write bool) bool {
	if id.service != "" {
		if write {
			dev, ch, err := revloop.ParseTopic(topic)
			return err == nil && dev != "" && ch == revloop.ChannelConfig
		}
		if strings.HasPrefix(topic, "$share/") {
			rest := topic[len("$share/"):]
			_, filter, ok := strings.Cut(rest, "/")
			if !ok {
				return false
			}
			topic = filter
		}
		return topic == "revloop/v1/#" || strings.HasPrefix(topic, revloop.TopicPrefix)
	}
	own := revloop.TopicPrefix + string(id.device) + "/"
	if write {
		rest, ok := strings.CutPrefix(topic, own)
		return ok && revloop.Channel(rest).Uplink()
	}
	return topic == own+string(revloop.ChannelConfig)
}

// OnDisconnect forgets a closed session.
func (a *MQTTAuth) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	a.mu.Lock()
	if id, ok := a.clients[cl]; ok {
		delete(a.clients, cl)
		if m := a.byDevice[id.device]; m != nil {
			delete(m, cl)
			if len(m) == 0 {
				delete(a.byDevice, id.device)
			}
		}
	}
	a.mu.Unlock()
}

// onChange disconnects the live sessions of a device whose credential or
// state changed.
func (a *MQTTAuth) onChange(c Change) {
	if c.Kind == ChangeAdded || c.Kind == ChangeUpdated || (c.Kind == ChangeState && c.State == StateActive) {
		return
	}
	reason := fmt.Errorf("device %s: credential %s", c.Device, c.Kind)
	if c.Kind == ChangeState {
		reason = fmt.Errorf("device %s: %s", c.Device, c.State)
	}
	a.disconnect(c.Device, reason)
}

func (a *MQTTAuth) disconnect(id revloop.DeviceID, reason error) int {
	a.mu.Lock()
	var victims []*mqtt.Client
	for cl := range a.byDevice[id] {
		victims = append(victims, cl)
	}
	a.mu.Unlock()
	for _, cl := range victims {
		a.log.Info("mqtt: disconnecting device", "device", id, "client", cl.ID, "reason", reason)
		cl.Stop(reason)
		a.OnDisconnect(cl, reason, false)
	}
	return len(victims)
}

// Sweep re-checks every live device session against the state store and
// disconnects those whose device is no longer active or whose credential was
// rotated (by another process, e.g. `revloop device revoke`). It returns how
// many sessions it closed.
func (a *MQTTAuth) Sweep(ctx context.Context) (int, error) {
	a.mu.Lock()
	type sess struct {
		dev     revloop.DeviceID
		version int64
		cl      *mqtt.Client
	}
	var all []sess
	for cl, id := range a.clients {
		if id.device != "" {
			all = append(all, sess{id.device, id.version, cl})
		}
	}
	a.mu.Unlock()
	closed := 0
	for _, s := range all {
		st, err := a.reg.status(ctx, s.dev)
		var reason error
		switch {
		case errors.Is(err, ErrUnknownDevice):
			reason = err
		case err != nil:
			return closed, fmt.Errorf("sweep: %w", err)
		case st.usable() != nil:
			reason = st.usable()
		case st.CredVersion != s.version && s.version != 0:
			reason = fmt.Errorf("device %s: credential rotated", s.dev)
		}
		if reason != nil {
			a.log.Info("mqtt: disconnecting device", "device", s.dev, "client", s.cl.ID, "reason", reason)
			s.cl.Stop(reason)
			a.OnDisconnect(s.cl, reason, false)
			closed++
		}
	}
	return closed, nil
}

// Run calls Sweep every interval until ctx ends.
func (a *MQTTAuth) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := a.Sweep(ctx); err != nil {
				a.log.Warn("mqtt: session sweep failed", "err", err)
			}
		}
	}
}
