package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/revloop/revloop/store"
)

// SignatureHeader carries the webhook signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>" keyed with the subscription's secret>.
const SignatureHeader = "X-Revloop-Signature"

// Sign returns the signature header value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a signature header against body; a receiver should also
// reject timestamps older than tolerance (0 skips that check).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if tolerance > 0 && now.Sub(time.Unix(sec, 0)).Abs() > tolerance {
		return fmt.Errorf("%w: timestamp outside tolerance", ErrBadSignature)
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return nil
		}
	}
	return ErrBadSignature
}

// Metrics are the alert pipeline's Prometheus metrics.
type Metrics struct {
	raised    *prometheus.CounterVec
	delivered prometheus.Counter
	failed    prometheus.Counter
	dead      prometheus.Counter
	depth     prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		raised:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "revloop_alerts_raised_total", Help: "Alerts raised, by kind."}, []string{"kind"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "revloop_alert_deliveries_delivered_total", Help: "Webhook deliveries answered 2xx."}),
		failed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "revloop_alert_deliveries_failed_total", Help: "Webhook delivery attempts that failed (retried or dead)."}),
		dead:      prometheus.NewCounter(prometheus.CounterOpts{Name: "revloop_alert_deliveries_dead_total", Help: "Webhook deliveries given up after the last attempt."}),
		depth:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "revloop_alert_outbox_depth", Help: "Webhook deliveries waiting in the outbox."}),
	}
	if reg != nil {
		reg.MustRegister(m.raised, m.delivered, m.failed, m.dead, m.depth)
	}
	return m
}

// DeliverOptions tune a Deliverer; zero fields take the defaults.
type DeliverOptions struct {
	// Poll is how often the outbox is read (default 1 s).
	Poll time.Duration
	// Batch is how many due deliveries one poll takes (default 32).
	Batch int
	// MaxAttempts is how many failed attempts make a delivery dead
	// (default 8).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff (defaults 5 s and 1 h).
	Backoff, MaxBackoff time.Duration
	// Lease is how long a claimed delivery is hidden from other
	// deliverers (default 1 min).
	Lease time.Duration
	// Timeout bounds one HTTP request (default 10 s).
	Timeout time.Duration
	// Client sends the requests (default a client with Timeout).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *DeliverOptions) defaults() {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// BackoffAfter returns the wait after the n-th failed attempt (n >= 1).
func (o DeliverOptions) BackoffAfter(n int) time.Duration {
	o.defaults()
	d := float64(o.Backoff) * math.Pow(2, float64(n-1))
	if d > float64(o.MaxBackoff) {
		return o.MaxBackoff
	}
	return time.Duration(d)
}

// Deliverer sends the outbox's due deliveries to their webhooks.
type Deliverer struct {
	log  *slog.Logger
	db   *store.DB
	opts DeliverOptions
	met  *Metrics
}

// NewDeliverer returns a deliverer over db; met may be nil.
func NewDeliverer(log *slog.Logger, db *store.DB, met *Metrics, opts DeliverOptions) *Deliverer {
	opts.defaults()
	return &Deliverer{log: log, db: db, opts: opts, met: met}
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) error {
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	for {
		if _, err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("alert delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type due struct {
	id        int64
	alertID   string
	attempts  int
	next      int64
	url       string
	secret    string
	webhookID string
}

// DeliverDue sends every delivery due now (up to Batch) once and returns
// how many it attempted.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	now := d.opts.Now()
	rows, err := d.db.Query(ctx, fmt.Sprintf(`SELECT d.id, d.alert_id, d.attempts, d.next_ms, w.url, w.secret, w.id
		FROM alert_deliveries d JOIN alert_webhooks w ON w.id = d.webhook_id
		WHERE d.state = ? AND d.next_ms <= ? ORDER BY d.next_ms, d.id LIMIT %d`, d.opts.Batch), StatePending, store.Millis(now))
	if err != nil {
		return 0, fmt.Errorf("deliver: read outbox: %w", err)
	}
	var batch []due
	for rows.Next() {
		var x due
		if err := rows.Scan(&x.id, &x.alertID, &x.attempts, &x.next, &x.url, &x.secret, &x.webhookID); err != nil {
			rows.Close()
			return 0, fmt.Errorf("deliver: read outbox: %w", err)
		}
		batch = append(batch, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("deliver: read outbox: %w", err)
	}
	n := 0
	for _, x := range batch {
		// Claim: hide the delivery from other deliverers for the lease.
		res, err := d.db.Exec(ctx, `UPDATE alert_deliveries SET next_ms = ? WHERE id = ? AND state = ? AND next_ms = ?`,
			store.Millis(now.Add(d.opts.Lease)), x.id, StatePending, x.next)
		if err != nil {
			return n, fmt.Errorf("deliver: claim: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		n++
		if err := d.attempt(ctx, x); err != nil {
			return n, err
		}
	}
	d.updateDepth(ctx)
	return n, nil
}

func (d *Deliverer) updateDepth(ctx context.Context) {
	if d.met == nil {
		return
	}
	var depth int64
	if err := d.db.QueryRow(ctx, `SELECT COUNT(*) FROM alert_deliveries WHERE state = ?`, StatePending).Scan(&depth); err == nil {
		d.met.depth.Set(float64(depth))
	}
}

// Payload is the JSON body POSTed to webhooks.
type Payload struct {
	Type     string `json:"type"` // "alert"
	Delivery int64  `json:"delivery"`
	Attempt  int    `json:"attempt"`
	Alert    Alert  `json:"alert"`
}

func (d *Deliverer) attempt(ctx context.Context, x due) error {
	a, err := scanAlert(d.db.QueryRow(ctx, alertCols+` WHERE id = ?`, x.alertID))
	if err != nil {
		return fmt.Errorf("deliver %d: alert %s: %w", x.id, x.alertID, err)
	}
	body, err := json.Marshal(Payload{Type: "alert", Delivery: x.id, Attempt: x.attempts + 1, Alert: a})
	if err != nil {
		return fmt.Errorf("deliver %d: %w", x.id, err)
	}
	status, sendErr := d.send(ctx, x, body)
	if ctx.Err() != nil {
		return nil // shutting down: the lease expires and the delivery is retried
	}
	now := d.opts.Now()
	return d.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		switch {
		case sendErr == nil:
			_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = '', delivered_ms = ? WHERE id = ?`,
				StateDelivered, x.attempts+1, status, store.Millis(now), x.id)
			if d.met != nil {
				d.met.delivered.Inc()
			}
		case x.attempts+1 >= d.opts.MaxAttempts:
			_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = ? WHERE id = ?`,
				StateDead, x.attempts+1, status, truncate(sendErr.Error(), 500), x.id)
			if d.met != nil {
				d.met.failed.Inc()
				d.met.dead.Inc()
			}
			d.log.Warn("alert delivery dead", "alert", x.alertID, "webhook", x.webhookID, "attempts", x.attempts+1, "err", sendErr)
		default:
			next := now.Add(d.opts.BackoffAfter(x.attempts + 1))
			_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET attempts = ?, next_ms = ?, last_status = ?, last_error = ? WHERE id = ?`,
				x.attempts+1, store.Millis(next), status, truncate(sendErr.Error(), 500), x.id)
			if d.met != nil {
				d.met.failed.Inc()
			}
		}
		if err != nil {
			return fmt.Errorf("deliver %d: record: %w", x.id, err)
		}
		return refreshState(ctx, tx, x.alertID)
	})
}

func (d *Deliverer) send(ctx context.Context, x due, body []byte) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, x.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "revloop-webhooks/1")
	req.Header.Set("X-Revloop-Delivery", strconv.FormatInt(x.id, 10))
	req.Header.Set(SignatureHeader, Sign(x.secret, d.opts.Now(), body))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
