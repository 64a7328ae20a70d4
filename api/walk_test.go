package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop/api"
)

type walkOp struct {
	Parameters  []walkParam `json:"parameters"`
	Security    []any       `json:"security"`
	Streaming   bool        `json:"x-streaming"`
	RequestBody *struct {
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type walkParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestWalkBrokenInputs sends broken bodies, parameters and ids to every
// documented operation of every mounted area and asserts that each is
// answered with a 4xx (or success) problem body, never a 5xx.
func TestWalkBrokenInputs(t *testing.T) {
	ta := allAreas(t)
	ids := ta.seedCustomer("walk-c")
	raw, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas    map[string]json.RawMessage `json:"schemas"`
			Parameters map[string]walkParam       `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	mounted := map[string]bool{}
	for _, r := range ta.srv.Engine().Routes() {
		mounted[r.Method+" "+openapiPath(r.Path)] = true
	}
	token := ta.tok[api.RoleAdmin]
	customer := ta.customerToken("walk-d")
	idValues := []string{"no-such-id", ids["pickup"], ids["site"], "%00", strings.Repeat("x", 300), "..", "%2F%2E%2E", url.PathEscape("'; DROP TABLE sites; --")}
	queryValues := []string{"", "-1", "0", "99999999999999999999", "1e309", "not-a-value", "%ff", "' OR 1=1 --", "\x00", "2026-13-45T99:99:99Z", strings.Repeat("z", 2000)}
	checked := 0
	for path, item := range doc.Paths {
		var shared []walkParam
		if p, ok := item["parameters"]; ok {
			json.Unmarshal(p, &shared)
		}
		for method, rawOp := range item {
			if method == "parameters" {
				continue
			}
			M := strings.ToUpper(method)
			if !mounted[M+" "+path] {
				continue // area not built here; see TestOpenAPIMatchesRoutes
			}
			var op walkOp
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Fatalf("%s %s: %v", M, path, err)
			}
			params := append(append([]walkParam{}, shared...), op.Parameters...)
			for i, p := range params {
				if p.Ref != "" {
					params[i] = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				}
			}
			var bodies [][]byte
			if op.RequestBody != nil {
				bodies = brokenBodies(t, op.RequestBody.Content["application/json"].Schema, doc.Components.Schemas)
			}
			send := func(target string, body []byte, tok string, hdr ...string) {
				t.Helper()
				checked++
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if op.Streaming {
					ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
				}
				defer cancel()
				var req *http.Request
				if body != nil {
					req = httptest.NewRequestWithContext(ctx, M, target, strings.NewReader(string(body)))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req = httptest.NewRequestWithContext(ctx, M, target, nil)
				}
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				w := httptest.NewRecorder()
				ta.h.ServeHTTP(w, req)
				if w.Code >= 500 {
					t.Errorf("%s %s body %.80q: status %d: %s", M, target, body, w.Code, w.Body.String())
					return
				}
				if w.Code >= 400 {
					var p struct {
						Type   string `json:"type"`
						Title  string `json:"title"`
						Status int    `json:"status"`
					}
					if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("%s %s: %d with content type %q", M, target, w.Code, ct)
					} else if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code ||
						!strings.HasPrefix(p.Type, api.ProblemTypeBase) || p.Title == "" {
						t.Errorf("%s %s: bad problem body %s", M, target, w.Body.String())
					}
				}
			}
			for _, id := range idValues {
				target := pathParam.ReplaceAllString(path, id)
				if !strings.Contains(path, "{") && id != idValues[0] {
					break
				}
				send(target, nil, "")                // no token
				send(target, nil, "rlt_bogus")       // bad token
				send(target, []byte("{}"), customer) // customer scope
				for _, b := range bodies {
					send(target, b, token)
					send(target, b, token, "Idempotency-Key", "walk-"+id)
				}
				if op.RequestBody == nil {
					send(target, nil, token)
				}
				for _, p := range params {
					if p.In != "query" {
						continue
					}
					for _, v := range queryValues {
						send(target+"?"+url.Values{p.Name: {v}}.Encode(), firstBody(bodies), token)
					}
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d requests sent; is the document empty?", checked)
	}
	t.Logf("%d requests", checked)
}

func firstBody(b [][]byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b[0]
}

// brokenBodies derives malformed variants of a request body from its schema:
// syntax errors, wrong top-level types, and each property with a value of
// the wrong type, out of range or absurdly large.
func brokenBodies(t *testing.T, schema json.RawMessage, schemas map[string]json.RawMessage) [][]byte {
	out := [][]byte{nil, []byte(""), []byte("{"), []byte("[]"), []byte("null"), []byte(`"x"`), []byte("{}"), []byte(`{"unknown_field":1}`),
		[]byte(`{} {}`), []byte("\xff\xfe"), []byte(`{"a":` + strings.Repeat("[", 10000) + `}`), []byte(strings.Repeat(" ", 70<<10) + "{}")}
	var s struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	json.Unmarshal(schema, &s)
	if s.Ref != "" {
		json.Unmarshal(schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], &s)
	}
	wrong := []any{123, -1e300, "x", true, []any{1}, map[string]any{"a": 1}, nil, strings.Repeat("y", 20000), "2026-02-30T25:00:00Z"}
	for name := range s.Properties {
		for _, w := range wrong {
			b, err := json.Marshal(map[string]any{name: w})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}
