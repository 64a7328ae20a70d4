package bridge

import (
	"context"
	"testing"
)

// BenchmarkDrain drains a backlog of 100,000 queued readings to an embedded
// broker and reports readings/s (target >= 5,000).
func BenchmarkDrain(b *testing.B) {
	const n = 100000
	for i := 0; i < b.N; i++ {
		br := startBroker(b, "127.0.0.1:0", func(string, []byte, bool) {})
		res, err := BenchDrain(context.Background(), "tcp://"+br.addr, b.TempDir(), n, nil)
		br.srv.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.PerSecond(), "readings/s")
		b.ReportMetric(float64(res.Messages), "messages")
		b.Logf("drained %d readings in %d messages in %v: %.0f readings/s", res.Readings, res.Messages, res.Elapsed, res.PerSecond())
	}
}
