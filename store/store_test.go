package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	cases := []struct{ name, in, pg string }{
		{"none", "SELECT 1", "SELECT 1"},
		{"two", "SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"quoted", "SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = $1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Postgres.Rebind(c.in); got != c.pg {
				t.Errorf("Postgres.Rebind(%q) = %q, want %q", c.in, got, c.pg)
			}
			if got := SQLite.Rebind(c.in); got != c.in {
				t.Errorf("SQLite.Rebind changed %q to %q", c.in, got)
			}
		})
	}
}

func TestMigrateSQLiteTwice(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first, err := db.Migrate(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 {
		t.Fatal("first Migrate applied nothing")
	}
	again, err := db.Migrate(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", again)
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	_, err := Open(context.Background(), "mysql://u:secret@h/db", t.TempDir())
	if err == nil {
		t.Fatal("want an error for mysql://")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Fatalf("error leaks the password: %s", got)
	}
}

func TestMillisRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 26, 10, 30, 0, 123e6, time.UTC)
	if got := FromMillis(Millis(ts)); !got.Equal(ts) {
		t.Fatalf("round trip %v -> %v", ts, got)
	}
	if Millis(time.Time{}) != 0 || !FromMillis(0).IsZero() {
		t.Fatal("zero time must map to 0 and back")
	}
}
