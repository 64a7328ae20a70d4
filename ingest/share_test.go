package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop/broker"
	"github.com/revloop/revloop/timeseries"
)

// countingStore counts how often each point identity is written.
type countingStore struct {
	mu     sync.Mutex
	writes map[string]int
}

func (s *countingStore) Write(_ context.Context, pts []timeseries.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pts {
		s.writes[fmt.Sprintf("%s/%s/%d", p.Measurement, p.Device, p.Time.UnixNano())]++
	}
	return nil
}

func (s *countingStore) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.writes))
	for k, v := range s.writes {
		out[k] = v
	}
	return out
}

// TestSharedSubscriptionSplitsStream runs two ingest pipelines in one
// shared-subscription group against the embedded broker: every message is
// stored exactly once, and both replicas take part.
func TestSharedSubscriptionSplitsStream(t *testing.T) {
	b, err := broker.New(nil, broker.Options{Addr: "127.0.0.1:0", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bctx, bcancel := context.WithCancel(context.Background())
	bdone := make(chan struct{})
	go func() { b.Run(bctx); close(bdone) }()
	defer func() { bcancel(); <-bdone }()

	st := &countingStore{writes: map[string]int{}}
	var pipes []*Pipeline
	var srcs []*MQTTSource
	var wg sync.WaitGroup
	for i := range 2 {
		src, err := NewMQTTSource(nil, MQTTConfig{URL: b.URL(), ClientID: fmt.Sprintf("share-ingest-%d", i), ShareGroup: "ingest"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(nil, Options{BatchDelay: 10 * time.Millisecond}, Deps{Source: src, Store: st, DeadLetters: &memDLQ{}})
		if err != nil {
			t.Fatal(err)
		}
		srcs, pipes = append(srcs, src), append(pipes, p)
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		})
	}
	for _, s := range srcs {
		waitCond(t, "replica connected", s.Connected)
	}
	time.Sleep(200 * time.Millisecond) // subscriptions follow the connections

	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("share-pub"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(50)
	const n = 2000
	now := time.Now()
	for i := range n {
		m := gpsMsg(fmt.Sprintf("truck-%d", i%10), i, now)
		if tok := pub.Publish(m.Topic, 1, false, m.Payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	waitCond(t, "all stored", func() bool { return len(st.snapshot()) == n })
	cancel()
	wg.Wait()
	for k, c := range st.snapshot() {
		if c != 1 {
			t.Errorf("%s written %d times, want once", k, c)
		}
	}
	for i, p := range pipes {
		if got := gaugeOrCounter(p.m.Acked); got == 0 || got == n {
			t.Errorf("replica %d acknowledged %v of %d messages; want a share", i, got, n)
		}
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
