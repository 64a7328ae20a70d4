package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/revloop/revloop/internal/testenv"
	"github.com/revloop/revloop/store"
)

// DatabaseURLEnv names the PostgreSQL server the tests use; each test gets
// its own database on it (see Postgres).
const DatabaseURLEnv = testenv.DatabaseURLEnv

// SQLite opens a fresh, unmigrated SQLite state store in a temporary
// directory, closed when the test ends.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres creates a database named test_<random> on the server named by
// REVLOOP_TEST_DATABASE_URL, opens it unmigrated and drops it when the test
// ends. Without the variable the test is skipped, or fails when
// REVLOOP_REQUIRE_SERVICES=1 (see internal/testenv).
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	admin := testenv.PostgresURL(t)
	ctx := context.Background()
	adm, err := store.Open(ctx, admin, "")
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	if _, err := adm.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		adm.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", DatabaseURLEnv, err)
	}
	u.Path = "/" + name
	db, err := store.Open(ctx, u.String(), "")
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() {
		db.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		adm.Close()
	})
	return db
}

// Migrated opens a store with open and applies every migration.
func Migrated(t testing.TB, open func(testing.TB) *store.DB) *store.DB {
	t.Helper()
	db := open(t)
	if _, err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
