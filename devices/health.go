package devices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

// HealthOptions tune the health tracker; zero fields take the defaults.
type HealthOptions struct {
	// OfflineAfter is the silence after which a device of each kind is
	// marked offline. Defaults: tracker 10m, bin_sensor 26h, gate_reader
	// 15m, scale 1h, gateway 10m.
	OfflineAfter map[Kind]time.Duration
	// LowBatteryV is the battery voltage below which low_battery is
	// recorded (once, until it recovers by 0.1 V); default 3.3.
	LowBatteryV float64
	// FlushInterval is how often state and events are written; default 5s.
	FlushInterval time.Duration
	// CheckInterval is how often silences are checked; default 30s.
	CheckInterval time.Duration
	// PersistEvery is how stale the stored last-seen time, battery, signal
	// and uptime of a device may get; state changes (offline, online, low
	// battery, firmware, config version) are written at the next flush
	// regardless. Default 30s.
	PersistEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultOfflineAfter are the per-kind silences before a device is offline.
var DefaultOfflineAfter = map[Kind]time.Duration{
	KindTracker: 10 * time.Minute, KindBinSensor: 26 * time.Hour, KindGateReader: 15 * time.Minute,
	KindScale: time.Hour, KindGateway: 10 * time.Minute,
}

func (o HealthOptions) withDefaults() HealthOptions {
	m := map[Kind]time.Duration{}
	for k, v := range DefaultOfflineAfter {
		m[k] = v
	}
	for k, v := range o.OfflineAfter {
		if v > 0 {
			m[k] = v
		}
	}
	o.OfflineAfter = m
	if o.LowBatteryV <= 0 {
		o.LowBatteryV = 3.3
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 5 * time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 30 * time.Second
	}
	if o.PersistEvery <= 0 {
		o.PersistEvery = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// HealthInfo is a device's latest health.
type HealthInfo struct {
	Device        revloop.DeviceID `json:"device_id"`
	LastSeen      time.Time        `json:"last_seen"`
	StatusTime    time.Time        `json:"status_time"`
	BatteryV      float64          `json:"battery_v"`
	RSSIDbm       float64          `json:"rssi_dbm"`
	Firmware      string           `json:"firmware"`
	UptimeS       float64          `json:"uptime_s"`
	Online        bool             `json:"online"`  // as the device last reported it
	Offline       bool             `json:"offline"` // silent for longer than its kind allows, or last will
	LowBattery    bool             `json:"low_battery"`
	ConfigVersion int64            `json:"config_version"` // downlink version the device acknowledged
}

// Event is one recorded health event.
type Event struct {
	Device revloop.DeviceID  `json:"device_id"`
	Kind   revloop.EventKind `json:"kind"`
	Time   time.Time         `json:"time"`
	Detail map[string]any    `json:"detail,omitempty"`
}

// Health is the ingest.Observer that tracks device health: last seen,
// battery, signal, firmware, uptime and acknowledged config version, from
// every accepted record and the status channel (the last will included). It
// keeps state in memory and writes changed devices and events in batches
// (Run); a device silent for longer than its kind allows is marked offline
// with a device_offline event, and device_online is recorded when it is
// heard again.
type Health struct {
	reg  *Registry
	log  *slog.Logger
	opts HealthOptions

	mu      sync.Mutex
	devs    map[revloop.DeviceID]*tracked
	dirty   map[revloop.DeviceID]bool // value: urgent (a state change)
	pending []Event
}

type tracked struct {
	HealthInfo
	kind      Kind
	persisted time.Time // when last written (tracker clock)
	dirty     dirtiness // mirrors the device's entry in Health.dirty
}

// dirtiness says whether a device waits in Health.dirty, and how urgently.
type dirtiness uint8

const (
	clean dirtiness = iota
	dirtyRoutine
	dirtyUrgent
)

func dirtinessOf(urgent bool) dirtiness {
	if urgent {
		return dirtyUrgent
	}
	return dirtyRoutine
}

// mark records that a device changed; urgent changes are written at the
// next flush, the others once PersistEvery has passed.
func (h *Health) mark(t *tracked, urgent bool) {
	if d := dirtinessOf(urgent); d > t.dirty {
		t.dirty = d
		h.dirty[t.Device] = urgent
	}
}

var _ ingest.Observer = (*Health)(nil)

// NewHealth returns a tracker; call Load before Observe to pick up the
// stored state, and Run to persist and to detect silences.
func NewHealth(reg *Registry, log *slog.Logger, opts HealthOptions) *Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Health{reg: reg, log: log, opts: opts.withDefaults(),
		devs: map[revloop.DeviceID]*tracked{}, dirty: map[revloop.DeviceID]bool{}}
}

// Load reads the stored health and device kinds into memory.
func (h *Health) Load(ctx context.Context) error {
	rows, err := h.reg.db.Query(ctx, `SELECT d.id, d.kind, COALESCE(h.last_seen_ms, d.last_seen_ms), COALESCE(h.status_ms, 0),
		COALESCE(h.battery_v, 0), COALESCE(h.rssi_dbm, 0), COALESCE(h.firmware, d.firmware), COALESCE(h.uptime_s, 0),
		COALESCE(h.online, FALSE), COALESCE(h.offline, FALSE), COALESCE(h.low_battery, FALSE), COALESCE(h.config_version, 0)
		FROM devices d LEFT JOIN device_health h ON h.device_id = d.id`)
	if err != nil {
		return fmt.Errorf("health load: %w", err)
	}
	defer rows.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for rows.Next() {
		var t tracked
		var id, kind string
		var seen, status int64
		if err := rows.Scan(&id, &kind, &seen, &status, &t.BatteryV, &t.RSSIDbm, &t.Firmware, &t.UptimeS,
			&t.Online, &t.Offline, &t.LowBattery, &t.ConfigVersion); err != nil {
			return fmt.Errorf("health load: %w", err)
		}
		t.Device, t.kind = revloop.DeviceID(id), Kind(kind)
		t.LastSeen, t.StatusTime = store.FromMillis(seen), store.FromMillis(status)
		h.devs[t.Device] = &t
	}
	return rows.Err()
}

// Observe updates health from accepted records. It only touches memory and
// is idempotent: replayed records change nothing.
func (h *Health) Observe(ctx context.Context, records []ingest.Record) error {
	now := h.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range records {
		rec := &records[i]
		t := h.devs[rec.Device]
		urgent := false
		if t == nil {
			t = &tracked{HealthInfo: HealthInfo{Device: rec.Device}}
			h.devs[rec.Device] = t
			urgent = true
		}
		before := len(h.pending)
		flags := [3]bool{t.Offline, t.LowBattery, t.Online}
		fw, cv := t.Firmware, t.ConfigVersion
		seen := rec.Received
		if seen.IsZero() {
			seen = now
		}
		changed := false
		lastWill := rec.Status != nil && !rec.Status.Online
		if seen.After(t.LastSeen) {
			t.LastSeen = seen
			changed = true
			if t.Offline && !lastWill {
				t.Offline = false
				h.pending = append(h.pending, Event{Device: rec.Device, Kind: revloop.EventDeviceOnline, Time: seen})
			}
		}
		if s := rec.Status; s != nil && (!s.Online || s.Time.After(t.StatusTime)) {
			changed = h.applyStatus(t, s, seen) || changed
		}
		for _, f := range rec.Fills {
			if f.BatteryV > 0 && f.Time.After(t.StatusTime) {
				changed = h.battery(t, f.BatteryV, f.Time) || changed
			}
		}
		if changed {
			urgent = urgent || len(h.pending) != before || flags != [3]bool{t.Offline, t.LowBattery, t.Online} ||
				fw != t.Firmware || cv != t.ConfigVersion
			h.mark(t, urgent)
		}
	}
	return nil
}

func (h *Health) applyStatus(t *tracked, s *revloop.DeviceStatus, seen time.Time) bool {
	if !s.Online {
		// Last will ({"online":false}) or an orderly goodbye: offline now.
		changed := t.Online || !t.Offline
		t.Online = false
		if !t.Offline {
			t.Offline = true
			h.pending = append(h.pending, Event{Device: t.Device, Kind: revloop.EventDeviceOffline, Time: seen,
				Detail: map[string]any{"reason": "last_will"}})
		}
		if s.Time.After(t.StatusTime) {
			t.StatusTime = s.Time
		}
		return changed
	}
	t.StatusTime = s.Time
	t.Online = true
	if finite(s.RSSIDbm) && s.RSSIDbm != 0 {
		t.RSSIDbm = s.RSSIDbm
	}
	if s.Firmware != "" {
		t.Firmware = s.Firmware
	}
	if finite(s.UptimeS) && s.UptimeS > 0 {
		t.UptimeS = s.UptimeS
	}
	if s.ConfigVersion > 0 {
		t.ConfigVersion = s.ConfigVersion
	}
	if finite(s.BatteryV) && s.BatteryV > 0 {
		h.battery(t, s.BatteryV, s.Time)
	}
	return true
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (h *Health) battery(t *tracked, v float64, at time.Time) bool {
	if !finite(v) {
		return false
	}
	t.BatteryV = v
	switch {
	case !t.LowBattery && v < h.opts.LowBatteryV:
		t.LowBattery = true
		h.pending = append(h.pending, Event{Device: t.Device, Kind: revloop.EventLowBattery, Time: at,
			Detail: map[string]any{"battery_v": v, "threshold_v": h.opts.LowBatteryV}})
	case t.LowBattery && v >= h.opts.LowBatteryV+0.1:
		t.LowBattery = false
	}
	return true
}

// CheckSilence marks devices offline whose silence exceeds their kind's
// limit and queues device_offline events; it returns how many it marked.
func (h *Health) CheckSilence(ctx context.Context) (int, error) {
	var unknown []revloop.DeviceID
	h.mu.Lock()
	for id, t := range h.devs {
		if t.kind == "" {
			unknown = append(unknown, id)
		}
	}
	h.mu.Unlock()
	kinds := map[revloop.DeviceID]Kind{}
	for _, id := range unknown {
		st, err := h.reg.status(ctx, id)
		if err == nil {
			kinds[id] = st.Kind
		} else if !isUnknown(err) {
			return 0, fmt.Errorf("health check: %w", err)
		}
	}
	now := h.opts.Now()
	n := 0
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, t := range h.devs {
		if k, ok := kinds[id]; ok {
			t.kind = k
		}
		limit, ok := h.opts.OfflineAfter[t.kind]
		if !ok || t.Offline || t.LastSeen.IsZero() || now.Sub(t.LastSeen) <= limit {
			continue
		}
		t.Offline = true
		h.mark(t, true)
		h.pending = append(h.pending, Event{Device: id, Kind: revloop.EventDeviceOffline, Time: now,
			Detail: map[string]any{"reason": "silence", "last_seen": t.LastSeen.UTC().Format(time.RFC3339Nano), "limit_s": limit.Seconds()}})
		n++
	}
	return n, nil
}

func isUnknown(err error) bool { return errors.Is(err, ErrUnknownDevice) }

// Flush writes queued events and the devices with state changes or with
// health older than PersistEvery, in one transaction.
func (h *Health) Flush(ctx context.Context) error { return h.flush(ctx, false) }

// FlushAll writes every changed device and queued event.
func (h *Health) FlushAll(ctx context.Context) error { return h.flush(ctx, true) }

func (h *Health) flush(ctx context.Context, all bool) error {
	at := h.opts.Now()
	h.mu.Lock()
	if len(h.dirty) == 0 && len(h.pending) == 0 {
		h.mu.Unlock()
		return nil
	}
	var snap []HealthInfo
	for id, urgent := range h.dirty {
		t := h.devs[id]
		if all || urgent || at.Sub(t.persisted) >= h.opts.PersistEvery {
			snap = append(snap, t.HealthInfo)
			t.persisted, t.dirty = at, clean
			delete(h.dirty, id)
		}
	}
	events := h.pending
	h.pending = nil
	h.mu.Unlock()
	if len(snap) == 0 && len(events) == 0 {
		return nil
	}
	now := store.Millis(at)
	err := h.reg.db.InTx(ctx, func(tx *store.Tx) error {
		if len(snap) > 0 {
			up, err := tx.Prepare(ctx, `INSERT INTO device_health (device_id, last_seen_ms, status_ms, battery_v, rssi_dbm, firmware,
				uptime_s, online, offline, low_battery, config_version, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, status_ms = excluded.status_ms,
				battery_v = excluded.battery_v, rssi_dbm = excluded.rssi_dbm, firmware = excluded.firmware,
				uptime_s = excluded.uptime_s, online = excluded.online, offline = excluded.offline,
				low_battery = excluded.low_battery, config_version = excluded.config_version, updated_ms = excluded.updated_ms`)
			if err != nil {
				return err
			}
			defer up.Close()
			for _, s := range snap {
				if _, err := up.ExecContext(ctx, string(s.Device), store.Millis(s.LastSeen), store.Millis(s.StatusTime), s.BatteryV,
					s.RSSIDbm, s.Firmware, s.UptimeS, s.Online, s.Offline, s.LowBattery, s.ConfigVersion, now); err != nil {
					return fmt.Errorf("device %s: %w", s.Device, err)
				}
			}
		}
		for _, e := range events {
			detail, _ := json.Marshal(e.Detail)
			if e.Detail == nil {
				detail = []byte("{}")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO device_events (device_id, kind, at_ms, detail) VALUES (?, ?, ?, ?)`,
				string(e.Device), string(e.Kind), store.Millis(e.Time), string(detail)); err != nil {
				return fmt.Errorf("event %s %s: %w", e.Device, e.Kind, err)
			}
		}
		return nil
	})
	if err != nil {
		// Put the work back so the next flush retries it.
		h.mu.Lock()
		for _, s := range snap {
			h.dirty[s.Device] = true
			t := h.devs[s.Device]
			t.persisted, t.dirty = time.Time{}, dirtyUrgent
		}
		h.pending = append(events, h.pending...)
		h.mu.Unlock()
		return fmt.Errorf("health flush: %w", err)
	}
	return nil
}

// Run flushes every FlushInterval and checks silences every CheckInterval
// until ctx ends, then flushes once more.
func (h *Health) Run(ctx context.Context) error {
	flush := time.NewTicker(h.opts.FlushInterval)
	check := time.NewTicker(h.opts.CheckInterval)
	defer flush.Stop()
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return h.FlushAll(fctx)
		case <-flush.C:
			if err := h.Flush(ctx); err != nil {
				h.log.Warn("device health: flush failed", "err", err)
			}
		case <-check.C:
			if _, err := h.CheckSilence(ctx); err != nil {
				h.log.Warn("device health: silence check failed", "err", err)
			}
		}
	}
}

// Snapshot returns the in-memory health of a device.
func (h *Health) Snapshot(id revloop.DeviceID) (HealthInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.devs[id]
	if !ok {
		return HealthInfo{}, false
	}
	return t.HealthInfo, true
}

// HealthOf reads a device's stored health (as last flushed).
func (r *Registry) HealthOf(ctx context.Context, id revloop.DeviceID) (HealthInfo, error) {
	if _, err := r.status(ctx, id); err != nil {
		return HealthInfo{}, fmt.Errorf("health %s: %w", id, err)
	}
	var hi HealthInfo
	var seen, status int64
	err := r.db.QueryRow(ctx, `SELECT last_seen_ms, status_ms, battery_v, rssi_dbm, firmware, uptime_s, online, offline,
		low_battery, config_version FROM device_health WHERE device_id = ?`, string(id)).
		Scan(&seen, &status, &hi.BatteryV, &hi.RSSIDbm, &hi.Firmware, &hi.UptimeS, &hi.Online, &hi.Offline, &hi.LowBattery, &hi.ConfigVersion)
	hi.Device = id
	if isNoRows(err) {
		return hi, nil
	}
	if err != nil {
		return HealthInfo{}, fmt.Errorf("health %s: %w", id, err)
	}
	hi.LastSeen, hi.StatusTime = store.FromMillis(seen), store.FromMillis(status)
	return hi, nil
}

// OfflineIDs lists devices whose stored health says offline.
func (r *Registry) OfflineIDs(ctx context.Context) (map[revloop.DeviceID]bool, error) {
	rows, err := r.db.Query(ctx, `SELECT device_id FROM device_health WHERE offline = ?`, true)
	if err != nil {
		return nil, fmt.Errorf("offline devices: %w", err)
	}
	defer rows.Close()
	out := map[revloop.DeviceID]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("offline devices: %w", err)
		}
		out[revloop.DeviceID(id)] = true
	}
	return out, rows.Err()
}

// Events returns a device's most recent health events, newest first.
func (r *Registry) Events(ctx context.Context, id revloop.DeviceID, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := r.db.Query(ctx, `SELECT kind, at_ms, detail FROM device_events WHERE device_id = ? ORDER BY at_ms DESC, id DESC LIMIT ?`,
		string(id), limit)
	if err != nil {
		return nil, fmt.Errorf("device events %s: %w", id, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var kind, detail string
		var at int64
		if err := rows.Scan(&kind, &at, &detail); err != nil {
			return nil, fmt.Errorf("device events %s: %w", id, err)
		}
		e := Event{Device: id, Kind: revloop.EventKind(kind), Time: store.FromMillis(at)}
		if detail != "" && detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
