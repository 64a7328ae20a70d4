package alerts_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/store/storetest"
)

// published records the alerts pushed to live subscribers.
type published struct {
	mu  sync.Mutex
	ids []string
}

func (p *published) PublishEvent(v any) error {
	b, _ := json.Marshal(v)
	var a struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &a)
	p.mu.Lock()
	p.ids = append(p.ids, a.ID)
	p.mu.Unlock()
	return nil
}

// TestApply checks batches of transitions: they run in order in one
// transaction, report what they changed, notify only the new alerts after
// the commit, and a failing batch stores and notifies nothing.
func TestApply(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	raise := func(kind, subject string, min int) alerts.Op {
		return alerts.Op{Alert: alerts.Alert{Kind: kind, Subject: subject, Time: at(min), OpenKey: kind + ":" + subject,
			Detail: json.RawMessage(`{"min":` + strconv.Itoa(min) + `}`)}}
	}
	resolve := func(kind, subject string, min int) alerts.Op {
		return alerts.Op{Alert: alerts.Alert{OpenKey: kind + ":" + subject, Time: at(min)}, Resolve: true}
	}
	type batch struct {
		ops     []alerts.Op
		changed []bool
		fails   bool
	}
	cases := []struct {
		name    string
		batches []batch
		// want lists the stored alerts as kind/subject@minute, "-minute"
		// when resolved, "*" when open.
		want       []string
		deliveries int // of the webhook subscribed to bin_full
	}{
		{"raise, resolve and raise the same key in one batch", []batch{{
			ops:     []alerts.Op{raise("bin_full", "b1", 0), resolve("bin_full", "b1", 5), raise("bin_full", "b1", 10)},
			changed: []bool{true, true, true},
		}}, []string{"bin_full/b1@0-5", "bin_full/b1@10*"}, 2},
		{"a raise of an open key changes nothing", []batch{
			{ops: []alerts.Op{raise("tilt", "b1", 0)}, changed: []bool{true}},
			{ops: []alerts.Op{raise("tilt", "b1", 3), resolve("tilt", "b2", 4)}, changed: []bool{false, false}},
		}, []string{"tilt/b1@0*"}, 0},
		{"a failing batch stores nothing; its redelivery does", []batch{
			{ops: []alerts.Op{raise("bin_full", "b1", 0), raise("", "b2", 1)}, fails: true},
			{ops: []alerts.Op{raise("bin_full", "b1", 0), resolve("bin_full", "b1", 2)}, changed: []bool{true, true}},
		}, []string{"bin_full/b1@0-2"}, 1},
		{"a failing batch leaves earlier batches alone", []batch{
			{ops: []alerts.Op{raise("fire_suspicion", "b1", 0)}, changed: []bool{true}},
			{ops: []alerts.Op{resolve("fire_suspicion", "b1", 1), raise("tilt", "", 1)}, fails: true},
		}, []string{"fire_suspicion/b1@0*"}, 0},
		{"an empty batch", []batch{{}}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Migrated(t, storetest.SQLite)
			pub := &published{}
			al := alerts.New(db, pub, nil).WithClock(func() time.Time { return t0 })
			if _, err := al.CreateWebhook(ctx, alerts.Webhook{URL: "https://example.com/hook", Kinds: []string{"bin_full"}}); err != nil {
				t.Fatal(err)
			}
			var wantNotified int
			for i, b := range c.batches {
				changed, err := al.Apply(ctx, b.ops)
				if (err != nil) != b.fails {
					t.Fatalf("batch %d: err %v, want failure %v", i, err, b.fails)
				}
				if !b.fails && !slices.Equal(changed, b.changed) {
					t.Errorf("batch %d: changed %v, want %v", i, changed, b.changed)
				}
				for j, ch := range b.changed {
					if ch && !b.ops[j].Resolve {
						wantNotified++
					}
				}
			}
			as, err := al.List(ctx, alerts.Filter{}, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range as {
				s := a.Kind + "/" + a.Subject + "@" + minutes(a.Time.Sub(t0))
				if a.Resolved.IsZero() {
					s += "*"
				} else {
					s += "-" + minutes(a.Resolved.Sub(t0))
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("alerts %v, want %v", got, c.want)
			}
			var deliveries int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM alert_deliveries`).Scan(&deliveries); err != nil {
				t.Fatal(err)
			}
			if deliveries != c.deliveries {
				t.Errorf("%d deliveries, want %d", deliveries, c.deliveries)
			}
			if len(pub.ids) != wantNotified {
				t.Errorf("%d alerts notified, want %d", len(pub.ids), wantNotified)
			}
			for _, id := range pub.ids {
				if !slices.ContainsFunc(as, func(a alerts.Alert) bool { return a.ID == id }) {
					t.Errorf("notified alert %s is not stored", id)
				}
			}
		})
	}
}

func minutes(d time.Duration) string { return strconv.Itoa(int(d / time.Minute)) }
