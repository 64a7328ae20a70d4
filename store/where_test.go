package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

func TestWhere(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	cases := []struct {
		name     string
		build    func(w *store.Where) error
		wantQ    string
		wantArgs []any
	}{
		{"empty filters add nothing", func(w *store.Where) error {
			w.Eq("yard", "")
			w.Span("ts_ms", time.Time{}, time.Time{})
			w.AfterID("", "id")
			return w.AfterTime("", "ts_ms", "id")
		}, "SELECT x FROM t WHERE 1 = 1", nil},
		{"equality and span", func(w *store.Where) error {
			w.Eq("yard", "y1")
			w.Span("ts_ms", t0, t0.Add(time.Second))
			return nil
		}, "SELECT x FROM t WHERE 1 = 1 AND yard = ? AND ts_ms >= ? AND ts_ms < ?", []any{"y1", int64(1_700_000_000_000), int64(1_700_000_001_000)}},
		{"after a time key", func(w *store.Where) error {
			return w.AfterTime("00000001700000000000|ev-9", "at_ms", "id")
		}, "SELECT x FROM t WHERE 1 = 1 AND (at_ms > ? OR (at_ms = ? AND id > ?))", []any{int64(1_700_000_000_000), int64(1_700_000_000_000), "ev-9"}},
		{"in a list", func(w *store.Where) error {
			w.In("site_id", []string{"s1", "s2", "s3"})
			return nil
		}, "SELECT x FROM t WHERE 1 = 1 AND site_id IN (?, ?, ?)", []any{"s1", "s2", "s3"}},
		{"in an empty list matches nothing", func(w *store.Where) error {
			w.In("site_id", nil)
			return nil
		}, "SELECT x FROM t WHERE 1 = 1 AND 1 = 0", nil},
		{"after an id", func(w *store.Where) error {
			w.AfterID("b-7", "epc")
			return nil
		}, "SELECT x FROM t WHERE 1 = 1 AND epc > ?", []any{"b-7"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := store.Where{Q: "SELECT x FROM t WHERE 1 = 1"}
			if err := c.build(&w); err != nil {
				t.Fatal(err)
			}
			if w.Q != c.wantQ || !reflect.DeepEqual(w.Args, c.wantArgs) {
				t.Fatalf("got %q %v, want %q %v", w.Q, w.Args, c.wantQ, c.wantArgs)
			}
		})
	}
	for _, bad := range []string{"no-bar", "x|id", "|id"} {
		w := store.Where{Q: "q"}
		if err := w.AfterTime(bad, "at_ms", "id"); !errors.Is(err, revloop.ErrInvalid) {
			t.Errorf("AfterTime(%q) = %v, want ErrInvalid", bad, err)
		}
		if w.Q != "q" || w.Args != nil {
			t.Errorf("AfterTime(%q) changed the query: %q %v", bad, w.Q, w.Args)
		}
	}
}
