package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/web"
)

func TestConsoleAndWhoAmI(t *testing.T) {
	ta := newTestAPI(t)
	ta.srv = api.New(slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{Console: web.Handler(web.Config{})}, api.Deps{Auth: ta.tokens})
	ta.h = ta.srv.Handler()
	for _, path := range []string{"/", "/plan", "/app/main.js", "/vendor/leaflet/leaflet.js", "/config.json"} {
		if r := ta.do("GET", path, "", nil); r.status != http.StatusOK || len(r.body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", path, r.status, len(r.body))
		}
	}
	if r := ta.do("GET", "/api/v1/nothing", "", nil); r.status != http.StatusNotFound || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown API path answered %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := ta.do("POST", "/", "", nil); r.status != http.StatusNotFound {
		t.Errorf("POST / = %d, want 404", r.status)
	}
	cust := ta.customerToken("c-who")
	me := ta.must(http.StatusOK, ta.do("GET", "/api/v1/auth/whoami", cust, nil))
	if me["role"] != "customer" || me["customer_id"] != "c-who" {
		t.Errorf("whoami = %v", me)
	}
	ta.must(http.StatusUnauthorized, ta.do("GET", "/api/v1/auth/whoami", "wrong", nil))
}
