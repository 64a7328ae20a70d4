package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/revloop/revloop/api"
)

func TestAuthentication(t *testing.T) {
	ta := newTestAPI(t)
	revoked, secret, err := ta.tokens.Create(context.Background(), api.RoleDispatcher, "", "old")
	if err != nil {
		t.Fatal(err)
	}
	ta.must(200, ta.do("GET", "/api/v1/customers", secret, nil))
	if err := ta.tokens.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, token string
		status                    int
		kind                      string
	}{
		{"no token", "GET", "/api/v1/customers", "", 401, "unauthorized"},
		{"unknown token", "GET", "/api/v1/customers", "rlt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "unauthorized"},
		{"garbage token", "GET", "/api/v1/customers", "x", 401, "unauthorized"},
		{"revoked token", "GET", "/api/v1/customers", secret, 401, "unauthorized"},
		{"yard cannot create customers", "POST", "/api/v1/customers", ta.tok[api.RoleYard], 403, "forbidden"},
		{"auditor cannot transition pickups", "POST", "/api/v1/pickups/x/transitions", ta.tok[api.RoleAuditor], 403, "forbidden"},
		{"yard cannot read pickups", "GET", "/api/v1/pickups", ta.tok[api.RoleYard], 403, "forbidden"},
		{"auditor reads vehicles", "GET", "/api/v1/vehicles", ta.tok[api.RoleAuditor], 200, ""},
		{"admin passes everywhere", "GET", "/api/v1/pickups", ta.tok[api.RoleAdmin], 200, ""},
		{"openapi needs no token", "GET", "/api/v1/openapi.json", "", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "POST" {
				body = map[string]any{}
			}
			r := ta.do(tc.method, tc.path, tc.token, body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.kind != "" {
				if p := r.json(t); p["type"] != api.ProblemTypeBase+tc.kind {
					t.Fatalf("type %v, want %s", p["type"], tc.kind)
				}
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

// TestCustomerScope checks object-level authorization on every resource a
// customer token may read: another customer's object is 404, never 403.
func TestCustomerScope(t *testing.T) {
	ta := newTestAPI(t)
	a := ta.customerToken("cust-a")
	ta.customerToken("cust-b")
	own := ta.seedCustomer("cust-a")
	other := ta.seedCustomer("cust-b")
	resources := []struct{ kind, path string }{
		{"customer", "/api/v1/customers/"},
		{"site", "/api/v1/sites/"},
		{"bin", "/api/v1/bins/"},
		{"pickup", "/api/v1/pickups/"},
		{"complaint", "/api/v1/complaints/"},
	}
	for _, res := range resources {
		t.Run(res.kind, func(t *testing.T) {
			ta.must(200, ta.do("GET", res.path+own[res.kind], a, nil))
			r := ta.do("GET", res.path+other[res.kind], a, nil)
			if r.status != http.StatusNotFound || r.json(t)["type"] != api.ProblemTypeBase+"not-found" {
				t.Fatalf("another customer's %s: status %d, want 404: %s", res.kind, r.status, r.body)
			}
			list := ta.must(200, ta.do("GET", res.path[:len(res.path)-1]+"?limit=100", a, nil))
			items := list["items"].([]any)
			if len(items) != 1 || items[0].(map[string]any)["id"] != own[res.kind] {
				t.Fatalf("list shows %v, want only %s", items, own[res.kind])
			}
		})
	}
	t.Run("bins geojson", func(t *testing.T) {
		fc := ta.must(200, ta.do("GET", "/api/v1/bins.geojson", a, nil))
		if f := fc["features"].([]any); len(f) != 1 || f[0].(map[string]any)["id"] != own["bin"] {
			t.Fatalf("features %v", f)
		}
	})
	t.Run("pickup for another customer's site", func(t *testing.T) {
		r := ta.do("POST", "/api/v1/pickups", a, map[string]any{"site_id": other["site"], "material": "glass",
			"window_from": "2026-12-01T08:00:00Z", "window_to": "2026-12-01T12:00:00Z"})
		if r.status != 400 || r.json(t)["field"] != "site_id" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		r = ta.do("POST", "/api/v1/pickups", a, map[string]any{"customer_id": "cust-b", "site_id": other["site"], "material": "glass",
			"window_from": "2026-12-01T08:00:00Z", "window_to": "2026-12-01T12:00:00Z"})
		if r.status != 400 || r.json(t)["field"] != "customer_id" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("pickup for own site", func(t *testing.T) {
		p := ta.must(201, ta.do("POST", "/api/v1/pickups", a, map[string]any{"site_id": own["site"], "material": "glass",
			"window_from": "2026-12-01T08:00:00Z", "window_to": "2026-12-01T12:00:00Z"}))
		if p["customer_id"] != "cust-a" {
			t.Fatalf("customer %v", p["customer_id"])
		}
	})
	t.Run("transitions", func(t *testing.T) {
		ta.must(404, ta.do("POST", "/api/v1/pickups/"+other["pickup"]+"/transitions", a, map[string]any{"to": "cancelled"}))
		ta.must(404, ta.do("POST", "/api/v1/pickups/"+other["pickup"]+"/transitions", a, map[string]any{"to": "planned"}))
		ta.must(403, ta.do("POST", "/api/v1/pickups/"+own["pickup"]+"/transitions", a, map[string]any{"to": "planned"}))
		ta.must(200, ta.do("POST", "/api/v1/pickups/"+own["pickup"]+"/transitions", a, map[string]any{"to": "cancelled"}))
	})
	t.Run("complaint about another customer's pickup", func(t *testing.T) {
		r := ta.do("POST", "/api/v1/complaints", a, map[string]any{"subject_kind": "pickup", "subject_ref": other["pickup"], "text": "?"})
		if r.status != 400 || r.json(t)["field"] != "subject_ref" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("customer writes are refused by role", func(t *testing.T) {
		ta.must(403, ta.do("PUT", "/api/v1/sites/"+own["site"], a, map[string]any{}))
		ta.must(403, ta.do("GET", "/api/v1/vehicles", a, nil))
	})
}

func TestRateLimit(t *testing.T) {
	ta := newTestAPI(t, func(_ *testAPI, d *api.Deps) {
		d.Auth = api.WithRateLimit(d.Auth, api.RateLimit{PerSecond: 0.01, Burst: 3})
	})
	tok := ta.tok[api.RoleDispatcher]
	for i := 0; i < 3; i++ {
		ta.must(200, ta.do("GET", "/api/v1/customers", tok, nil))
	}
	r := ta.do("GET", "/api/v1/customers", tok, nil)
	if r.status != http.StatusTooManyRequests || r.json(t)["type"] != api.ProblemTypeBase+"rate-limited" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Buckets are per token.
	ta.must(200, ta.do("GET", "/api/v1/customers", ta.tok[api.RoleAuditor], nil))
}

func TestIdempotencyKey(t *testing.T) {
	ta := newTestAPI(t)
	tok := ta.tok[api.RoleDispatcher]
	body := map[string]any{"name": "Retried Ltd"}
	first := ta.do("POST", "/api/v1/customers", tok, body, "Idempotency-Key", "k-1")
	again := ta.do("POST", "/api/v1/customers", tok, body, "Idempotency-Key", "k-1")
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) {
		t.Fatalf("replay differs: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("replay not marked")
	}
	list := ta.must(200, ta.do("GET", "/api/v1/customers", tok, nil))
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("%d customers after a retried create, want 1", n)
	}
	r := ta.do("POST", "/api/v1/customers", tok, map[string]any{"name": "Other Ltd"}, "Idempotency-Key", "k-1")
	if r.status != 422 || r.json(t)["type"] != api.ProblemTypeBase+"idempotency-key-reused" {
		t.Fatalf("same key, other body: %d %s", r.status, r.body)
	}
	// Keys are per caller: another token's k-1 is a new request.
	ta.must(201, ta.do("POST", "/api/v1/customers", ta.tok[api.RoleAdmin], map[string]any{"name": "Other Ltd"}, "Idempotency-Key", "k-1"))
	// A 4xx answer is stored and replayed too; the request is not run again.
	bad := ta.do("POST", "/api/v1/customers", tok, map[string]any{"kind": "x"}, "Idempotency-Key", "k-2")
	bad2 := ta.do("POST", "/api/v1/customers", tok, map[string]any{"kind": "x"}, "Idempotency-Key", "k-2")
	if bad.status != 400 || bad2.status != 400 || bad2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("4xx replay: %d %d", bad.status, bad2.status)
	}
	long := make([]byte, api.MaxIdempotencyKeyLen+1)
	for i := range long {
		long[i] = 'k'
	}
	ta.must(400, ta.do("POST", "/api/v1/customers", tok, body, "Idempotency-Key", string(long)))
}
