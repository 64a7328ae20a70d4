package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestTokens(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			if _, err := db.Migrate(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			testTokens(t, db)
		})
	}
}

func testTokens(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := accounts.New(db, 0)
	tok, secret, err := s.Create(ctx, api.RoleCustomer, "cust-1", "portal")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, accounts.TokenPrefix) || len(secret) < 40 {
		t.Fatalf("secret %q", secret)
	}
	var stored int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE hash = ? OR name = ?`, secret, secret).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("secret stored in clear (%d, %v)", stored, err)
	}
	p, err := s.Verify(ctx, secret)
	if err != nil || p.Role != api.RoleCustomer || p.CustomerID != "cust-1" || p.TokenID != tok.ID {
		t.Fatalf("verify: %+v %v", p, err)
	}
	// A second store (another process) sees the token too.
	if _, err := accounts.New(db, 0).Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "rlt_", secret + "x", strings.ToUpper(secret), "Bearer " + secret} {
		if _, err := s.Verify(ctx, bad); !errors.Is(err, revloop.ErrUnauthorized) {
			t.Errorf("verify %q: %v", bad, err)
		}
	}
	if err := s.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, secret); !errors.Is(err, revloop.ErrUnauthorized) {
		t.Fatalf("revoked token verified: %v", err)
	}
	if err := s.Revoke(ctx, "tok_nope"); !errors.Is(err, revloop.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Revoked.IsZero() {
		t.Fatalf("list %+v %v", list, err)
	}
}

func TestCreateRules(t *testing.T) {
	s := accounts.New(openDB(t), 0)
	cases := []struct {
		name     string
		role     api.Role
		customer string
		ok       bool
	}{
		{"dispatcher", api.RoleDispatcher, "", true},
		{"customer bound", api.RoleCustomer, "c1", true},
		{"customer unbound", api.RoleCustomer, "", false},
		{"dispatcher bound", api.RoleDispatcher, "c1", false},
		{"unknown role", api.Role("root"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Create(context.Background(), tc.role, tc.customer, "")
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, revloop.ErrInvalid) {
				t.Fatalf("err %v is not ErrInvalid", err)
			}
		})
	}
}

func TestIdempotencyStore(t *testing.T) {
	ctx := context.Background()
	s := accounts.NewIdempotency(openDB(t), 0)
	k := api.IdempotencyKey{Principal: "tok_a", Key: "k", Method: "POST", Path: "/api/v1/pickups", BodyHash: "h1"}
	if r, err := s.Begin(ctx, k); r != nil || err != nil {
		t.Fatalf("first begin: %v %v", r, err)
	}
	if _, err := s.Begin(ctx, k); !errors.Is(err, api.ErrIdempotencyInFlight) {
		t.Fatalf("in flight: %v", err)
	}
	if err := s.Finish(ctx, k, api.StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"p1"}`)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Begin(ctx, k)
	if err != nil || r == nil || r.Status != 201 || string(r.Body) != `{"id":"p1"}` {
		t.Fatalf("replay: %+v %v", r, err)
	}
	other := k
	other.BodyHash = "h2"
	if _, err := s.Begin(ctx, other); !errors.Is(err, api.ErrIdempotencyMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	// An abandoned key can be used again.
	k2 := k
	k2.Key = "k2"
	s.Begin(ctx, k2)
	if err := s.Abandon(ctx, k2); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Begin(ctx, k2); r != nil || err != nil {
		t.Fatalf("after abandon: %v %v", r, err)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	db, err := store.Open(context.Background(), "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Migrate(context.Background(), nil)
	s := accounts.New(db, 0)
	_, secret, _ := s.Create(context.Background(), api.RoleDispatcher, "", "")
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Verify(context.Background(), secret); err != nil {
			b.Fatal(err)
		}
	}
}
