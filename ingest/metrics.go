package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus instruments.
type Metrics struct {
	Received     prometheus.Counter
	Decoded      prometheus.Counter
	Rejected     *prometheus.CounterVec // by reason
	Acked        prometheus.Counter
	Written      prometheus.Counter // points
	WriteSeconds prometheus.Histogram
	WriteRetries prometheus.Counter
	BatchPoints  prometheus.Histogram
	Inflight     prometheus.Gauge
	ObserverErrs prometheus.Counter
	queueDepth   *prometheus.GaugeVec
}

// NewMetrics creates the instruments and registers them with reg (a fresh
// registry when reg is nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		Received: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "messages_received_total", Help: "MQTT messages received."}),
		Decoded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "messages_decoded_total", Help: "Messages decoded and validated."}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "messages_rejected_total", Help: "Messages dead-lettered, by reason."}, []string{"reason"}),
		Acked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "messages_acked_total", Help: "Messages acknowledged to the broker after a durable write."}),
		Written: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "points_written_total", Help: "Points written to the time-series store."}),
		WriteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "write_seconds", Help: "Latency of one batch write to the time-series store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		WriteRetries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "write_retries_total", Help: "Batch writes retried after a retryable error."}),
		BatchPoints: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "batch_points", Help: "Points per written batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		Inflight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "inflight_messages", Help: "Messages received and not yet acknowledged."}),
		ObserverErrs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "observer_errors_total", Help: "Observer calls that failed (the batch is retried)."}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "revloop", Subsystem: "ingest",
			Name: "queue_depth", Help: "Items waiting in front of each stage: messages (decode), chunks of up to 256 messages (validate, batch), batches (write, observe)."}, []string{"stage"}),
	}
	for _, r := range Reasons {
		m.Rejected.WithLabelValues(r)
	}
	reg.MustRegister(m.Received, m.Decoded, m.Rejected, m.Acked, m.Written, m.WriteSeconds,
		m.WriteRetries, m.BatchPoints, m.Inflight, m.ObserverErrs, m.queueDepth)
	return m
}
