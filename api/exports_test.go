package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/compliance"
	"github.com/revloop/revloop/yard"
)

// withExports rebuilds the test API with the exports area over a yard
// holding one received and shipped load for customer c-exp.
func withExports(t *testing.T) *testAPI {
	t.Helper()
	ta := newTestAPI(t)
	ctx := context.Background()
	t0 := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	ys, err := yard.New(ta.db, nil, yard.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	tare := 9000.0
	tk, err := ys.CreateTicket(ctx, yard.ManualTicket{Yard: "yard-1", Vehicle: "truck-9", GrossKg: 11000, TareKg: &tare, At: t0, Reason: "test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ys.Apply(ctx, yard.TransitionRequest{Kind: "receive", Ticket: tk.ID, Customer: "c-exp", RDCode: "R13", At: t0,
		Outputs: []yard.OutputLot{{Material: "paper", EWC: "15 01 01", Kg: 2000}}}, "", "test"); err != nil {
		t.Fatal(err)
	}
	svc := compliance.New(ta.db, ys, compliance.Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	deps := api.Deps{
		Auth:        ta.tokens,
		Idempotency: accounts.NewIdempotency(ta.db, 0),
		Dispatch:    api.DispatchDeps{Store: ta.store, Live: ta.live, Tracks: ta.tracks, StreamKeepAlive: time.Hour},
		Exports:     api.ExportsDeps{Exporter: svc, Deps: compliance.ExportDeps{Tracks: ta.tracks}},
	}
	ta.srv = api.New(slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{MaxBodyBytes: 64 << 10}, deps)
	ta.h = ta.srv.Handler()
	return ta
}

func TestExportsEndpoints(t *testing.T) {
	ta := withExports(t)
	auditor := ta.tok[api.RoleAuditor]
	r := ta.do("GET", "/api/v1/exports/period?from=2026-05-01&to=2026-06-01&format=csv", auditor, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(r.body), "15 01 01,paper and cardboard packaging,R13,1,2") {
		t.Fatalf("period csv: %d %s", r.status, r.body)
	}
	r = ta.do("GET", "/api/v1/exports/receipts?from=2026-05-01&to=2026-06-01", auditor, nil)
	var receipts []map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &receipts) != nil || len(receipts) != 1 {
		t.Fatalf("receipts: %d %s", r.status, r.body)
	}
	r = ta.do("GET", "/api/v1/exports/transfer-notes/load/TR-00000001?format=pdf", auditor, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(string(r.body), "%PDF-") {
		t.Fatalf("note pdf: %d", r.status)
	}
	del := ta.do("DELETE", "/api/v1/exports/transfer-notes/load/TR-00000001", ta.tok[api.RoleAdmin], nil)
	if p := ta.must(http.StatusConflict, del); p["retain_until"] == nil {
		t.Fatalf("delete within retention: %v", p)
	}
}

func TestExportsRejectBadInput(t *testing.T) {
	ta := withExports(t)
	auditor := ta.tok[api.RoleAuditor]
	cust := ta.customerToken("c-exp")
	other := ta.customerToken("c-other")
	cases := []struct {
		name, path, token string
		status            int
		field             string
	}{
		{"reversed range", "/api/v1/exports/period?from=2026-06-01&to=2026-05-01", auditor, 400, "to"},
		{"open-ended range", "/api/v1/exports/period?from=2026-06-01", auditor, 400, "from"},
		{"unknown kind", "/api/v1/exports/taxes?from=2026-05-01&to=2026-06-01", auditor, 400, "kind"},
		{"unknown format", "/api/v1/exports/receipts?from=2026-05-01&to=2026-06-01&format=pdf", auditor, 400, "format"},
		{"dispatcher may not export", "/api/v1/exports/period?from=2026-05-01&to=2026-06-01", ta.tok[api.RoleDispatcher], 403, ""},
		{"customer may not export", "/api/v1/exports/period?from=2026-05-01&to=2026-06-01", cust, 403, ""},
		{"another customer's report", "/api/v1/reports/service?customer=c-exp&at=2026-05", other, 404, ""},
		{"bad period", "/api/v1/reports/service?period=fortnight&at=2026-05", cust, 400, "period"},
		{"unknown note kind", "/api/v1/exports/transfer-notes/invoice/x", auditor, 400, "kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := ta.must(c.status, ta.do("GET", c.path, c.token, nil))
			if c.field != "" && p["field"] != c.field {
				t.Fatalf("problem %v, want field %s", p, c.field)
			}
		})
	}
	own := ta.must(http.StatusOK, ta.do("GET", "/api/v1/reports/service?at=2026-05-10", cust, nil))
	if own["customer"] != "c-exp" || own["collected_kg"].(float64) != 2000 {
		t.Fatalf("own report: %v", own)
	}
}
