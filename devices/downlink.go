package devices

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// Publisher sends one MQTT message. The embedded broker's
// (*mqtt.Server).Publish has this shape; serve adapts the ingest paho client
// to it when the broker is external.
type Publisher interface {
	Publish(topic string, payload []byte, retain bool, qos byte) error
}

// ConfigSpec is the settings part of a downlink config.
type ConfigSpec struct {
	// Version, when set, must be greater than the current version;
	// otherwise the next version is chosen.
	Version            int64              `json:"version,omitempty"`
	ReportingIntervalS int                `json:"reporting_interval_s"`
	Thresholds         map[string]float64 `json:"thresholds,omitempty"`
}

// DeviceConfig is the retained message published on revloop/v1/<id>/config.
type DeviceConfig struct {
	Version            int64              `json:"version"`
	ReportingIntervalS int                `json:"reporting_interval_s"`
	Thresholds         map[string]float64 `json:"thresholds,omitempty"`
}

// ConfigState is what the registry knows of a device's downlink config.
type ConfigState struct {
	Device    revloop.DeviceID `json:"device_id"`
	Config    *DeviceConfig    `json:"config"`
	Published time.Time        `json:"published"`
	// AckedVersion is the version the device reported applying in its
	// last status message (config_version).
	AckedVersion int64 `json:"acked_version"`
}

// Downlink publishes device configuration.
type Downlink struct {
	reg *Registry
	pub Publisher
}

// NewDownlink returns a downlink over reg publishing through pub.
func NewDownlink(reg *Registry, pub Publisher) *Downlink { return &Downlink{reg: reg, pub: pub} }

func (s ConfigSpec) validate() error {
	if s.ReportingIntervalS < 1 || s.ReportingIntervalS > 7*86400 {
		return revloop.Invalid("reporting_interval_s", "must be between 1 and %d seconds", 7*86400)
	}
	if len(s.Thresholds) > 32 {
		return revloop.Invalid("thresholds", "at most 32 thresholds")
	}
	for k, v := range s.Thresholds {
		if k == "" || len(k) > 63 || !labelKey(k) {
			return revloop.Invalid("thresholds", "name %q must be 1-63 characters of a-z, 0-9, '.', '_', '-'", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return revloop.Invalid("thresholds", "%s must be a finite number", k)
		}
	}
	if s.Version < 0 {
		return revloop.Invalid("version", "must not be negative")
	}
	return nil
}

// Push stores the next config version of a device and publishes it,
// retained at QoS 1, on revloop/v1/<id>/config. If publishing fails the
// stored version stays (the device has not got it; push again).
func (d *Downlink) Push(ctx context.Context, id revloop.DeviceID, spec ConfigSpec) (DeviceConfig, error) {
	if err := spec.validate(); err != nil {
		return DeviceConfig{}, fmt.Errorf("push config %s: %w", id, err)
	}
	st, err := d.reg.status(ctx, id)
	if err != nil {
		return DeviceConfig{}, fmt.Errorf("push config %s: %w", id, err)
	}
	if st.State == StateRevoked {
		return DeviceConfig{}, fmt.Errorf("push config %s: %w", id, &revloop.TransitionError{Entity: "device " + string(id), From: string(st.State), To: "configured"})
	}
	cfg := DeviceConfig{ReportingIntervalS: spec.ReportingIntervalS, Thresholds: spec.Thresholds}
	var body []byte
	now := d.reg.opts.Now()
	err = d.reg.db.InTx(ctx, func(tx *store.Tx) error {
		var cur int64
		err := tx.QueryRow(ctx, `SELECT version FROM device_configs WHERE device_id = ?`, string(id)).Scan(&cur)
		if err != nil && !isNoRows(err) {
			return err
		}
		cfg.Version = cur + 1
		if spec.Version != 0 {
			if spec.Version <= cur {
				return fmt.Errorf("%w: version %d is not greater than the current %d", revloop.ErrConflict, spec.Version, cur)
			}
			cfg.Version = spec.Version
		}
		body, _ = json.Marshal(cfg)
		_, err = tx.Exec(ctx, `INSERT INTO device_configs (device_id, version, body, published_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (device_id) DO UPDATE SET version = excluded.version, body = excluded.body, published_ms = excluded.published_ms`,
			string(id), cfg.Version, string(body), store.Millis(now))
		return err
	})
	if err != nil {
		return DeviceConfig{}, fmt.Errorf("push config %s: %w", id, err)
	}
	if d.pub == nil {
		return cfg, fmt.Errorf("push config %s: no MQTT publisher: %w", id, revloop.ErrUnavailable)
	}
	if err := d.pub.Publish(revloop.Topic(id, revloop.ChannelConfig), body, true, 1); err != nil {
		return cfg, fmt.Errorf("push config %s: publish: %v: %w", id, err, revloop.ErrUnavailable)
	}
	return cfg, nil
}

// ConfigOf returns the stored config of a device and the version it
// acknowledged.
func (r *Registry) ConfigOf(ctx context.Context, id revloop.DeviceID) (ConfigState, error) {
	hi, err := r.HealthOf(ctx, id)
	if err != nil {
		return ConfigState{}, fmt.Errorf("config %s: %w", id, err)
	}
	cs := ConfigState{Device: id, AckedVersion: hi.ConfigVersion}
	var body string
	var ms int64
	err = r.db.QueryRow(ctx, `SELECT body, published_ms FROM device_configs WHERE device_id = ?`, string(id)).Scan(&body, &ms)
	if isNoRows(err) {
		return cs, nil
	}
	if err != nil {
		return ConfigState{}, fmt.Errorf("config %s: %w", id, err)
	}
	var c DeviceConfig
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return ConfigState{}, fmt.Errorf("config %s: stored body: %w", id, err)
	}
	cs.Config, cs.Published = &c, store.FromMillis(ms)
	return cs, nil
}
