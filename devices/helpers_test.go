package devices_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

// cheapArgon keeps hashing fast in tests; parameters travel in each hash.
var cheapArgon = devices.Argon2Params{MemoryKiB: 64, Time: 1}

func testRegistry(t testing.TB) (*devices.Registry, *store.DB) {
	t.Helper()
	db := storetest.Migrated(t, storetest.SQLite)
	return devices.NewRegistry(db, nil, devices.Options{Argon2: cheapArgon, MosquittoIterations: 10}), db
}

func addDevice(t testing.TB, reg *devices.Registry, id, kind string) string {
	t.Helper()
	_, cred, err := reg.Add(context.Background(), devices.Spec{ID: id, Kind: kind})
	if err != nil {
		t.Fatalf("add %s: %v", id, err)
	}
	return cred.Secret
}

// startBroker runs the embedded broker with auth on a loopback port.
func startBroker(t testing.TB, auth *devices.MQTTAuth) (string, *mqtt.Server) {
	t.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(auth, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t1", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return "tcp://" + l.Address(), s
}

var clientSeq atomic.Int64

type conn struct {
	paho.Client
	lost chan error
}

// dial connects with the given credentials; it returns the CONNECT error.
func dial(t testing.TB, url, user, pass string) (*conn, error) {
	t.Helper()
	c := &conn{lost: make(chan error, 1)}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("t-%s-%d", user, clientSeq.Add(1))).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetCleanSession(true).
		SetConnectionLostHandler(func(_ paho.Client, err error) { c.lost <- err })
	c.Client = paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

func wait(t testing.TB, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("mqtt operation timed out")
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("mqtt: %v", err)
	}
}
