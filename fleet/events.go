package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/geo"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

// Event is a stored geofence event.
type Event struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // fence_enter, fence_exit, fence_dwell
	Vehicle    string    `json:"vehicle"`
	SiteID     string    `json:"site_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Time       time.Time `json:"ts"`
	Since      time.Time `json:"since,omitzero"` // enter time of exit and dwell events
	DurationS  float64   `json:"duration_s,omitempty"`
	Lon        float64   `json:"lon"`
	Lat        float64   `json:"lat"`
}

// Cursor is the event's sort key in lists.
func (e Event) Cursor() string { return strconv.FormatInt(store.Millis(e.Time), 10) + "|" + e.ID }

// EventFilter narrows ListEvents.
type EventFilter struct {
	Kind, Vehicle, SiteID, CustomerID string
	From, To                          time.Time // From <= ts < To; zero: open
}

// EventKinds are the geofence event kinds.
var EventKinds = []string{string(geo.EventEnter), string(geo.EventExit), string(geo.EventDwell)}

// Publisher pushes derived events to live subscribers (dispatch.Live has
// it).
type Publisher interface {
	PublishEvent(v any) error
}

var _ Publisher = (*dispatch.Live)(nil)

// Fences turns vehicle fixes into geofence events: an ingest observer over
// one FenceEngine per process, whose fences are the dispatch sites'
// geofences. Events are stored idempotently (upsert by the engine's
// deterministic id, delete when retracted) and vehicles entering a site
// outside its opening hours raise an alert in the same transaction.
type Fences struct {
	log    *slog.Logger
	db     *store.DB
	cat    *catalog
	hours  *hoursStore
	alerts *alerts.Service
	pub    Publisher
	now    func() time.Time

	mu      sync.Mutex
	engine  *geo.FenceEngine
	fences  map[string]time.Time // site id -> Updated of the loaded fence
	pending []pendingEvent       // derived but not yet stored
	// artefacts are the visits a warm-up found in progress (vehicle and
	// fence -> the replay's enter time): their enter and dwell are not
	// stored, and their exit does not replace a stored one.
	artefacts map[string]time.Time
}

var _ ingest.Observer = (*Fences)(nil)

func newFences(log *slog.Logger, db *store.DB, cat *catalog, al *alerts.Service, pub Publisher, opts geo.EngineOptions) *Fences {
	return &Fences{log: log, db: db, cat: cat, hours: &hoursStore{db: db}, alerts: al, pub: pub, now: time.Now,
		engine: geo.NewFenceEngine(nil, opts), fences: map[string]time.Time{}, artefacts: map[string]time.Time{}}
}

// pendingEvent is an event to store; weak ones never replace a stored
// event with the same id.
type pendingEvent struct {
	geo.Event
	weak bool
}

// add queues events, filtering those of warm-up artefacts.
func (f *Fences) add(evs []geo.Event) {
	for _, ev := range evs {
		k := ev.Vehicle + "\x00" + ev.Fence
		since, art := f.artefacts[k]
		art = art && (ev.Kind != geo.EventEnter && ev.Since.Equal(since) || ev.Kind == geo.EventEnter && ev.Time.Equal(since))
		switch {
		case !art:
			f.pending = append(f.pending, pendingEvent{Event: ev})
		case ev.Kind == geo.EventExit && !ev.Retracted:
			f.pending = append(f.pending, pendingEvent{Event: ev, weak: true})
			delete(f.artefacts, k)
		}
	}
}

// syncFences brings the engine's fences in line with the catalog's sites:
// new and changed sites are added, removed ones dropped. It returns the events
// the changes cause.
func (f *Fences) syncFences() []geo.Event {
	sites := f.cat.allSites()
	var out []geo.Event
	for id, s := range sites {
		if up, ok := f.fences[id]; ok && up.Equal(s.Updated) {
			continue
		}
		fe, err := geo.ParseFence(s.Geofence, s.ID)
		if err != nil {
			f.log.Warn("fleet: site geofence ignored", "site", s.ID, "err", err)
			continue
		}
		// A site's fence counts as having always existed: the engine
		// re-evaluates the retained history against it, so a backfill or
		// a late burst sees the fence whatever the wall clock says.
		fe.ID, fe.CreatedAt = s.ID, time.Time{}
		evs, err := f.engine.AddFence(fe)
		if err != nil {
			f.log.Warn("fleet: site geofence ignored", "site", s.ID, "err", err)
			continue
		}
		f.fences[id] = s.Updated
		out = append(out, evs...)
	}
	for id := range f.fences {
		if _, ok := sites[id]; !ok {
			f.engine.RemoveFence(id)
			delete(f.fences, id)
		}
	}
	return out
}

// Sync reloads the fences from the catalog and stores the events the
// changes cause.
func (f *Fences) Sync(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.add(f.syncFences())
	return f.flushLocked(ctx)
}

// Observe feeds the records' fixes to the engine and stores the events
// they settle. When storing fails the events are kept and stored with the
// next call, so a redelivered batch (whose fixes the engine ignores as
// duplicates) loses nothing.
func (f *Fences) Observe(ctx context.Context, records []ingest.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feedLocked(records)
	return f.flushLocked(ctx)
}

// feedLocked feeds the records' fixes to the engine, queueing the events.
func (f *Fences) feedLocked(records []ingest.Record) {
	for i := range records {
		for _, p := range records[i].Positions {
			v := f.cat.vehicleOf(p.Device)
			f.add(f.engine.Observe(v, p.Time, orb.Point{p.Lon, p.Lat}))
		}
	}
}

// Warm replays each tracker's fixes from since to now, so that a restarted
// process knows where vehicles are. A visit the replay finds in progress
// (an enter within skip of the vehicle's first replayed fix) is an artefact
// of the cut: its enter and dwell are not stored, and its exit does not
// replace one stored before.
func (f *Fences) Warm(ctx context.Context, pos PositionReader, since time.Time, skip time.Duration) error {
	now := f.now()
	for _, v := range f.cat.allVehicles() {
		if v.TrackerDeviceID == "" {
			continue
		}
		ps, err := pos.Positions(ctx, revloop.DeviceID(v.TrackerDeviceID), since, now.Add(time.Minute))
		if err != nil {
			return fmt.Errorf("fleet warm %s: %w", v.ID, err)
		}
		if len(ps) == 0 {
			continue
		}
		first := ps[0].Time
		f.mu.Lock()
		for _, p := range ps {
			evs := f.engine.Observe(v.ID, p.Time, orb.Point{p.Lon, p.Lat})
			for _, ev := range evs {
				if ev.Kind == geo.EventEnter && !ev.Retracted && ev.Time.Sub(first) <= skip {
					f.artefacts[ev.Vehicle+"\x00"+ev.Fence] = ev.Time
				}
			}
			f.add(evs)
		}
		err = f.flushLocked(ctx)
		f.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Statements of flushLocked, prepared once per transaction at their first
// use.
const (
	deleteEventSQL = `DELETE FROM fleet_events WHERE id = ?`
	insertEventSQL = `INSERT INTO fleet_events (id, kind, vehicle, site_id, customer_id, at_ms, since_ms, duration_s, lon, lat, recorded_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) `
	upsertEventSQL = insertEventSQL + `ON CONFLICT (id) DO UPDATE SET since_ms = excluded.since_ms, duration_s = excluded.duration_s, lon = excluded.lon, lat = excluded.lat`
	weakEventSQL   = insertEventSQL + `ON CONFLICT (id) DO NOTHING`
)

// txStmts prepares statements of one transaction once, at their first use.
type txStmts struct {
	tx    *store.Tx
	stmts map[string]*sql.Stmt
}

func (c *txStmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	st, err := c.tx.Prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[q] = st
	return st, nil
}

func (c *txStmts) close() {
	for _, st := range c.stmts {
		st.Close()
	}
}

func (f *Fences) flushLocked(ctx context.Context) error {
	if len(f.pending) == 0 {
		return nil
	}
	var raised []alerts.Alert
	err := f.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		raised, err = f.storeLocked(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("fleet events: %w", err)
	}
	f.storedLocked(raised)
	return nil
}

// storeLocked stores the pending events with tx and returns the alerts
// raised for them, to notify once tx committed (storedLocked).
func (f *Fences) storeLocked(ctx context.Context, tx *store.Tx) ([]alerts.Alert, error) {
	evs := f.pending
	var raised []alerts.Alert
	stmts := &txStmts{tx: tx}
	defer stmts.close()
	exec := func(q string, args ...any) error {
		st, err := stmts.get(ctx, q)
		if err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
		return err
	}
	// The opening hours of the sites entered, read at once.
	var hours map[string]*SiteHours
	if f.alerts != nil {
		var entered []string
		for _, ev := range evs {
			if ev.Kind == geo.EventEnter && !ev.Retracted && !slices.Contains(entered, ev.Fence) {
				entered = append(entered, ev.Fence)
			}
		}
		var err error
		if hours, err = f.hours.getMany(ctx, tx, entered); err != nil {
			return nil, err
		}
	}
	now := store.Millis(f.now())
	for _, ev := range evs {
		if ev.Retracted {
			if err := exec(deleteEventSQL, ev.ID); err != nil {
				return nil, fmt.Errorf("retract event %s: %w", ev.ID, err)
			}
			if ev.Kind == geo.EventEnter && f.alerts != nil {
				// The visit did not happen as reported: its alert, if
				// any, is resolved.
				if _, err := f.alerts.Resolve(ctx, tx, alerts.KindOutsideHours+":"+ev.ID, f.now()); err != nil {
					return nil, err
				}
			}
			continue
		}
		site, _ := f.cat.site(ev.Fence)
		var dur float64
		if ev.Kind == geo.EventExit {
			dur = ev.Duration.Seconds()
		}
		q := upsertEventSQL
		if ev.weak {
			q = weakEventSQL
		}
		if err := exec(q, ev.ID, string(ev.Kind), ev.Vehicle, ev.Fence, site.CustomerID, store.Millis(ev.Time), store.Millis(ev.Since),
			dur, ev.Point.X(), ev.Point.Y(), now); err != nil {
			return nil, fmt.Errorf("store event %s: %w", ev.ID, err)
		}
		if ev.Kind != geo.EventEnter || f.alerts == nil {
			continue
		}
		h := hours[ev.Fence]
		if h == nil || h.Open(ev.Time) {
			continue
		}
		detail, _ := json.Marshal(map[string]any{"vehicle": ev.Vehicle, "site_id": ev.Fence, "event_id": ev.ID,
			"timezone": h.Timezone, "local_time": ev.Time.In(h.loc).Format("Mon 15:04")})
		a := alerts.Alert{Kind: alerts.KindOutsideHours, Subject: ev.Vehicle, SiteID: ev.Fence, CustomerID: site.CustomerID,
			Time: ev.Time, Detail: detail, OpenKey: alerts.KindOutsideHours + ":" + ev.ID}
		fresh, err := f.alerts.Raise(ctx, tx, &a)
		if err != nil {
			return nil, err
		}
		if fresh {
			raised = append(raised, a)
		}
	}
	return raised, nil
}

// storedLocked clears the pending events once they are stored, notifies
// the alerts raised for them and publishes them.
func (f *Fences) storedLocked(raised []alerts.Alert) {
	evs := f.pending
	f.pending = nil
	for _, a := range raised {
		f.alerts.Notify(a)
	}
	if f.pub != nil {
		for _, ev := range evs {
			site, _ := f.cat.site(ev.Fence)
			f.pub.PublishEvent(struct {
				Type string `json:"type"`
				Event
				Retracted bool `json:"retracted,omitempty"`
			}{"fence", toEvent(ev.Event, site.CustomerID), ev.Retracted})
		}
	}
}

func toEvent(ev geo.Event, customer string) Event {
	e := Event{ID: ev.ID, Kind: string(ev.Kind), Vehicle: ev.Vehicle, SiteID: ev.Fence, CustomerID: customer,
		Time: ev.Time.UTC().Truncate(time.Millisecond), Since: ev.Since.UTC().Truncate(time.Millisecond), Lon: ev.Point.X(), Lat: ev.Point.Y()}
	if ev.Kind == geo.EventExit {
		e.DurationS = ev.Duration.Seconds()
	}
	return e
}

// ListEvents returns up to limit+1 stored events after the cursor
// (Event.Cursor), by time: the surplus item says another page follows.
func (f *Fences) ListEvents(ctx context.Context, flt EventFilter, after string, limit int) ([]Event, error) {
	if flt.Kind != "" && !slices.Contains(EventKinds, flt.Kind) {
		return nil, revloop.Invalid("kind", "want one of %s", strings.Join(EventKinds, ", "))
	}
	w := store.Where{Q: `SELECT id, kind, vehicle, site_id, customer_id, at_ms, since_ms, duration_s, lon, lat FROM fleet_events WHERE 1 = 1`}
	w.Eq("kind", flt.Kind)
	w.Eq("vehicle", flt.Vehicle)
	w.Eq("site_id", flt.SiteID)
	w.Eq("customer_id", flt.CustomerID)
	w.Span("at_ms", flt.From, flt.To)
	if err := w.AfterTime(after, "at_ms", "id"); err != nil {
		return nil, err
	}
	rows, err := f.db.Query(ctx, w.Q+fmt.Sprintf(" ORDER BY at_ms, id LIMIT %d", limit+1), w.Args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at, since int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Vehicle, &e.SiteID, &e.CustomerID, &at, &since, &e.DurationS, &e.Lon, &e.Lat); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.Time, e.Since = store.FromMillis(at), store.FromMillis(since)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ArrivedAt returns the first time the vehicle entered the site's fence
// within [from, to), from the stored events; ok is false when it did not.
func (f *Fences) ArrivedAt(ctx context.Context, vehicleID, siteID string, from, to time.Time) (time.Time, bool, error) {
	var at int64
	err := f.db.QueryRow(ctx, `SELECT at_ms FROM fleet_events WHERE vehicle = ? AND site_id = ? AND kind = ? AND at_ms >= ? AND at_ms < ?
		ORDER BY at_ms LIMIT 1`, vehicleID, siteID, string(geo.EventEnter), store.Millis(from), store.Millis(to)).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("arrival of %s at %s: %w", vehicleID, siteID, err)
	}
	return store.FromMillis(at), true, nil
}

// SiteHours returns a site's opening hours; customerID limits the lookup
// to that customer's sites.
func (f *Fences) SiteHours(ctx context.Context, customerID, siteID string) (*SiteHours, error) {
	s, ok := f.cat.site(siteID)
	if !ok || (customerID != "" && s.CustomerID != customerID) {
		return nil, fmt.Errorf("site %s: %w", siteID, store.ErrNotFound)
	}
	return f.hours.get(ctx, f.db, siteID)
}

// PutSiteHours replaces a site's opening hours.
func (f *Fences) PutSiteHours(ctx context.Context, h SiteHours) (*SiteHours, error) {
	if _, ok := f.cat.site(h.SiteID); !ok {
		if err := f.cat.refresh(ctx); err != nil {
			return nil, err
		}
		if _, ok := f.cat.site(h.SiteID); !ok {
			return nil, fmt.Errorf("site %s: %w", h.SiteID, store.ErrNotFound)
		}
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if err := f.hours.put(ctx, &h, f.now()); err != nil {
		return nil, err
	}
	return &h, nil
}
