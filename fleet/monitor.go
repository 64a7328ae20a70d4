package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

// MonitorOptions are the alert limits; zero fields take the defaults.
type MonitorOptions struct {
	// FireTempC: a bin sensor at or above this temperature raises a fire
	// suspicion (default 70 °C).
	FireTempC float64
	// FireRiseC within FireRiseWindow also does (defaults 15 °C in 1 h).
	FireRiseC      float64
	FireRiseWindow time.Duration
	// TiltDeg: a bin tilted at least this much raises a tilt alert
	// (default 30°).
	TiltDeg float64
	// FullClearPct: a full bin's alert is resolved once its level drops
	// this far below the threshold (default 10 points).
	FullClearPct float64
	// OfflinePoll is how often device health events are read (default 15 s).
	OfflinePoll time.Duration
}

func (o *MonitorOptions) defaults() {
	if o.FireTempC <= 0 {
		o.FireTempC = 70
	}
	if o.FireRiseC <= 0 {
		o.FireRiseC = 15
	}
	if o.FireRiseWindow <= 0 {
		o.FireRiseWindow = time.Hour
	}
	if o.TiltDeg <= 0 {
		o.TiltDeg = 30
	}
	if o.FullClearPct <= 0 {
		o.FullClearPct = 10
	}
	if o.OfflinePoll <= 0 {
		o.OfflinePoll = 15 * time.Second
	}
}

type sensorState struct {
	last  time.Time
	temps []tempPoint // readings of the last FireRiseWindow, for the rise test
	// subject is the alert subject of the sensor (its bin, or the device
	// when no bin has it) and keys the open keys of its conditions.
	subject string
	keys    [3]string // bin full, fire suspicion, tilt
	// epoch is the Observe call that last saved the state.
	epoch uint64
}

// Monitor raises alerts from bin sensor readings (bin full, fire
// suspicion, tilt) and from device health events (device offline).
// Condition alerts stay open while the condition holds, so one cause
// raises one alert however often it is reported or redelivered.
type Monitor struct {
	log    *slog.Logger
	db     *store.DB
	cat    *catalog
	alerts *alerts.Service
	opts   MonitorOptions

	mu      sync.Mutex
	open    map[string]bool // open condition alert keys
	loaded  bool
	sensors map[revloop.DeviceID]*sensorState

	// The transitions of the current Observe call, stored together, and
	// what to restore when storing them fails.
	epoch     uint64
	ops       []alerts.Op
	undoOpen  []openUndo
	undoState []sensorUndo
	undoTemps []tempPoint
}

// tempPoint is a temperature reading of a sensor's rise window.
type tempPoint struct {
	t time.Time
	c float64
}

type openUndo struct {
	key string
	was bool
}

// sensorUndo is a sensor's state before the current Observe call; its
// rise window is kept in Monitor.undoTemps[from:to].
type sensorUndo struct {
	st       *sensorState
	last     time.Time
	from, to int
}

var _ ingest.Observer = (*Monitor)(nil)

func newMonitor(log *slog.Logger, db *store.DB, cat *catalog, al *alerts.Service, opts MonitorOptions) *Monitor {
	opts.defaults()
	return &Monitor{log: log, db: db, cat: cat, alerts: al, opts: opts, open: map[string]bool{}, sensors: map[revloop.DeviceID]*sensorState{}}
}

func (m *Monitor) loadOpen(ctx context.Context) error {
	if m.loaded {
		return nil
	}
	for _, prefix := range []string{alerts.KindBinFull, alerts.KindFireSuspicion, alerts.KindTilt} {
		keys, err := m.alerts.OpenKeys(ctx, prefix+":")
		if err != nil {
			return err
		}
		for _, k := range keys {
			m.open[k] = true
		}
	}
	m.loaded = true
	return nil
}

// condition queues the raise (on) or the resolve (off) of the condition
// alert key; the alert's detail is built only when it is raised.
func (m *Monitor) condition(on, off bool, a alerts.Alert, detail func() json.RawMessage) {
	if !on && !off {
		return
	}
	key := a.OpenKey
	open := m.open[key]
	switch {
	case on && !open:
		a.Detail = detail()
		m.ops = append(m.ops, alerts.Op{Alert: a})
		m.undoOpen = append(m.undoOpen, openUndo{key: key, was: false})
		m.open[key] = true
	case off && open:
		m.ops = append(m.ops, alerts.Op{Alert: a, Resolve: true})
		m.undoOpen = append(m.undoOpen, openUndo{key: key, was: true})
		delete(m.open, key)
	}
}

// Observe checks the newest fill readings of each sensor against the
// limits and stores the alert transitions they cause in one transaction.
// When storing fails, the monitor is left as before the call, so the
// redelivered batch is checked again.
func (m *Monitor) Observe(ctx context.Context, records []ingest.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.evaluateLocked(ctx, records); err != nil {
		return err
	}
	if len(m.ops) == 0 {
		return nil
	}
	_, err := m.alerts.Apply(ctx, m.ops)
	if err != nil {
		m.undoLocked()
		return fmt.Errorf("fleet monitor: %w", err)
	}
	m.doneLocked()
	return nil
}

// evaluateLocked checks the records' readings and queues the alert
// transitions they cause in m.ops; store them, then call doneLocked, or
// undoLocked when storing failed.
func (m *Monitor) evaluateLocked(ctx context.Context, records []ingest.Record) error {
	if err := m.loadOpen(ctx); err != nil {
		return fmt.Errorf("fleet monitor: %w", err)
	}
	m.epoch++
	m.ops, m.undoOpen, m.undoState, m.undoTemps = m.ops[:0], m.undoOpen[:0], m.undoState[:0], m.undoTemps[:0]
	for i := range records {
		for _, r := range records[i].Fills {
			m.reading(r)
		}
	}
	return nil
}

// undoLocked puts the open keys and the sensors back as they were before
// evaluateLocked.
func (m *Monitor) undoLocked() {
	for i := len(m.undoOpen) - 1; i >= 0; i-- {
		if u := m.undoOpen[i]; u.was {
			m.open[u.key] = true
		} else {
			delete(m.open, u.key)
		}
	}
	for _, u := range m.undoState {
		u.st.last = u.last
		u.st.temps = append(u.st.temps[:0], m.undoTemps[u.from:u.to]...)
	}
	m.doneLocked()
}

// doneLocked drops the queued transitions (and the alerts' details).
func (m *Monitor) doneLocked() {
	clear(m.ops)
	m.ops, m.undoOpen = m.ops[:0], m.undoOpen[:0]
	clear(m.undoState)
	m.undoState, m.undoTemps = m.undoState[:0], m.undoTemps[:0]
}

func (m *Monitor) reading(r revloop.FillReading) {
	st := m.sensors[r.Device]
	if st == nil {
		st = &sensorState{}
		m.sensors[r.Device] = st
	}
	if !r.Time.After(st.last) {
		return // late or repeated: the newer reading decided already
	}
	if st.epoch != m.epoch {
		from := len(m.undoTemps)
		m.undoTemps = append(m.undoTemps, st.temps...)
		m.undoState = append(m.undoState, sensorUndo{st: st, last: st.last, from: from, to: len(m.undoTemps)})
		st.epoch = m.epoch
	}
	m.check(st, r)
	st.last = r.Time
}

func (m *Monitor) check(st *sensorState, r revloop.FillReading) {
	subject, site, customer, threshold := string(r.Device), r.Site, "", 80.0
	if b := m.cat.sensorBin(r.Device); b != nil {
		subject, site, customer = b.ID, b.SiteID, b.CustomerID
		if b.ThresholdPct > 0 {
			threshold = b.ThresholdPct
		}
	}
	if subject != st.subject || st.keys[0] == "" {
		st.subject = subject
		st.keys = [3]string{alerts.KindBinFull + ":" + subject, alerts.KindFireSuspicion + ":" + subject, alerts.KindTilt + ":" + subject}
	}
	base := alerts.Alert{Subject: subject, SiteID: site, CustomerID: customer, Time: r.Time}
	detail := func(kv ...any) json.RawMessage {
		mp := map[string]any{"device": r.Device}
		for i := 0; i+1 < len(kv); i += 2 {
			mp[kv[i].(string)] = kv[i+1]
		}
		b, _ := json.Marshal(mp)
		return b
	}
	if !math.IsNaN(r.LevelPct) {
		a := base
		a.Kind, a.OpenKey = alerts.KindBinFull, st.keys[0]
		m.condition(r.LevelPct >= threshold, r.LevelPct < threshold-m.opts.FullClearPct, a,
			func() json.RawMessage { return detail("level_pct", r.LevelPct, "threshold_pct", threshold) })
	}
	if !math.IsNaN(r.TempC) {
		// Keep the readings of the rise window.
		cut := r.Time.Add(-m.opts.FireRiseWindow)
		k := 0
		for k < len(st.temps) && st.temps[k].t.Before(cut) {
			k++
		}
		if k > 0 {
			st.temps = st.temps[:copy(st.temps, st.temps[k:])]
		}
		st.temps = append(st.temps, tempPoint{t: r.Time, c: r.TempC})
		minT := r.TempC
		for _, x := range st.temps {
			minT = math.Min(minT, x.c)
		}
		rise := r.TempC - minT
		hot := r.TempC >= m.opts.FireTempC || rise >= m.opts.FireRiseC
		a := base
		a.Kind, a.OpenKey = alerts.KindFireSuspicion, st.keys[1]
		m.condition(hot, r.TempC < m.opts.FireTempC-10 && rise < m.opts.FireRiseC/2, a,
			func() json.RawMessage {
				return detail("temp_c", r.TempC, "rise_c", math.Round(rise*10)/10, "limit_c", m.opts.FireTempC)
			})
	}
	if !math.IsNaN(r.TiltDeg) {
		a := base
		a.Kind, a.OpenKey = alerts.KindTilt, st.keys[2]
		m.condition(r.TiltDeg >= m.opts.TiltDeg, r.TiltDeg < m.opts.TiltDeg/2, a,
			func() json.RawMessage { return detail("tilt_deg", r.TiltDeg, "limit_deg", m.opts.TiltDeg) })
	}
}

const offlineCursor = "device_offline"

// PollOffline raises a device_offline alert for each device_offline health
// event recorded since the last poll (the position is kept in
// fleet_cursors, updated in the alert's transaction). It returns how many
// events it read.
func (m *Monitor) PollOffline(ctx context.Context) (int, error) {
	var cursor int64
	err := m.db.QueryRow(ctx, `SELECT value FROM fleet_cursors WHERE name = ?`, offlineCursor).Scan(&cursor)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("poll offline: %w", err)
	}
	rows, err := m.db.Query(ctx, `SELECT id, device_id, at_ms, detail FROM device_events WHERE id > ? AND kind = ? ORDER BY id LIMIT 500`,
		cursor, string(revloop.EventDeviceOffline))
	if err != nil {
		return 0, fmt.Errorf("poll offline: %w", err)
	}
	type ev struct {
		id     int64
		dev    string
		at     int64
		detail string
	}
	var evs []ev
	for rows.Next() {
		var e ev
		if err := rows.Scan(&e.id, &e.dev, &e.at, &e.detail); err != nil {
			rows.Close()
			return 0, fmt.Errorf("poll offline: %w", err)
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("poll offline: %w", err)
	}
	for _, e := range evs {
		dev := revloop.DeviceID(e.dev)
		site, customer := "", ""
		if b := m.cat.sensorBin(dev); b != nil {
			site, customer = b.SiteID, b.CustomerID
		}
		d := map[string]any{"device": e.dev, "vehicle": ""}
		if v := m.cat.vehicleOf(dev); v != e.dev {
			d["vehicle"] = v
		}
		var health any
		if json.Unmarshal([]byte(e.detail), &health) == nil {
			d["health"] = health
		}
		detail, _ := json.Marshal(d)
		a := alerts.Alert{Kind: alerts.KindDeviceOffline, Subject: e.dev, SiteID: site, CustomerID: customer,
			Time: store.FromMillis(e.at), Detail: detail, OpenKey: fmt.Sprintf("%s:%s:%d", alerts.KindDeviceOffline, e.dev, e.id)}
		var fresh bool
		err := m.db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if fresh, err = m.alerts.Raise(ctx, tx, &a); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO fleet_cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
				offlineCursor, e.id)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("poll offline: %w", err)
		}
		if fresh {
			m.alerts.Notify(a)
		}
	}
	return len(evs), nil
}
