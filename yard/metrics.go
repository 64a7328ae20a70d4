package yard

import "github.com/prometheus/client_golang/prometheus"

// Collectors returns the observer's metrics: raw reads seen, passages,
// stray, duplicate and late reads, reads from readers without a gate, and
// weighings, all counters read from the observer's state when scraped.
func (o *Observer) Collectors() []prometheus.Collector {
	stat := func(name, help string, f func(DetectorStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "yard", Name: name, Help: help},
			func() float64 { return float64(f(o.Stats())) })
	}
	return []prometheus.Collector{
		stat("rfid_reads_total", "Raw RFID reads the passage detector processed.", func(s DetectorStats) int64 { return s.Reads }),
		stat("passages_total", "Gate passages detected.", func(s DetectorStats) int64 { return s.Passages }),
		stat("stray_presences_total", "Presences dropped as stray reads by the debounce.", func(s DetectorStats) int64 { return s.Noise }),
		stat("duplicate_reads_total", "Reads seen again (redelivery).", func(s DetectorStats) int64 { return s.Duplicates }),
		stat("late_reads_total", "Reads older than the departure window with no open presence.", func(s DetectorStats) int64 { return s.Late }),
		stat("unknown_reader_reads_total", "Reads from readers with no gate configured.", func(s DetectorStats) int64 { return s.Unknown }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "revloop", Subsystem: "yard", Name: "weighings_total",
			Help: "Stable weighings detected on the weighbridges."}, func() float64 {
			o.mu.Lock()
			defer o.mu.Unlock()
			return float64(o.weighed)
		}),
	}
}
