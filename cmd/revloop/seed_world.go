package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

// attachedKind is what each kind of simulated device is attached to.
var attachedKind = map[string]string{"tracker": "vehicle", "bin_sensor": "bin", "gate_reader": "gate", "scale": "scale"}

// seedDevicesAndYard registers a simulator world's devices (writing each new
// device's secret to secretsOut, mode 0600) and configures the yard: gate
// antennas, scales, vehicle and container tags and the vehicles' stored
// tares. Devices already registered are left as they are.
func seedDevicesAndYard(ctx context.Context, db *store.DB, worldFile, secretsOut string, stdout io.Writer) error {
	data, err := os.ReadFile(worldFile)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var w sim.World
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("seed: %s: %w", worldFile, err)
	}
	reg := devices.NewRegistry(db, nil, devices.Options{})
	var rows []devices.Row
	for i, d := range w.Devices {
		if _, err := reg.Get(ctx, d.ID); err == nil {
			continue
		} else if !errors.Is(err, revloop.ErrNotFound) {
			return fmt.Errorf("seed devices: %w", err)
		}
		rows = append(rows, devices.Row{Line: i + 1, Spec: devices.Spec{ID: string(d.ID), Kind: d.Kind, Firmware: d.Firmware,
			Attached: devices.Attachment{Kind: devices.AttachedKind(attachedKind[d.Kind]), ID: d.AttachedTo}}})
	}
	creds, err := reg.Import(ctx, rows, nil)
	if err != nil {
		return fmt.Errorf("seed devices: %w", err)
	}
	if secretsOut != "" && len(creds) > 0 {
		if err := writeSecrets(secretsOut, creds); err != nil {
			return err
		}
	}
	ys, err := yard.New(db, nil, yard.Options{})
	if err != nil {
		return err
	}
	for _, g := range w.Gates {
		gate := yard.Gate{Reader: g.Device, Yard: g.Site, Name: g.ID}
		for _, a := range g.Antennas {
			if a.Side == 1 {
				gate.Outside = append(gate.Outside, a.Antenna)
			} else if a.Side == 2 {
				gate.Inside = append(gate.Inside, a.Antenna)
			}
		}
		if err := ys.PutGate(ctx, gate); err != nil {
			return fmt.Errorf("seed gate %s: %w", g.ID, err)
		}
	}
	for _, s := range w.Scales {
		if err := ys.PutScale(ctx, yard.Scale{Scale: s.Device, Yard: s.Site, Name: s.ID}); err != nil {
			return fmt.Errorf("seed scale %s: %w", s.ID, err)
		}
	}
	tags := 0
	for _, v := range w.Vehicles {
		if v.EPC != "" {
			if err := ys.PutTag(ctx, yard.Tag{EPC: v.EPC, Kind: "vehicle", Ref: v.ID}); err != nil {
				return fmt.Errorf("seed tag of %s: %w", v.ID, err)
			}
			tags++
		}
		if v.TareKg > 0 {
			if err := ys.PutTare(ctx, yard.Tare{Vehicle: v.ID, Kg: v.TareKg, UpdatedBy: "seed"}); err != nil {
				return fmt.Errorf("seed tare of %s: %w", v.ID, err)
			}
		}
	}
	for _, b := range w.Bins {
		if b.EPC != "" {
			if err := ys.PutTag(ctx, yard.Tag{EPC: b.EPC, Kind: "container", Ref: b.ID}); err != nil {
				return fmt.Errorf("seed tag of %s: %w", b.ID, err)
			}
			tags++
		}
	}
	fmt.Fprintf(stdout, "seeded %d new devices (%d registered before), %d gates, %d scales, %d tags\n",
		len(creds), len(w.Devices)-len(rows), len(w.Gates), len(w.Scales), tags)
	return nil
}

// writeSecrets writes device_id,secret lines readable by the owner only.
func writeSecrets(path string, creds []devices.Credential) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".secrets-*")
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer os.Remove(f.Name())
	cw := csv.NewWriter(f)
	cw.Write([]string{"device_id", "secret"})
	for _, c := range creds {
		cw.Write([]string{string(c.Device), c.Secret})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return fmt.Errorf("seed: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("seed: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return os.Rename(f.Name(), path)
}
