package broker

import (
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop/internal/mqttpub"
)

// TestBackpressureHoldsPublishersUntilSubscriberAcks checks that a
// publisher is held while a QoS 1 subscriber leaves more than
// BackpressureHigh messages unacknowledged, and released by the
// subscriber's acknowledgements (not by BackpressureWait, which is long).
func TestBackpressureHoldsPublishersUntilSubscriberAcks(t *testing.T) {
	const high, total = 8, 40
	b, stop := startBroker(t, Options{Addr: "127.0.0.1:0", AllowAll: true, BackpressureHigh: high, BackpressureWait: time.Minute})
	defer stop()

	var (
		mu      sync.Mutex
		pending []paho.Message
		got     int
	)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("ingest").
		SetAutoAckDisabled(true).SetOrderMatters(false))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(10)
	if tok := sub.Subscribe("revloop/v1/+/gps", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		pending = append(pending, m)
		got++
		mu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := mqttpub.Connect(nc, mqttpub.Options{ClientID: "dev-1", Window: total})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for range total {
		if err := pub.Publish("revloop/v1/dev-1/gps", []byte(`{}`), false); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing is acknowledged by the subscriber: the broker takes a little
	// more than high messages, then holds the publisher.
	time.Sleep(500 * time.Millisecond)
	if n := pub.Acked(); n >= total || n > high+1 {
		t.Fatalf("publisher had %d of %d acknowledged with the subscriber acknowledging nothing (high %d)", n, total, high)
	}
	// The subscriber acknowledges what it has, as it gets it: everything
	// flows.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		acks, n := pending, got
		pending = nil
		mu.Unlock()
		if pub.Acked() == total && n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled: publisher acked %d, subscriber got %d of %d", pub.Acked(), n, total)
		}
		for _, m := range acks {
			m.Ack()
		}
		time.Sleep(5 * time.Millisecond)
	}
}
