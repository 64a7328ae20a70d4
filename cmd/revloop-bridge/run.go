package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	bridge "github.com/revloop/revloop/firmware-bridge"
	"github.com/revloop/revloop/firmware-bridge/hw"
)

func cmdRun(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", "/etc/revloop-bridge/bridge.yaml", "configuration `file` (YAML)")
	sim := fs.Bool("sim", false, "simulate every bus, whatever the config says (demo, no hardware)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := bridge.LoadConfig(*path)
	if err != nil {
		return err
	}
	var h bridge.Hardware = hw.Host{}
	if *sim || allSim(cfg) {
		h = &bridge.Sim{}
	}
	b, err := bridge.New(cfg, bridge.Options{Logger: log, Hardware: h})
	if err != nil {
		return err
	}
	st := b.Queue().Stats()
	log.Info("bridge starting", "device", cfg.DeviceID, "broker", cfg.MQTT.URL, "sensors", len(cfg.Devices),
		"backlog", st.Len, "queue_dir", cfg.QueueOptions().Dir)
	if err := b.Run(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	log.Info("bridge stopped", "backlog", b.Queue().Len())
	return nil
}

func allSim(cfg *bridge.Config) bool {
	for _, b := range cfg.Buses {
		if b.Type != "sim" {
			return false
		}
	}
	return len(cfg.Buses) > 0
}
