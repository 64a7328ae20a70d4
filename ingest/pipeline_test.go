package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// sliceSource delivers its messages, then waits for the end of ctx.
type sliceSource struct {
	msgs  []Message
	acked atomic.Int64
}

func (s *sliceSource) Run(ctx context.Context, out chan<- Message) error {
	for _, m := range s.msgs {
		m.Ack = func() { s.acked.Add(1) }
		select {
		case out <- m:
		case <-ctx.Done():
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

type pointKey struct {
	m, dev string
	ts     int64
	tags   string
}

// memStore is a timeseries.Writer in memory that can fail retryably a
// number of times and rejects batches holding a point of device "poison".
type memStore struct {
	mu        sync.Mutex
	points    map[pointKey]timeseries.Point
	failFirst int
	writes    int
	rejected  int
}

func (s *memStore) Write(_ context.Context, pts []timeseries.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.failFirst > 0 {
		s.failFirst--
		return &timeseries.WriteError{Err: errors.New("503 service unavailable"), Retryable: true}
	}
	for _, p := range pts {
		if p.Device == "poison" {
			s.rejected++
			return &timeseries.WriteError{Err: errors.New("400 field type conflict")}
		}
	}
	if s.points == nil {
		s.points = map[pointKey]timeseries.Point{}
	}
	for _, p := range pts {
		tags := ""
		for _, t := range p.Tags {
			tags += t.Key + "=" + t.Value + ","
		}
		s.points[pointKey{p.Measurement, string(p.Device), p.Time.UnixNano(), tags}] = p
	}
	return nil
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.points)
}

type memDLQ struct {
	mu  sync.Mutex
	dls map[string]DeadLetter
}

func (d *memDLQ) PutDeadLetters(_ context.Context, dls []DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dls == nil {
		d.dls = map[string]DeadLetter{}
	}
	for _, dl := range dls {
		d.dls[dl.key()] = dl
	}
	return nil
}

func (d *memDLQ) byReason() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for _, dl := range d.dls {
		out[dl.Reason]++
	}
	return out
}

type countObserver struct{ n atomic.Int64 }

func (o *countObserver) Observe(_ context.Context, recs []Record) error {
	o.n.Add(int64(len(recs)))
	return nil
}

type denyChecker struct{}

func (denyChecker) CheckDevice(_ context.Context, id revloop.DeviceID) (string, error) {
	if id == "stolen" {
		return "device revoked", nil
	}
	return "", nil
}

func gpsMsg(dev string, i int, now time.Time) Message {
	ts := now.Add(-time.Hour).Add(time.Duration(i) * time.Second).UnixMilli()
	return Message{Topic: "revloop/v1/" + dev + "/gps", Received: now,
		Payload: fmt.Appendf(nil, `{"ts":%d,"lat":48.1,"lon":11.5}`, ts)}
}

func TestPipelineStoresRejectsAndAcks(t *testing.T) {
	now := time.Now()
	var msgs []Message
	for i := range 500 {
		msgs = append(msgs, gpsMsg("truck-1", i, now))
	}
	msgs = append(msgs,
		gpsMsg("poison", 1, now), gpsMsg("poison", 2, now), // store rejects these
		gpsMsg("stolen", 1, now), // device checker rejects
		Message{Topic: "revloop/v1/truck-1/gps", Received: now, Payload: []byte(`{"lat":1`)},
		Message{Topic: "revloop/v1/truck-1/gps", Received: now, Payload: make([]byte, 2048)},
		Message{Topic: "revloop/v1/truck-1/config", Received: now, Payload: []byte(`{"interval_s":10}`)},
		gpsMsg("truck-1", 0, now), // duplicate of the first: overwrites itself
	)
	src := &sliceSource{msgs: msgs}
	st := &memStore{failFirst: 2}
	dlq := &memDLQ{}
	obs := &countObserver{}
	p, err := New(nil, Options{BatchPoints: 64, BatchDelay: 5 * time.Millisecond, MaxPayloadBytes: 1024,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
		Deps{Source: src, Store: st, DeadLetters: dlq, Devices: denyChecker{}, Observers: []Observer{obs}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for src.acked.Load() < int64(len(msgs)) {
		select {
		case <-deadline:
			t.Fatalf("acked %d of %d", src.acked.Load(), len(msgs))
		case <-time.After(2 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := st.count(); got != 500 {
		t.Errorf("stored %d points, want 500", got)
	}
	want := map[string]int{ReasonStoreRejected: 2, ReasonDeviceRejected: 1, ReasonMalformed: 1, ReasonOversized: 1}
	got := dlq.byReason()
	for r, n := range want {
		if got[r] != n {
			t.Errorf("dead letters %s = %d, want %d (all: %v)", r, got[r], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("dead letters by reason = %v, want %v", got, want)
	}
	if obs.n.Load() != 501 {
		t.Errorf("observer saw %d records, want 501", obs.n.Load())
	}
	for _, dl := range dlq.dls {
		if dl.Reason == ReasonOversized && (!dl.Truncated || len(dl.Payload) != 1024 || dl.PayloadBytes != 2048) {
			t.Errorf("oversized dead letter: truncated=%v len=%d bytes=%d", dl.Truncated, len(dl.Payload), dl.PayloadBytes)
		}
	}
}

// blockingStore blocks every write until released.
type blockingStore struct {
	release chan struct{}
	n       atomic.Int64
}

func (s *blockingStore) Write(ctx context.Context, pts []timeseries.Point) error {
	select {
	case <-s.release:
		s.n.Add(int64(len(pts)))
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestPipelineDrainsOnShutdown(t *testing.T) {
	now := time.Now()
	var msgs []Message
	for i := range 100 {
		msgs = append(msgs, gpsMsg("truck-1", i, now))
	}
	src := &sliceSource{msgs: msgs}
	st := &blockingStore{release: make(chan struct{})}
	p, err := New(nil, Options{BatchPoints: 1000, BatchDelay: time.Hour, DrainTimeout: 10 * time.Second},
		Deps{Source: src, Store: st, DeadLetters: &memDLQ{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// The batch never fills and its delay never passes: only the shutdown
	// flush can write it.
	for p.m.Inflight == nil || testGauge(p) < 100 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(st.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st.n.Load() != 100 || src.acked.Load() != 100 {
		t.Errorf("after shutdown stored %d, acked %d; want 100 and 100", st.n.Load(), src.acked.Load())
	}
}

// TestPipelineCommitsAsAGroup checks that a batch goes to an idle writer
// once nothing else is waiting, without waiting for BatchPoints or
// BatchDelay: the broker's in-flight window may be smaller than a batch.
func TestPipelineCommitsAsAGroup(t *testing.T) {
	now := time.Now()
	var msgs []Message
	for i := range 300 {
		msgs = append(msgs, gpsMsg("truck-1", i, now))
	}
	src := &sliceSource{msgs: msgs}
	st := &memStore{}
	p, err := New(nil, Options{BatchPoints: 800, BatchDelay: time.Hour}, Deps{Source: src, Store: st, DeadLetters: &memDLQ{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// The messages may reach the batcher in more than one go; what came
	// after the last group commit, fewer than an eighth of BatchPoints
	// (100), may wait. Everything before it must not.
	const least = 300 - 800/8 + 1
	deadline := time.Now().Add(10 * time.Second)
	for src.acked.Load() < least && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	acked := src.acked.Load()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if acked < least {
		t.Fatalf("before shutdown: acked %d; want at least %d (a batch of 300 of 800 points waited for its hour)", acked, least)
	}
	if src.acked.Load() != 300 || st.count() != 300 {
		t.Fatalf("after shutdown: acked %d, stored %d; want 300", src.acked.Load(), st.count())
	}
}
