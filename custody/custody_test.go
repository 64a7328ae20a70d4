package custody

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

func openDB(t testing.TB) *store.DB { return storetest.Migrated(t, storetest.SQLite) }

// backends are the state stores the chain tests run on; PostgreSQL is
// skipped unless REVLOOP_TEST_DATABASE_URL is set.
var backends = []struct {
	name string
	open func(testing.TB) *store.DB
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

func appendN(t testing.TB, db *store.DB, l *Log, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := l.Append(ctx, tx, Record{Kind: "lot.transition", Subject: "LOT-" + string(rune('a'+i%26)),
				Payload: map[string]any{"i": i, "kg": 100.5 + float64(i), "note": "<b>&"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCanonical(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"sorted keys", `{"b":1,"a":{"d":2,"c":3}}`, `{"a":{"c":3,"d":2},"b":1}`},
		{"white space", " [ 1 , 2 ] ", `[1,2]`},
		{"numbers kept", `{"kg":1.50,"n":1e3}`, `{"kg":1.50,"n":1e3}`},
		{"no html escape", `{"s":"<&>"}`, `{"s":"<&>"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Canonical(json.RawMessage(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("Canonical(%s) = %s, want %s", c.in, got, c.want)
			}
		})
	}
	if _, err := Canonical(json.RawMessage(`{"a":1} x`)); err == nil {
		t.Fatal("trailing data accepted")
	}
}

func TestAppendChains(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	clock := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	l := New(func() time.Time { return clock })
	var es []Entry
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		es, err = l.AppendBatch(ctx, tx, []Record{
			{Kind: "ticket", Subject: "Y1-1", Payload: map[string]int{"gross_kg": 12000}},
			{Kind: "ticket", Subject: "Y1-1", Payload: map[string]int{"tare_kg": 8000}},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Seq != 1 || es[1].Seq != 2 || es[0].PrevHash != GenesisHash || es[1].PrevHash != es[0].Hash {
		t.Fatalf("chain not linked: %+v", es)
	}
	if want := Hash(1, clock.UnixMilli(), "ticket", "Y1-1", []byte(`{"gross_kg":12000}`), GenesisHash); es[0].Hash != want {
		t.Fatalf("hash %s, want %s", es[0].Hash, want)
	}
	got, err := Entries(ctx, db, "Y1-1", 0, 0)
	if err != nil || len(got) != 2 || got[1].Hash != es[1].Hash {
		t.Fatalf("Entries = %+v, %v", got, err)
	}
	rep, err := Verify(ctx, db, nil)
	if err != nil || !rep.OK || rep.Entries != 2 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestAppendRejectsEmpty(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := New(nil).Append(ctx, tx, Record{Kind: "", Subject: "x", Payload: 1})
		return err
	})
	if err == nil {
		t.Fatal("empty kind accepted")
	}
}

func TestAppendRollsBackWithCaller(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	l := New(nil)
	appendN(t, db, l, 2)
	_ = db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := l.Append(ctx, tx, Record{Kind: "k", Subject: "s", Payload: 1}); err != nil {
			t.Fatal(err)
		}
		return context.Canceled // the recorded change failed: nothing may stay
	})
	appendN(t, db, l, 1)
	rep, err := Verify(ctx, db, nil)
	if err != nil || !rep.OK || rep.Entries != 3 {
		t.Fatalf("Verify after rollback = %+v, %v", rep, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		sql     []string
		wantSeq int64
		reason  string
	}{
		{"payload byte", []string{`UPDATE custody_log SET payload = replace(payload, '"i":4', '"i":5') WHERE seq = 5`}, 5, "content"},
		{"time", []string{`UPDATE custody_log SET ts_ms = ts_ms + 1 WHERE seq = 3`}, 3, "content"},
		{"kind", []string{`UPDATE custody_log SET kind = 'x' WHERE seq = 7`}, 7, "content"},
		{"hash rewritten", []string{`UPDATE custody_log SET hash = '` + strings.Repeat("a", 64) + `' WHERE seq = 4`}, 4, "content"},
		{"hash truncated", []string{`UPDATE custody_log SET hash = 'ab' WHERE seq = 4`}, 4, "hex"},
		{"deleted middle", []string{`DELETE FROM custody_log WHERE seq = 6`}, 6, "missing"},
		{"deleted tail", []string{`DELETE FROM custody_log WHERE seq = 10`}, 10, "head"},
		{"reordered", []string{
			`UPDATE custody_log SET seq = -1 WHERE seq = 2`,
			`UPDATE custody_log SET seq = 2 WHERE seq = 3`,
			`UPDATE custody_log SET seq = 3 WHERE seq = -1`}, 2, "prev_hash"},
		{"rehashed entry", nil, 5, "prev_hash"},
		{"appended without head", []string{`INSERT INTO custody_log (seq, ts_ms, kind, subject, payload, prev_hash, hash)
			SELECT 11, ts_ms, kind, subject, payload, hash, hash FROM custody_log WHERE seq = 10`}, 11, "outside"},
		{"renumbered to zero", []string{`UPDATE custody_log SET seq = 0 WHERE seq = 1`}, 1, "missing"},
	}
	defer func(p int64, w func() int) { parallelFrom, verifyWorkers = p, w }(parallelFrom, verifyWorkers)
	for _, b := range backends {
		ranges := []int{1, 3}
		if b.name == "postgres" {
			ranges = []int{2} // one database per case: keep the PostgreSQL run short
		}
		for _, workers := range ranges {
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/%d-ranges/%s", b.name, workers, c.name), func(t *testing.T) {
					parallelFrom, verifyWorkers = 1, func() int { return workers }
					db := storetest.Migrated(t, b.open)
					ctx := context.Background()
					appendN(t, db, New(nil), 10)
					stmts := c.sql
					if c.name == "rehashed entry" {
						// An edit that recomputes the entry's own hash still breaks the next link.
						es, err := Entries(ctx, db, "", 3, 1)
						if err != nil {
							t.Fatal(err)
						}
						e := es[0]
						p := strings.Replace(string(e.Payload), `"i":3`, `"i":33`, 1)
						h := Hash(e.Seq, e.Time.UnixMilli(), e.Kind, e.Subject, []byte(p), e.PrevHash)
						stmts = []string{`UPDATE custody_log SET payload = '` + p + `', hash = '` + h + `' WHERE seq = 4`}
					}
					for _, s := range stmts {
						if _, err := db.Exec(ctx, s); err != nil {
							t.Fatal(err)
						}
					}
					rep, err := Verify(ctx, db, nil)
					if err != nil {
						t.Fatal(err)
					}
					if rep.OK || rep.FirstBad == nil {
						t.Fatalf("tampering not detected: %+v", rep)
					}
					if rep.FirstBad.Seq != c.wantSeq || !strings.Contains(rep.FirstBad.Reason, c.reason) {
						t.Fatalf("first bad = %+v, want seq %d with %q", rep.FirstBad, c.wantSeq, c.reason)
					}
				})
			}
		}
	}
}

// TestConcurrentAppends checks that appenders racing for the chain head
// never fork the chain.
func TestConcurrentAppends(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := storetest.Migrated(t, b.open)
			ctx := context.Background()
			l := New(nil)
			const workers, each = 4, 10
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				go func() {
					for i := 0; i < each; i++ {
						if err := db.InTx(ctx, func(tx *store.Tx) error {
							_, err := l.Append(ctx, tx, Record{Kind: "k", Subject: "s", Payload: map[string]int{"w": w, "i": i}})
							return err
						}); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for w := 0; w < workers; w++ {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Verify(ctx, db, nil)
			if err != nil || !rep.OK || rep.Entries != workers*each {
				t.Fatalf("Verify = %+v, %v", rep, err)
			}
		})
	}
}

func TestVerifyProgress(t *testing.T) {
	db := openDB(t)
	appendN(t, db, New(nil), 3)
	var last, total int64
	rep, err := Verify(context.Background(), db, func(d, n int64) { last, total = d, n })
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if last != 3 || total != 3 {
		t.Fatalf("progress ended at %d/%d, want 3/3", last, total)
	}
}
