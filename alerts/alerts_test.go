package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// receiver is a webhook endpoint that answers the statuses it is given in
// turn (200 once they run out) and verifies every signature.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	secret   string
	statuses []int
	got      []alerts.Payload
	badSigs  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := alerts.Verify(rc.secret, r.Header.Get(alerts.SignatureHeader), body, time.Time{}, 0); err != nil {
		rc.badSigs++
	}
	var p alerts.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("payload: %v", err)
	}
	rc.got = append(rc.got, p)
	st := 200
	if len(rc.statuses) > 0 {
		st, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(st)
}

func openDBs(t *testing.T) map[string]func(testing.TB) *store.DB {
	return map[string]func(testing.TB) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres}
}

func TestWebhookDelivery(t *testing.T) {
	for name, open := range openDBs(t) {
		t.Run(name, func(t *testing.T) {
			testWebhookDelivery(t, storetest.Migrated(t, open))
		})
	}
}

func testWebhookDelivery(t *testing.T, db *store.DB) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	reg := prometheus.NewRegistry()
	met := alerts.NewMetrics(reg)
	svc := alerts.New(db, nil, met).WithClock(clk.now)
	wh, err := svc.CreateWebhook(ctx, alerts.Webhook{URL: srv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = wh.Secret
	// Two failures, then success; the second alert fails every time.
	rc.statuses = []int{500, 503}
	opts := alerts.DeliverOptions{MaxAttempts: 3, Backoff: time.Second, Now: clk.now}
	d := alerts.NewDeliverer(log, db, met, opts)

	a1 := alerts.Alert{Kind: alerts.KindBinFull, Subject: "bin-1", Time: clk.now(), OpenKey: "bin_full:bin-1"}
	fresh, err := svc.RaiseNow(ctx, a1)
	if err != nil || !fresh {
		t.Fatalf("raise: %v %v", fresh, err)
	}
	if again, err := svc.RaiseNow(ctx, a1); err != nil || again {
		t.Fatalf("raising the same open key again: fresh=%v err=%v", again, err)
	}

	step := func(advance time.Duration) int {
		t.Helper()
		clk.add(advance)
		n, err := d.DeliverDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := step(0); n != 1 {
		t.Fatalf("first poll attempted %d, want 1", n)
	}
	if n := step(500 * time.Millisecond); n != 0 {
		t.Fatalf("attempted %d before the backoff elapsed", n)
	}
	if n := step(600 * time.Millisecond); n != 1 { // 1 s after the first failure
		t.Fatalf("second attempt: %d", n)
	}
	if n := step(1500 * time.Millisecond); n != 0 { // backoff doubled: 2 s
		t.Fatalf("attempted %d before the doubled backoff", n)
	}
	if n := step(600 * time.Millisecond); n != 1 {
		t.Fatalf("third attempt: %d", n)
	}
	got, err := svc.List(ctx, alerts.Filter{State: alerts.StateDelivered}, "", 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("delivered alerts: %v %v", got, err)
	}

	// A second alert fails MaxAttempts times and goes dead.
	rc.mu.Lock()
	rc.statuses = []int{500, 500, 500}
	rc.mu.Unlock()
	a2 := alerts.Alert{Kind: alerts.KindFireSuspicion, Subject: "bin-2", Time: clk.now()}
	if _, err := svc.RaiseNow(ctx, a2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		step(time.Hour)
	}
	dead, err := svc.List(ctx, alerts.Filter{State: alerts.StateDead}, "", 10)
	if err != nil || len(dead) != 1 || dead[0].Subject != "bin-2" {
		t.Fatalf("dead alerts: %+v %v", dead, err)
	}
	if n := step(time.Hour); n != 0 {
		t.Fatalf("a dead delivery was attempted again")
	}
	if v := metric(t, reg, "revloop_alert_deliveries_dead_total"); v != 1 {
		t.Errorf("dead counter %v", v)
	}

	// Retry: a fresh budget, delivered on the next poll.
	if _, err := svc.Retry(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Retry(ctx, dead[0].ID); err == nil {
		t.Errorf("retrying an alert without dead deliveries succeeded")
	}
	step(0)
	if a, _ := svc.Get(ctx, "", dead[0].ID); a.State != alerts.StateDelivered {
		t.Errorf("after retry: state %s", a.State)
	}

	// Restart: an alert raised while no deliverer runs is sent by a new
	// deliverer over the same database.
	a3 := alerts.Alert{Kind: alerts.KindTilt, Subject: "bin-3", Time: clk.now()}
	if _, err := alerts.New(db, nil, nil).WithClock(clk.now).RaiseNow(ctx, a3); err != nil {
		t.Fatal(err)
	}
	d2 := alerts.NewDeliverer(log, db, nil, opts)
	if n, err := d2.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("restarted deliverer: %d %v", n, err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.badSigs != 0 {
		t.Errorf("%d deliveries with a bad signature", rc.badSigs)
	}
	// 3 for a1, 3 dead + 1 retried for a2, 1 for a3.
	if len(rc.got) != 8 {
		t.Errorf("receiver saw %d requests, want 8", len(rc.got))
	}
	if last := rc.got[len(rc.got)-1]; last.Alert.Subject != "bin-3" || last.Attempt != 1 {
		t.Errorf("last delivery %+v", last)
	}
	if v := metric(t, reg, "revloop_alert_deliveries_delivered_total"); v != 2 {
		t.Errorf("delivered counter %v, want 2 (the restarted deliverer has its own metrics)", v)
	}
}

func TestSignature(t *testing.T) {
	at := time.Unix(1767225600, 0)
	body := []byte(`{"a":1}`)
	h := alerts.Sign("s3cr3t-s3cr3t-s3cr3t", at, body)
	cases := []struct {
		name, secret, header string
		body                 []byte
		ok                   bool
	}{
		{"valid", "s3cr3t-s3cr3t-s3cr3t", h, body, true},
		{"other secret", "another-secret-value", h, body, false},
		{"changed body", "s3cr3t-s3cr3t-s3cr3t", h, []byte(`{"a":2}`), false},
		{"malformed", "s3cr3t-s3cr3t-s3cr3t", "v1=abc", body, false},
		{"other timestamp", "s3cr3t-s3cr3t-s3cr3t", strings.Replace(h, "t=1767225600", "t=1767225601", 1), body, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := alerts.Verify(c.secret, c.header, c.body, at, time.Minute)
			if (err == nil) != c.ok {
				t.Errorf("Verify = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestWebhookValidation(t *testing.T) {
	svc := alerts.New(storetest.Migrated(t, storetest.SQLite), nil, nil)
	cases := []struct {
		name string
		w    alerts.Webhook
		ok   bool
	}{
		{"ok", alerts.Webhook{URL: "https://example.org/hook", Kinds: []string{"bin_full"}}, true},
		{"relative", alerts.Webhook{URL: "/hook"}, false},
		{"ftp", alerts.Webhook{URL: "ftp://example.org/"}, false},
		{"short secret", alerts.Webhook{URL: "https://example.org/", Secret: "x"}, false},
		{"unknown kind", alerts.Webhook{URL: "https://example.org/", Kinds: []string{"nope"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := svc.CreateWebhook(context.Background(), c.w)
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
			if c.ok && (w.Secret == "" || w.ID == "") {
				t.Errorf("created %+v", w)
			}
		})
	}
}

// metric returns the value of a counter or gauge gathered from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.Metric) == 0 {
			continue
		}
		m := mf.Metric[0]
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestDeliverersShareOutbox runs several deliverers over one outbox at
// once (replicas): each alert is delivered exactly once.
func TestDeliverersShareOutbox(t *testing.T) {
	for name, open := range openDBs(t) {
		t.Run(name, func(t *testing.T) {
			db := storetest.Migrated(t, open)
			ctx := context.Background()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			clk := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
			rc := &receiver{t: t}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			svc := alerts.New(db, nil, nil).WithClock(clk.now)
			wh, err := svc.CreateWebhook(ctx, alerts.Webhook{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			rc.secret = wh.Secret
			const n = 30
			for i := 0; i < n; i++ {
				if _, err := svc.RaiseNow(ctx, alerts.Alert{Kind: alerts.KindTilt, Subject: fmt.Sprintf("bin-%d", i), Time: clk.now()}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for w := 0; w < 3; w++ {
				d := alerts.NewDeliverer(log, db, nil, alerts.DeliverOptions{Now: clk.now, Batch: 8})
				wg.Go(func() {
					for i := 0; i < 6; i++ {
						if _, err := d.DeliverDue(ctx); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			rc.mu.Lock()
			defer rc.mu.Unlock()
			seen := map[string]int{}
			for _, p := range rc.got {
				seen[p.Alert.ID]++
			}
			if len(seen) != n {
				t.Errorf("%d alerts delivered, want %d", len(seen), n)
			}
			for id, c := range seen {
				if c != 1 {
					t.Errorf("alert %s delivered %d times", id, c)
				}
			}
		})
	}
}
