package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func startBroker(t *testing.T, opts Options) (*Broker, func()) {
	t.Helper()
	b, err := New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	return b, func() { cancel(); <-done }
}

func connect(t *testing.T, url, id string, clean bool) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(clean))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}

func TestNewRequiresAuthOrAllowAll(t *testing.T) {
	if _, err := New(nil, Options{Addr: "127.0.0.1:0"}); !errors.Is(err, ErrNoAuth) {
		t.Fatalf("New without auth = %v, want ErrNoAuth", err)
	}
}

// TestSessionsAndRetainedSurviveRestart checks that a retained message and a
// persistent session's subscription are kept in the data directory.
func TestSessionsAndRetainedSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b, stop := startBroker(t, Options{Addr: "127.0.0.1:0", AllowAll: true, DataDir: dir})
	url := b.URL()
	sub := connect(t, url, "ingest-1", false)
	if tok := sub.Subscribe("revloop/v1/+/gps", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	sub.Disconnect(50)
	pub := connect(t, url, "dev-1", true)
	// The last retained message of a topic wins; an empty one clears it.
	for _, m := range []struct{ topic, payload string }{
		{"revloop/v1/dev-1/status", `{"online":false}`},
		{"revloop/v1/dev-2/status", `{"online":true,"dev":2}`},
		{"revloop/v1/dev-1/status", `{"online":true}`},
		{"revloop/v1/dev-2/status", ``},
	} {
		if tok := pub.Publish(m.topic, 1, true, m.payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	pub.Disconnect(50)
	stop()

	b, stop = startBroker(t, Options{Addr: b.Addr(), AllowAll: true, DataDir: dir})
	defer stop()
	got := make(chan string, 4)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("reader").
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(50)
	c.Subscribe("revloop/v1/+/status", 1, nil)
	select {
	case p := <-got:
		if p != `{"online":true}` {
			t.Errorf("retained = %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("retained message lost across restart")
	}
	select {
	case p := <-got:
		t.Errorf("a cleared or replaced retained message came back: %q", p)
	case <-time.After(300 * time.Millisecond):
	}
	// The persistent session's subscription is still there: a publication
	// made while it is away reaches it when it reconnects.
	pub = connect(t, b.URL(), "dev-1", true)
	pub.Publish("revloop/v1/dev-1/gps", 1, false, `{"x":1}`).WaitTimeout(5 * time.Second)
	pub.Disconnect(50)
	recv := make(chan string, 1)
	sub = paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("ingest-1").SetCleanSession(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { recv <- string(m.Payload()) }))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(50)
	select {
	case p := <-recv:
		if p != `{"x":1}` {
			t.Errorf("queued = %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("persistent session lost its subscription across restart")
	}
}
