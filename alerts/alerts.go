package alerts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// Alert kinds.
const (
	KindBinFull       = string(revloop.EventBinFull)
	KindFireSuspicion = string(revloop.EventFireSuspicion)
	KindTilt          = string(revloop.EventTilt)
	KindDeviceOffline = string(revloop.EventDeviceOffline)
	KindOutsideHours  = "outside_hours"
)

// Kinds lists every alert kind.
var Kinds = []string{KindBinFull, KindFireSuspicion, KindTilt, KindDeviceOffline, KindOutsideHours}

// Delivery states of an alert (the worst of its deliveries).
const (
	StatePending   = "pending"   // a delivery waits for its next attempt
	StateDelivered = "delivered" // every delivery succeeded
	StateDead      = "dead"      // a delivery gave up after MaxAttempts
	StateNone      = "none"      // no webhook subscribed to it
)

// States lists the alert states.
var States = []string{StatePending, StateDelivered, StateDead, StateNone}

// Alert is one raised alert.
type Alert struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Subject    string          `json:"subject"` // bin, vehicle or device id
	SiteID     string          `json:"site_id,omitempty"`
	CustomerID string          `json:"customer_id,omitempty"`
	Time       time.Time       `json:"ts"` // when the cause happened (device time)
	Detail     json.RawMessage `json:"detail,omitempty"`
	// OpenKey dedupes raising; empty derives kind:subject:ts.
	OpenKey  string    `json:"-"`
	Resolved time.Time `json:"resolved,omitzero"`
	State    string    `json:"state"`
	Created  time.Time `json:"created"`
}

// Cursor is the alert's sort key in lists.
func (a Alert) Cursor() string { return strconv.FormatInt(store.Millis(a.Time), 10) + "|" + a.ID }

// Webhook is a subscription to alerts.
type Webhook struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret,omitempty"` // returned only when created
	Kinds   []string  `json:"kinds"`            // empty: every kind
	Created time.Time `json:"created"`
}

// Validate checks a webhook subscription.
func (w *Webhook) Validate() error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(w.URL) > 2048 {
		return revloop.Invalid("url", "want an absolute http or https URL")
	}
	if w.Secret != "" && (len(w.Secret) < 16 || len(w.Secret) > 256) {
		return revloop.Invalid("secret", "want 16 to 256 characters, or none to have one generated")
	}
	for _, k := range w.Kinds {
		if !slices.Contains(Kinds, k) {
			return revloop.Invalid("kinds", "unknown kind %q (want one of %s)", k, strings.Join(Kinds, ", "))
		}
	}
	return nil
}

func (w *Webhook) wants(kind string) bool { return len(w.Kinds) == 0 || slices.Contains(w.Kinds, kind) }

// Filter narrows List.
type Filter struct {
	Kind, State, CustomerID string
	From, To                time.Time // From <= ts < To; zero: open
}

// Publisher pushes raised alerts to live subscribers (dispatch.Live has it).
type Publisher interface {
	PublishEvent(v any) error
}

// Service raises, lists and retries alerts and manages webhooks.
type Service struct {
	db  *store.DB
	pub Publisher
	now func() time.Time
	met *Metrics
}

// New returns a Service over db (migrated); pub and met may be nil.
func New(db *store.DB, pub Publisher, met *Metrics) *Service {
	return &Service{db: db, pub: pub, now: time.Now, met: met}
}

// WithClock makes the service use now instead of time.Now; it returns s.
func (s *Service) WithClock(now func() time.Time) *Service {
	s.now = now
	return s
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + "_" + idEncoding.EncodeToString(b)
}

func alertID(key string, at time.Time) string {
	h := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(at.UnixNano(), 10)))
	return "alr_" + hex.EncodeToString(h[:12])
}

// Raise stores a (not yet raised) alert and its deliveries with q, which
// should be the transaction that records the alert's cause. It reports
// false when an alert with the same open key exists (nothing is written).
// Call Notify after the transaction commits.
func (s *Service) Raise(ctx context.Context, q store.Querier, a *Alert) (bool, error) {
	return s.raise(ctx, q, a, &hookCache{})
}

// hookCache lists the webhooks once for the raises of one transaction.
type hookCache struct {
	hooks  []Webhook
	loaded bool
}

func (c *hookCache) get(ctx context.Context, q store.Querier) ([]Webhook, error) {
	if !c.loaded {
		hooks, err := listWebhooks(ctx, q)
		if err != nil {
			return nil, err
		}
		c.hooks, c.loaded = hooks, true
	}
	return c.hooks, nil
}

func (s *Service) raise(ctx context.Context, q store.Querier, a *Alert, hc *hookCache) (bool, error) {
	if a.Kind == "" || a.Subject == "" || a.Time.IsZero() {
		return false, fmt.Errorf("raise alert: %w: kind, subject and time are required", revloop.ErrInvalid)
	}
	if a.OpenKey == "" {
		a.OpenKey = a.Kind + ":" + a.Subject + ":" + strconv.FormatInt(a.Time.UnixMilli(), 10)
	}
	if a.ID == "" {
		a.ID = alertID(a.OpenKey, a.Time)
	}
	if len(a.Detail) == 0 {
		a.Detail = json.RawMessage("{}")
	}
	now := s.now()
	a.Created, a.State = now.UTC().Truncate(time.Millisecond), StateNone
	res, err := q.Exec(ctx, `INSERT INTO alerts (id, kind, subject, site_id, customer_id, at_ms, detail, open_key, resolved_ms, state, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING`,
		a.ID, a.Kind, a.Subject, a.SiteID, a.CustomerID, store.Millis(a.Time), string(a.Detail), a.OpenKey, StateNone, store.Millis(now))
	if err != nil {
		return false, fmt.Errorf("raise alert %s: %w", a.OpenKey, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	hooks, err := hc.get(ctx, q)
	if err != nil {
		return false, fmt.Errorf("raise alert %s: %w", a.OpenKey, err)
	}
	n := 0
	for _, w := range hooks {
		if !w.wants(a.Kind) {
			continue
		}
		if _, err := q.Exec(ctx, `INSERT INTO alert_deliveries (alert_id, webhook_id, state, attempts, next_ms) VALUES (?, ?, ?, 0, ?)`,
			a.ID, w.ID, StatePending, store.Millis(now)); err != nil {
			return false, fmt.Errorf("raise alert %s: delivery: %w", a.OpenKey, err)
		}
		n++
	}
	if n > 0 {
		a.State = StatePending
		if _, err := q.Exec(ctx, `UPDATE alerts SET state = ? WHERE id = ?`, StatePending, a.ID); err != nil {
			return false, fmt.Errorf("raise alert %s: %w", a.OpenKey, err)
		}
	}
	return true, nil
}

// Notify counts a raised alert and pushes it to live subscribers; call it
// after the transaction of Raise committed.
func (s *Service) Notify(a Alert) {
	if s.met != nil {
		s.met.raised.WithLabelValues(a.Kind).Inc()
	}
	if s.pub != nil {
		s.pub.PublishEvent(struct {
			Type string `json:"type"`
			Alert
		}{"alert", a})
	}
}

// RaiseNow raises a in its own transaction and notifies; it reports whether
// the alert is new.
func (s *Service) RaiseNow(ctx context.Context, a Alert) (bool, error) {
	var fresh bool
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		fresh, err = s.Raise(ctx, tx, &a)
		return err
	})
	if err == nil && fresh {
		s.Notify(a)
	}
	return fresh, err
}

// Op is one alert transition of a batch (Apply): it raises Alert as Raise
// does, or, with Resolve set, closes the open alert with key Alert.OpenKey
// at Alert.Time as Resolve does.
type Op struct {
	Alert   Alert
	Resolve bool
}

// Apply runs ops in order in one transaction and, once it committed,
// notifies the alerts it raised anew. It returns, for each op, whether it
// changed anything: a new alert raised, an open one resolved. On error
// nothing of the batch is stored and nothing is notified.
func (s *Service) Apply(ctx context.Context, ops []Op) ([]bool, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	var changed []bool
	var raised []Alert
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		changed, raised, err = s.ApplyIn(ctx, tx, ops)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, a := range raised {
		s.Notify(a)
	}
	return changed, nil
}

// ApplyIn runs ops in order with q, which should be a transaction (see
// Apply). It returns, for each op, whether it changed anything, and the
// alerts raised anew: call Notify for each once the transaction committed.
func (s *Service) ApplyIn(ctx context.Context, q store.Querier, ops []Op) ([]bool, []Alert, error) {
	changed := make([]bool, len(ops))
	var raised []Alert
	hc := &hookCache{}
	for i := range ops {
		op := &ops[i]
		var err error
		if op.Resolve {
			changed[i], err = s.Resolve(ctx, q, op.Alert.OpenKey, op.Alert.Time)
		} else {
			a := op.Alert
			if changed[i], err = s.raise(ctx, q, &a, hc); changed[i] {
				raised = append(raised, a)
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return changed, raised, nil
}

// Resolve closes the open alert with key (a cleared condition), so that
// the condition may raise a new alert later. It reports whether one was
// open.
func (s *Service) Resolve(ctx context.Context, q store.Querier, key string, at time.Time) (bool, error) {
	res, err := q.Exec(ctx, `UPDATE alerts SET open_key = NULL, resolved_ms = ? WHERE open_key = ?`, store.Millis(at), key)
	if err != nil {
		return false, fmt.Errorf("resolve alert %s: %w", key, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// OpenKeys returns the keys of the open alerts whose key starts with prefix.
func (s *Service) OpenKeys(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT open_key FROM alerts WHERE open_key IS NOT NULL AND resolved_ms = 0 AND open_key LIKE ?`, prefix+"%")
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("open alerts: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

const alertCols = `SELECT id, kind, subject, site_id, customer_id, at_ms, detail, resolved_ms, state, created_ms FROM alerts`

func scanAlert(r interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var at, res, cr int64
	var detail string
	err := r.Scan(&a.ID, &a.Kind, &a.Subject, &a.SiteID, &a.CustomerID, &at, &detail, &res, &a.State, &cr)
	a.Time, a.Resolved, a.Created, a.Detail = store.FromMillis(at), store.FromMillis(res), store.FromMillis(cr), json.RawMessage(detail)
	return a, err
}

// Get returns one alert; a customer-bound caller (customerID set) sees
// only its own.
func (s *Service) Get(ctx context.Context, customerID, id string) (Alert, error) {
	q, args := alertCols+` WHERE id = ?`, []any{id}
	if customerID != "" {
		q, args = q+` AND customer_id = ?`, append(args, customerID)
	}
	a, err := scanAlert(s.db.QueryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("alert %s: %w", id, err)
	}
	return a, nil
}

// List returns up to limit+1 alerts after the cursor (Alert.Cursor), by
// time: the surplus item says another page follows.
func (s *Service) List(ctx context.Context, f Filter, after string, limit int) ([]Alert, error) {
	if f.State != "" && !slices.Contains(States, f.State) {
		return nil, revloop.Invalid("state", "want one of %s", strings.Join(States, ", "))
	}
	if f.Kind != "" && !slices.Contains(Kinds, f.Kind) {
		return nil, revloop.Invalid("kind", "want one of %s", strings.Join(Kinds, ", "))
	}
	w := store.Where{Q: alertCols + ` WHERE 1 = 1`}
	w.Eq("kind", f.Kind)
	w.Eq("state", f.State)
	w.Eq("customer_id", f.CustomerID)
	w.Span("at_ms", f.From, f.To)
	if err := w.AfterTime(after, "at_ms", "id"); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, w.Q+fmt.Sprintf(" ORDER BY at_ms, id LIMIT %d", limit+1), w.Args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Retry puts the dead deliveries of an alert back in the outbox with a
// fresh attempt budget. An alert without dead deliveries is a conflict.
func (s *Service) Retry(ctx context.Context, id string) (Alert, error) {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM alerts WHERE id = ?`, id).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("retry alert %s: %w", id, store.ErrNotFound)
			}
			return fmt.Errorf("retry alert %s: %w", id, err)
		}
		res, err := tx.Exec(ctx, `UPDATE alert_deliveries SET state = ?, attempts = 0, next_ms = ? WHERE alert_id = ? AND state = ?`,
			StatePending, store.Millis(s.now()), id, StateDead)
		if err != nil {
			return fmt.Errorf("retry alert %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("retry alert %s: %w: no dead deliveries", id, revloop.ErrConflict)
		}
		return refreshState(ctx, tx, id)
	})
	if err != nil {
		return Alert{}, err
	}
	return s.Get(ctx, "", id)
}

// refreshState sets an alert's state from its deliveries.
func refreshState(ctx context.Context, q store.Querier, id string) error {
	_, err := q.Exec(ctx, `UPDATE alerts SET state = CASE
		WHEN EXISTS (SELECT 1 FROM alert_deliveries WHERE alert_id = ? AND state = 'dead') THEN 'dead'
		WHEN EXISTS (SELECT 1 FROM alert_deliveries WHERE alert_id = ? AND state = 'pending') THEN 'pending'
		WHEN EXISTS (SELECT 1 FROM alert_deliveries WHERE alert_id = ?) THEN 'delivered'
		ELSE 'none' END WHERE id = ?`, id, id, id, id)
	return err
}

// ---- webhooks

func listWebhooks(ctx context.Context, q store.Querier) ([]Webhook, error) {
	rows, err := q.Query(ctx, `SELECT id, url, secret, kinds, created_ms FROM alert_webhooks ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		var w Webhook
		var kinds string
		var cr int64
		if err := rows.Scan(&w.ID, &w.URL, &w.Secret, &kinds, &cr); err != nil {
			return nil, err
		}
		w.Kinds, w.Created = splitKinds(kinds), store.FromMillis(cr)
		out = append(out, w)
	}
	return out, rows.Err()
}

func splitKinds(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// CreateWebhook stores a subscription; a missing secret is generated. The
// returned webhook carries the secret: it is never shown again.
func (s *Service) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	if err := w.Validate(); err != nil {
		return Webhook{}, err
	}
	if w.Secret == "" {
		b := make([]byte, 24)
		rand.Read(b)
		w.Secret = "whsec_" + hex.EncodeToString(b)
	}
	if w.Kinds == nil {
		w.Kinds = []string{}
	}
	slices.Sort(w.Kinds)
	w.Kinds = slices.Compact(w.Kinds)
	w.ID = randomID("wh")
	w.Created = s.now().UTC().Truncate(time.Millisecond)
	if _, err := s.db.Exec(ctx, `INSERT INTO alert_webhooks (id, url, secret, kinds, created_ms) VALUES (?, ?, ?, ?, ?)`,
		w.ID, w.URL, w.Secret, strings.Join(w.Kinds, ","), store.Millis(w.Created)); err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// Webhooks lists the subscriptions without their secrets.
func (s *Service) Webhooks(ctx context.Context) ([]Webhook, error) {
	ws, err := listWebhooks(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	for i := range ws {
		ws[i].Secret = ""
	}
	return ws, nil
}

// DeleteWebhook removes a subscription and its undelivered deliveries.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM alert_webhooks WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete webhook %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete webhook %s: %w", id, store.ErrNotFound)
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT alert_id FROM alert_deliveries WHERE webhook_id = ? AND state <> ?`, id, StateDelivered)
		if err != nil {
			return fmt.Errorf("delete webhook %s: %w", id, err)
		}
		var ids []string
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return fmt.Errorf("delete webhook %s: %w", id, err)
			}
			ids = append(ids, a)
		}
		rows.Close()
		if _, err := tx.Exec(ctx, `DELETE FROM alert_deliveries WHERE webhook_id = ? AND state <> ?`, id, StateDelivered); err != nil {
			return fmt.Errorf("delete webhook %s: %w", id, err)
		}
		for _, a := range ids {
			if err := refreshState(ctx, tx, a); err != nil {
				return fmt.Errorf("delete webhook %s: %w", id, err)
			}
		}
		return nil
	})
}
