package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/routing"
)

func withRoutes(t *testing.T) *testAPI {
	t.Helper()
	ta := newTestAPI(t)
	loc, _ := time.LoadLocation("Europe/Brussels")
	planner := routing.New(ta.db, ta.store, nil, nil, routing.Options{Location: loc, TimeLimit: 200 * time.Millisecond})
	deps := api.Deps{
		Auth:        ta.tokens,
		Idempotency: accounts.NewIdempotency(ta.db, 0),
		Dispatch:    api.DispatchDeps{Store: ta.store, Live: ta.live, Tracks: ta.tracks, StreamKeepAlive: time.Hour},
		Routes:      api.RoutesDeps{Planner: planner},
	}
	ta.srv = api.New(slog.New(slog.NewTextHandler(io.Discard, nil)), api.Options{MaxBodyBytes: 64 << 10}, deps)
	ta.h = ta.srv.Handler()
	return ta
}

func TestRoutesPlanCommitReplan(t *testing.T) {
	ta := withRoutes(t)
	d := ta.tok[api.RoleDispatcher]
	admin := ta.tok[api.RoleAdmin]
	ta.must(http.StatusCreated, ta.do("POST", "/api/v1/customers", admin, map[string]any{"id": "c1", "name": "C1"}))
	ta.must(http.StatusCreated, ta.do("POST", "/api/v1/sites", admin, map[string]any{"id": "yard", "name": "Yard", "kind": "yard", "geofence": circle(3.73, 51.09, 80)}))
	ta.must(http.StatusCreated, ta.do("POST", "/api/v1/sites", admin, map[string]any{"id": "depot", "name": "Depot", "kind": "depot", "geofence": circle(3.70, 51.05, 80)}))
	for _, v := range []string{"v1", "v2"} {
		ta.must(http.StatusCreated, ta.do("POST", "/api/v1/vehicles", admin, map[string]any{"id": v, "plate": "1-" + strings.ToUpper(v) + "-001", "capacity_kg": 2500,
			"capacity_m3": 20, "depot_site_id": "depot", "fuel_type": "diesel", "consumption_per_100km": 30}))
	}
	day := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	var ids []string
	for i, lon := range []float64{3.66, 3.68, 3.71, 3.74, 3.76, 3.78} {
		site := "s" + string(rune('a'+i))
		ta.must(http.StatusCreated, ta.do("POST", "/api/v1/sites", admin, map[string]any{"id": site, "name": site, "kind": "customer_site", "customer_id": "c1", "geofence": circle(lon, 51.03, 40)}))
		kg := 600.0
		if i == 5 {
			kg = 9000 // more than any vehicle carries
		}
		p := ta.must(http.StatusCreated, ta.do("POST", "/api/v1/pickups", d, map[string]any{"customer_id": "c1", "site_id": site, "material": "paper", "estimated_kg": kg,
			"window_from": day + "T06:00:00Z", "window_to": day + "T15:00:00Z"}))
		ids = append(ids, p["id"].(string))
	}
	plan := ta.must(http.StatusCreated, ta.do("POST", "/api/v1/routes/plan", d, map[string]any{"date": day}))
	unserved := plan["unserved"].([]any)
	if len(unserved) != 1 || unserved[0].(map[string]any)["pickup_id"] != ids[5] || unserved[0].(map[string]any)["reason"] == "" {
		t.Fatalf("unserved = %v, want the 9 t pickup with its reason", unserved)
	}
	id := plan["id"].(string)
	if r := ta.do("GET", "/api/v1/routes/"+id+"/map.svg", d, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "<svg") {
		t.Fatalf("svg: %d", r.status)
	}
	committed := ta.must(http.StatusOK, ta.do("POST", "/api/v1/routes/"+id+"/commit", d, map[string]any{}))
	if len(committed["planned_pickups"].([]any)) != 5 {
		t.Fatalf("planned %v", committed["planned_pickups"])
	}
	p := ta.must(http.StatusOK, ta.do("GET", "/api/v1/pickups/"+ids[0], d, nil))
	if p["status"] != "planned" {
		t.Fatalf("pickup after commit: %v", p["status"])
	}
	if pb := ta.must(http.StatusConflict, ta.do("POST", "/api/v1/routes/"+id+"/commit", d, map[string]any{})); pb["from"] != "committed" {
		t.Fatalf("second commit: %v", pb)
	}
	routes := plan["routes"].([]any)
	broken := routes[0].(map[string]any)["vehicle_id"].(string)
	re := ta.must(http.StatusCreated, ta.do("POST", "/api/v1/routes/replan", d, map[string]any{"plan_id": id, "remove_vehicles": []string{broken}}))
	seen := map[string]bool{}
	for _, r := range re["routes"].([]any) {
		rm := r.(map[string]any)
		if rm["vehicle_id"] == broken {
			t.Fatalf("re-plan still uses %s", broken)
		}
		for _, s := range rm["stops"].([]any) {
			if pid, ok := s.(map[string]any)["pickup_id"].(string); ok && pid != "" {
				seen[pid] = true
			}
		}
	}
	for _, u := range re["unserved"].([]any) {
		seen[u.(map[string]any)["pickup_id"].(string)] = true
	}
	if len(seen) != 6 {
		t.Fatalf("re-plan accounts for %d of 6 pickups: %v", len(seen), seen)
	}
	if len(re["changes"].([]any)) == 0 {
		t.Fatal("re-plan reports no changed stops")
	}
}

func TestRoutesRejectBadInput(t *testing.T) {
	ta := withRoutes(t)
	d := ta.tok[api.RoleDispatcher]
	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"bad date", "POST", "/api/v1/routes/plan", map[string]any{"date": "soon"}, 400},
		{"unknown field", "POST", "/api/v1/routes/plan", map[string]any{"date": "2026-12-01", "trucks": 3}, 400},
		{"no vehicles", "POST", "/api/v1/routes/plan", map[string]any{"date": "2026-12-01"}, 400},
		{"unknown plan", "GET", "/api/v1/routes/plan-nope", nil, 404},
		{"replan nothing", "POST", "/api/v1/routes/replan", map[string]any{"plan_id": "plan-nope"}, 400},
		{"list without date", "GET", "/api/v1/routes", nil, 400},
		{"customer may not plan", "POST", "/api/v1/routes/plan", map[string]any{"date": "2026-12-01"}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := d
			if strings.HasPrefix(c.name, "customer") {
				tok = ta.customerToken("cx")
			}
			ta.must(c.status, ta.do(c.method, c.path, tok, c.body))
		})
	}
}
