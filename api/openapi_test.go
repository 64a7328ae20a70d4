package api_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/compliance"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/routing"
	"github.com/revloop/revloop/yard"
)

// allAreas returns a test API with every area this test can build over one
// state store. An area whose dependencies are left out here is not mounted;
// its documented paths are then reported, not checked.
func allAreas(t *testing.T) *testAPI {
	t.Helper()
	return newTestAPI(t, func(ta *testAPI, d *api.Deps) {
		db := ta.db
		ys, err := yard.New(db, nil, yard.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d.Yard = api.YardDeps{Yard: ys, Custody: custody.Auditor{Q: db}, Reads: ta.tracks}
		reg := devices.NewRegistry(db, nil, devices.Options{Argon2: devices.Argon2Params{MemoryKiB: 64, Time: 1}, NoMosquittoHash: true})
		d.Devices = api.DevicesDeps{Registry: reg, Downlink: devices.NewDownlink(reg, discardPublisher{})}
		d.Telemetry = api.TelemetryDeps{Positions: ta.tracks, DeadLetters: ingest.NewDeadLetters(db),
			Metrics: promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})}
		d.Exports = api.ExportsDeps{Exporter: compliance.New(db, ys, compliance.Options{}), Deps: compliance.ExportDeps{Tracks: ta.tracks}}
		d.Fleet = testFleetDeps(t, ta)
		d.Routes = api.RoutesDeps{Planner: routing.New(db, ta.store, nil, nil, routing.Options{TimeLimit: 50 * time.Millisecond})}
	})
}

// discardPublisher stands in for the MQTT downlink.
type discardPublisher struct{}

func (discardPublisher) Publish(string, []byte, bool, byte) error { return nil }

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openapiPath turns a gin route (/sites/:id) into an OpenAPI path (/sites/{id}).
func openapiPath(route string) string { return ginParam.ReplaceAllString(route, "{$1}") }

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

type document struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func loadDocument(t *testing.T) document {
	t.Helper()
	b, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// fragmentOf maps each documented path to the fragment file that owns it.
func fragmentOf(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("openapi/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fragments: %v", err)
	}
	owner := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var frag api.OpenAPIFragment
		if err := json.Unmarshal(b, &frag); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for p := range frag.Paths {
			owner[p] = filepath.Base(f)
		}
	}
	return owner
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	ta := allAreas(t)
	doc := loadDocument(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	routes := map[string]bool{} // "GET /api/v1/sites/{id}"
	mountedFrag := map[string]bool{}
	owner := fragmentOf(t)
	for _, r := range ta.srv.Engine().Routes() {
		p := openapiPath(r.Path)
		routes[r.Method+" "+p] = true
		if !strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		ops, ok := doc.Paths[p]
		if !ok {
			t.Errorf("route %s %s is not documented", r.Method, p)
			continue
		}
		if _, ok := ops[strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s: path documented without this method", r.Method, p)
		}
		mountedFrag[owner[p]] = true
	}
	var unmounted []string
	for p, ops := range doc.Paths {
		for _, m := range methods {
			if _, ok := ops[m]; !ok {
				continue
			}
			if routes[strings.ToUpper(m)+" "+p] {
				continue
			}
			if mountedFrag[owner[p]] {
				t.Errorf("documented %s %s (%s) has no route", strings.ToUpper(m), p, owner[p])
			} else {
				unmounted = append(unmounted, owner[p]+": "+strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(unmounted)
	for _, u := range unmounted {
		t.Logf("not checked (area not built by this test): %s", u)
	}
}

func TestOpenAPIServed(t *testing.T) {
	ta := allAreas(t)
	r := ta.must(200, ta.do("GET", "/api/v1/openapi.json", "", nil))
	if r["openapi"] != "3.0.3" || r["paths"].(map[string]any)["/api/v1/pickups/{id}/transitions"] == nil {
		t.Fatalf("document %v", r["info"])
	}
	comps := r["components"].(map[string]any)["schemas"].(map[string]any)
	for _, s := range []string{"Problem", "Pickup", "Site", "Vehicle", "Bin", "Complaint", "Customer"} {
		if comps[s] == nil {
			t.Errorf("schema %s missing", s)
		}
	}
	// Every $ref points at something defined.
	b := ta.do("GET", "/api/v1/openapi.json", "", nil).body
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/components/([a-zA-Z]+)/([A-Za-z0-9_]+)"`).FindAllSubmatch(b, -1) {
		sect, _ := r["components"].(map[string]any)[string(m[1])].(map[string]any)
		if sect[string(m[2])] == nil {
			t.Errorf("dangling $ref #/components/%s/%s", m[1], m[2])
		}
	}
}
