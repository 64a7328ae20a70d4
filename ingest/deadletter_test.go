package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/revloop/revloop/internal/testenv"
	"github.com/revloop/revloop/store"
)

func testDeadLetters(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM dead_letters`); err != nil {
		t.Fatal(err)
	}
	d := NewDeadLetters(db)
	t0 := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	big := make([]byte, 300)
	dls := []DeadLetter{
		NewDeadLetter("revloop/v1/truck-1/gps", []byte(`{"lat":1`), t0, ReasonMalformed, "unexpected end", 256),
		NewDeadLetter("revloop/v1/truck-1/gps", big, t0.Add(time.Second), ReasonOversized, "too big", 256),
		NewDeadLetter("revloop/v1/Bad!/gps", []byte(`{}`), t0.Add(2*time.Second), ReasonBadTopic, "bad id", 256),
	}
	if err := d.PutDeadLetters(ctx, dls); err != nil {
		t.Fatal(err)
	}
	// Redelivery of the same messages adds nothing.
	if err := d.PutDeadLetters(ctx, dls[:2]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    DeadLetterQuery
		want []string // reasons, newest first
	}{
		{"all", DeadLetterQuery{}, []string{ReasonBadTopic, ReasonOversized, ReasonMalformed}},
		{"by reason", DeadLetterQuery{Reason: ReasonOversized}, []string{ReasonOversized}},
		{"since", DeadLetterQuery{Since: t0.Add(time.Second)}, []string{ReasonBadTopic, ReasonOversized}},
		{"by device", DeadLetterQuery{Device: "truck-1"}, []string{ReasonOversized, ReasonMalformed}},
		{"limit", DeadLetterQuery{Limit: 1}, []string{ReasonBadTopic}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.List(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d dead letters, want %d", len(got), len(tc.want))
			}
			for i, dl := range got {
				if dl.Reason != tc.want[i] {
					t.Errorf("item %d reason %s, want %s", i, dl.Reason, tc.want[i])
				}
			}
		})
	}
	got, _ := d.List(ctx, DeadLetterQuery{Reason: ReasonOversized})
	if o := got[0]; !o.Truncated || len(o.Payload) != 256 || o.PayloadBytes != 300 || o.Device != "truck-1" || o.Channel != "gps" || !o.Received.Equal(t0.Add(time.Second)) {
		t.Errorf("oversized dead letter = %+v", o)
	}
}

func TestDeadLettersSQLite(t *testing.T) {
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testDeadLetters(t, db)
}

func TestDeadLettersPostgres(t *testing.T) {
	db, err := store.Open(context.Background(), testenv.PostgresURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testDeadLetters(t, db)
}
