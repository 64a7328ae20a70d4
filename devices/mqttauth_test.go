package devices_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop/devices"
)

func TestEmbeddedBrokerConnect(t *testing.T) {
	ctx := context.Background()
	reg, _ := testRegistry(t)
	good := addDevice(t, reg, "trk-1", "tracker")
	revokedSecret := addDevice(t, reg, "trk-revoked", "tracker")
	disabledSecret := addDevice(t, reg, "trk-disabled", "tracker")
	if err := reg.Revoke(ctx, "trk-revoked"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Disable(ctx, "trk-disabled"); err != nil {
		t.Fatal(err)
	}
	auth := devices.NewMQTTAuth(reg, devices.ServiceAccount{Username: "ingest", Secret: "svc-secret"})
	url, _ := startBroker(t, auth)
	cases := []struct {
		name, user, pass string
		ok               bool
	}{
		{"right secret", "trk-1", good, true},
		{"right secret again (cache)", "trk-1", good, true},
		{"wrong secret", "trk-1", good[:len(good)-1] + "x", false},
		{"empty secret", "trk-1", "", false},
		{"another device's secret", "trk-revoked", good, false},
		{"revoked", "trk-revoked", revokedSecret, false},
		{"disabled", "trk-disabled", disabledSecret, false},
		{"unknown device", "trk-404", good, false},
		{"malformed id", "TRK/1", good, false},
		{"anonymous", "", "", false},
		{"service account", "ingest", "svc-secret", true},
		{"service account wrong secret", "ingest", "nope", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dial(t, url, c.user, c.pass)
			if c.ok && err != nil {
				t.Fatalf("connect refused: %v", err)
			}
			if !c.ok && err == nil {
				t.Fatal("connect accepted, want refused")
			}
		})
	}
	hits, misses := reg.CacheStats()
	if hits == 0 || misses == 0 {
		t.Errorf("cache hits %d, misses %d: want both > 0", hits, misses)
	}
}

func TestEmbeddedBrokerACL(t *testing.T) {
	reg, _ := testRegistry(t)
	a := addDevice(t, reg, "bin-a", "bin_sensor")
	addDevice(t, reg, "bin-b", "bin_sensor")
	auth := devices.NewMQTTAuth(reg, devices.ServiceAccount{Username: "ingest", Secret: "svc"})
	url, _ := startBroker(t, auth)

	svc, err := dial(t, url, "ingest", "svc")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	wait(t, svc.Subscribe("$share/ingest/revloop/v1/#", 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) }))

	dev, err := dial(t, url, "bin-a", a)
	if err != nil {
		t.Fatal(err)
	}
	subs := []struct {
		filter string
		ok     bool
	}{
		{"revloop/v1/bin-a/config", true},
		{"revloop/v1/bin-b/config", false},
		{"revloop/v1/#", false},
		{"revloop/v1/+/config", false},
		{"$share/x/revloop/v1/#", false},
	}
	for _, s := range subs {
		tok := dev.Subscribe(s.filter, 1, func(paho.Client, paho.Message) {})
		wait(t, tok)
		res := tok.(*paho.SubscribeToken).Result()
		key := s.filter
		if rest, ok := strings.CutPrefix(key, "$share/"); ok { // paho keys shared filters without the prefix
			_, key, _ = strings.Cut(rest, "/")
		}
		code, ok := res[key]
		if !ok {
			t.Fatalf("no return code for %s in %v", s.filter, res)
		}
		if granted := code < 0x80; granted != s.ok {
			t.Errorf("device subscribe %s: return code %#x, want granted=%v", s.filter, code, s.ok)
		}
	}
	// QoS 0 publishes under another id or on its own config topic are
	// dropped by the broker; the subscriber sees only the legitimate one,
	// which the same connection sends afterwards.
	wait(t, dev.Publish("revloop/v1/bin-b/fill", 0, false, "forged"))
	wait(t, dev.Publish("revloop/v1/bin-a/config", 0, false, "self-config"))
	wait(t, dev.Publish("revloop/v1/bin-a/fill", 0, false, "own"))
	select {
	case m := <-got:
		if m != "revloop/v1/bin-a/fill own" {
			t.Fatalf("subscriber got %q, want only the device's own message", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("own message not delivered")
	}
	// At QoS 1 a forged publish costs the device its connection.
	dev.Publish("revloop/v1/bin-b/fill", 1, false, "forged-qos1")
	select {
	case <-dev.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("device publishing under another id at QoS 1 was not disconnected")
	}
	select {
	case m := <-got:
		t.Fatalf("forged message reached the subscriber: %q", m)
	default:
	}

	// Downlink: the service writes config, the device reads its own only.
	dev2, err := dial(t, url, "bin-a", a)
	if err != nil {
		t.Fatal(err)
	}
	cfg := make(chan string, 4)
	wait(t, dev2.Subscribe("revloop/v1/bin-a/config", 1, func(_ paho.Client, m paho.Message) { cfg <- string(m.Payload()) }))
	wait(t, svc.Publish("revloop/v1/bin-a/config", 1, true, `{"version":3}`))
	select {
	case p := <-cfg:
		if p != `{"version":3}` {
			t.Fatalf("device got config %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("config downlink not delivered")
	}
}

func TestRotationAndRevocationDisconnect(t *testing.T) {
	ctx := context.Background()
	reg, db := testRegistry(t)
	secret := addDevice(t, reg, "gw-1", "gateway")
	other := addDevice(t, reg, "gw-2", "gateway")
	auth := devices.NewMQTTAuth(reg)
	url, _ := startBroker(t, auth)

	c, err := dial(t, url, "gw-1", secret)
	if err != nil {
		t.Fatal(err)
	}
	bystander, err := dial(t, url, "gw-2", other)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := reg.Rotate(ctx, "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("rotation did not disconnect the live session")
	}
	if _, err := dial(t, url, "gw-1", secret); err == nil {
		t.Fatal("old secret still connects after rotation")
	}
	c2, err := dial(t, url, "gw-1", cred.Secret)
	if err != nil {
		t.Fatalf("new secret refused: %v", err)
	}
	if err := reg.Revoke(ctx, "gw-1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c2.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("revocation did not disconnect the live session")
	}
	if _, err := dial(t, url, "gw-1", cred.Secret); err == nil {
		t.Fatal("revoked device still connects")
	}
	if !bystander.IsConnectionOpen() {
		t.Fatal("another device was disconnected too")
	}

	// A change made by another process (a second registry on the same
	// store, as `revloop device disable` is) is caught by Sweep.
	cli := devices.NewRegistry(db, nil, devices.Options{Argon2: cheapArgon})
	if err := cli.Disable(ctx, "gw-2"); err != nil {
		t.Fatal(err)
	}
	n, err := auth.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 session closed", n, err)
	}
	select {
	case <-bystander.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("sweep did not disconnect the disabled device")
	}
}

// TestEmbeddedBrokerQueuesForAwaySessions: publications made while the
// service account's persistent session is away wait in it, and only
// those its identity may read.
func TestEmbeddedBrokerQueuesForAwaySessions(t *testing.T) {
	reg, _ := testRegistry(t)
	a := addDevice(t, reg, "trk-a", "tracker")
	auth := devices.NewMQTTAuth(reg, devices.ServiceAccount{Username: "ingest", Secret: "svc"})
	url, _ := startBroker(t, auth)
	session := func(handler paho.MessageHandler) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("ingest-session").
			SetUsername("ingest").SetPassword("svc").SetCleanSession(false).SetAutoReconnect(false).
			SetDefaultPublishHandler(handler))
		wait(t, c.Connect())
		return c
	}
	svc := session(func(paho.Client, paho.Message) {})
	wait(t, svc.Subscribe("revloop/v1/+/gps", 1, nil))
	svc.Disconnect(50)

	dev, err := dial(t, url, "trk-a", a)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		wait(t, dev.Publish("revloop/v1/trk-a/gps", 1, false, fmt.Sprintf(`{"n":%d}`, i)))
	}
	got := make(chan string, 8)
	svc = session(func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) })
	defer svc.Disconnect(50)
	seen := map[string]bool{}
	for range 3 {
		select {
		case p := <-got:
			seen[p] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("of 3 publications made while the session was away, %d came: %v", len(seen), seen)
		}
	}
	for i := range 3 {
		if p := fmt.Sprintf(`{"n":%d}`, i); !seen[p] {
			t.Errorf("%s missing from %v", p, seen)
		}
	}
}
