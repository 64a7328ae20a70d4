package ingest

import (
	dto "github.com/prometheus/client_model/go"
)

func testGauge(p *Pipeline) float64 {
	var m dto.Metric
	_ = p.m.Inflight.Write(&m)
	return m.GetGauge().GetValue()
}
