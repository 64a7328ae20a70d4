package ingest

import (
	dto "github.com/prometheus/client_model/go"
)

func testGauge(p *Pipeline) float64 {
	var m dto.Metric
	_ = p.m.Inflight.Write(&m)
	return m.GetGauge().GetValue()
}

func gaugeOrCounter(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
