package mqttpub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/revloop/revloop/broker"
	"github.com/revloop/revloop/internal/mqttpub"
)

func startBroker(t *testing.T, hooks ...broker.Hook) string {
	t.Helper()
	b, err := broker.New(nil, broker.Options{Addr: "127.0.0.1:0", AllowAll: len(hooks) == 0, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return b.Addr()
}

type received struct {
	topic    string
	payload  []byte
	retained bool
}

func TestPublishDeliversEveryMessageOnce(t *testing.T) {
	for _, pause := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(fmt.Sprintf("ack pause %s", pause), func(t *testing.T) { testPublish(t, pause) })
	}
}

func testPublish(t *testing.T, pause time.Duration) {
	addr := startBroker(t)
	var (
		mu  sync.Mutex
		got = map[string]received{}
	)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("sub").SetOrderMatters(false))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(10)
	if tok := sub.Subscribe("revloop/#", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got[string(m.Payload())] = received{m.Topic(), m.Payload(), m.Retained()}
		mu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mqttpub.Connect(nc, mqttpub.Options{ClientID: "dev-1", Window: 8, AckPause: pause})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 2000
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				// A payload past 127 bytes needs a two-byte remaining length.
				p := fmt.Appendf(nil, "m%05d%s", i, bytes.Repeat([]byte{'x'}, i%300))
				if err := c.Publish(fmt.Sprintf("revloop/v1/dev-1/t%d", i%3), p, i%500 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := c.Drain(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if c.Acked() != n {
		t.Fatalf("acked %d, want %d", c.Acked(), n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("subscriber got %d distinct messages, want %d", len(got), n)
	}
	for i := range n {
		p := fmt.Sprintf("m%05d%s", i, bytes.Repeat([]byte{'x'}, i%300))
		r, ok := got[p]
		if !ok {
			t.Fatalf("message %d missing", i)
		}
		if want := fmt.Sprintf("revloop/v1/dev-1/t%d", i%3); r.topic != want {
			t.Fatalf("message %d on %q, want %q", i, r.topic, want)
		}
	}
}

// refuseAll is an authentication hook that admits nobody.
type refuseAll struct{ mqtt.HookBase }

func (refuseAll) ID() string                                              { return "refuse-all" }
func (refuseAll) Provides(b byte) bool                                    { return b == mqtt.OnConnectAuthenticate }
func (refuseAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return false }

func TestConnectRefused(t *testing.T) {
	addr := startBroker(t, broker.Hook{Hook: &refuseAll{}})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mqttpub.Connect(nc, mqttpub.Options{ClientID: "dev-1", Username: "dev-1", Password: "wrong"})
	if !errors.Is(err, mqttpub.ErrRefused) {
		t.Fatalf("Connect = %v, want ErrRefused", err)
	}
}

func TestConnectClosedWithoutAnswerIsRefused(t *testing.T) {
	srv, cli := net.Pipe()
	go func() {
		buf := make([]byte, 256)
		srv.Read(buf)
		srv.Close()
	}()
	_, err := mqttpub.Connect(cli, mqttpub.Options{ClientID: "dev-1"})
	if !errors.Is(err, mqttpub.ErrRefused) {
		t.Fatalf("Connect = %v, want ErrRefused", err)
	}
}

func TestPublishAfterBrokerGoneFails(t *testing.T) {
	srv, cli := net.Pipe()
	go func() {
		// A broker that accepts the connection, then goes away.
		buf := make([]byte, 256)
		srv.Read(buf)
		srv.Write([]byte{0x20, 2, 0, 0})
		srv.Close()
	}()
	c, err := mqttpub.Connect(cli, mqttpub.Options{ClientID: "dev-1", Window: 1})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = c.Publish("revloop/v1/dev-1/gps", []byte("{}"), false)
		if err != nil || time.Now().After(deadline) {
			break
		}
	}
	if err == nil {
		t.Fatal("publishing to a closed connection kept succeeding")
	}
}
