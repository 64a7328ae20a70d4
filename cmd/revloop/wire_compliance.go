package main

import (
	"context"

	"github.com/revloop/revloop/compliance"
	"github.com/revloop/revloop/compliance/emissions"
	"github.com/revloop/revloop/yard"
)

func init() {
	registerWiring("compliance", func(ctx context.Context, a *app) error {
		if a.role != roleServe {
			return nil
		}
		opts, tariffs, err := a.cfg.compliance.options()
		if err != nil {
			return err
		}
		ys, err := yard.New(a.DB, a.log.With("component", "compliance"), yard.Options{})
		if err != nil {
			return err
		}
		a.API.Exports.Exporter = compliance.New(a.DB, ys, opts)
		a.API.Exports.Deps = compliance.ExportDeps{Tracks: a.TimeSeries, Calc: emissions.New(nil)}
		a.API.Exports.Tariffs = tariffs
		return nil
	})
}
