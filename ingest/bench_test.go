package ingest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/timeseries"
)

type nopStore struct{ n atomic.Int64 }

func (s *nopStore) Write(_ context.Context, pts []timeseries.Point) error {
	s.n.Add(int64(len(pts)))
	return nil
}

func BenchmarkDecodeSimMix(b *testing.B) {
	msgs := sim.Messages(1, 10000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m := msgs[i%len(msgs)]
		rec, err := Decode(m.Topic, m.Payload, m.SendTime)
		if err != nil {
			b.Fatal(err)
		}
		_ = AppendPoints(nil, &rec)
	}
}

// BenchmarkIngestMix measures the per-message work of the decode stage on
// the simulator's realistic mix: Decode, Validate and AppendPoints into a
// slice sized like the pipeline's. The sub-benchmarks split the mix by
// channel and payload form.
func BenchmarkIngestMix(b *testing.B) {
	msgs := sim.Messages(1, 20000, 0)
	b.Run("mix", func(b *testing.B) { benchIngest(b, msgs) })
	forms := map[string][]sim.Message{}
	var order []string
	for _, m := range msgs {
		k := string(m.Channel) + "-" + payloadForm(m.Payload)
		if _, ok := forms[k]; !ok {
			order = append(order, k)
		}
		forms[k] = append(forms[k], m)
	}
	for _, k := range order {
		b.Run(k, func(b *testing.B) { benchIngest(b, forms[k]) })
	}
}

func payloadForm(p []byte) string {
	switch kindOf(p) {
	case kindNMEA:
		return "nmea"
	case kindArray:
		if raw, err := jsonTop(p); err == nil && isSenML(raw) {
			return "senml"
		}
		return "array"
	}
	return "json"
}

// benchIngest also reports the process CPU time per message (cpu-ns/op,
// garbage collection included), which varies less than ns/op when other
// work shares the cores.
func benchIngest(b *testing.B, msgs []sim.Message) {
	b.ReportAllocs()
	cpu0 := processCPU()
	i := 0
	for ; b.Loop(); i++ {
		m := msgs[i%len(msgs)]
		rec, err := Decode(m.Topic, m.Payload, m.SendTime)
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(&rec, m.SendTime, Limits{}); err != nil {
			b.Fatal(err)
		}
		n := len(rec.Positions) + len(rec.Fills) + len(rec.Reads) + len(rec.Weights)
		if rec.Status != nil {
			n++
		}
		if pts := AppendPoints(make([]timeseries.Point, 0, n), &rec); len(pts) != n {
			b.Fatalf("%d points, want %d", len(pts), n)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(i), "cpu-ns/op")
}

// BenchmarkPipeline measures the stages without MQTT or a real store.
func BenchmarkPipeline(b *testing.B) {
	msgs := sim.Messages(1, 10000, 0)
	src := &countSource{msgs: msgs, n: b.N}
	st := &nopStore{}
	p, err := New(nil, Options{Limits: Limits{MaxSkew: 365 * 24 * time.Hour}}, Deps{Source: src, Store: st, DeadLetters: &memDLQ{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	src.done = cancel
	if err := p.Run(ctx); err != nil {
		b.Fatal(err)
	}
	if got := src.acked.Load(); got != int64(b.N) {
		b.Fatalf("acked %d of %d", got, b.N)
	}
}

type countSource struct {
	msgs  []sim.Message
	n     int
	acked atomic.Int64
	done  func()
}

func (s *countSource) Run(ctx context.Context, out chan<- Message) error {
	ack := func() {
		if s.acked.Add(1) == int64(s.n) {
			s.done()
		}
	}
	for i := range s.n {
		m := s.msgs[i%len(s.msgs)]
		select {
		case out <- Message{Topic: m.Topic, Payload: m.Payload, Received: time.Now(), Ack: ack}:
		case <-ctx.Done():
			return nil
		}
	}
	<-ctx.Done()
	return nil
}
