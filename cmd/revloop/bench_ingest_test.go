package main

import (
	"strings"
	"testing"
	"time"
)

func TestFIFOLatency(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	// 100 publications, handed over out of order (the publishers run
	// concurrently), one not at all (taken as start); the i-th stored
	// message is matched with the i-th publication in time.
	sent := make([]time.Time, 100)
	stored := make([]time.Time, 100)
	for i := range sent {
		sent[i] = at(10 * (99 - i)) // newest first
		stored[i] = at(10*i + 5 + i)
	}
	sent[99] = time.Time{}
	p50, p99 := fifoLatency(start, sent, stored)
	// Sorted sends: start, 10, 20, ... 980 ms (the zero is start, 0 ms);
	// stored k at 11k+5 ms: latency of k is k+5 ms.
	if p50 != 55*time.Millisecond || p99 != 104*time.Millisecond {
		t.Fatalf("p50 %v p99 %v, want 55ms 104ms", p50, p99)
	}
	// A message stored in the same scrape as it was sent never counts
	// negative.
	p50, _ = fifoLatency(start, []time.Time{at(7)}, []time.Time{at(5)})
	if p50 != 0 {
		t.Fatalf("latency %v, want 0", p50)
	}
}

func TestTelegrafWriteCounter(t *testing.T) {
	line := "internal_write,output=influxdb_v2,alias=x buffer_limit=100000i,buffer_size=12i,errors=0i,metrics_added=5012i,metrics_written=5000i,write_time_ns=81233i 1764158400000000000"
	m := metricsWritten.FindStringSubmatch(line)
	if m == nil || m[1] != "5000" {
		t.Fatalf("metrics_written from %q: %v", line, m)
	}
	var b strings.Builder
	if err := telegrafConfig.Execute(&b, map[string]string{"Broker": "tcp://127.0.0.1:18830", "ClientID": "c1",
		"Influx": "http://127.0.0.1:18086", "Token": "", "Bucket": "db/autogen"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`servers = ["tcp://127.0.0.1:18830"]`, `client_id = "c1"`, `bucket = "db/autogen"`, "metric_batch_size = 5000", "qos = 1", "persistent_session = true"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("config lacks %s", want)
		}
	}
}
