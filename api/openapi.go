package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// openapiFS holds one OpenAPI fragment per area, each of the form
// {"paths": {...}, "components": {"schemas": {...}}}.
//
//go:embed openapi/*.json
var openapiFS embed.FS

// OpenAPIFragment is one area's part of the API description.
type OpenAPIFragment struct {
	Paths      map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// OpenAPIFragments returns the embedded fragments by file name (without
// .json), decoded strictly.
func OpenAPIFragments() (map[string]OpenAPIFragment, error) {
	names, err := fs.Glob(openapiFS, "openapi/*.json")
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	out := map[string]OpenAPIFragment{}
	for _, n := range names {
		b, err := openapiFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		var f OpenAPIFragment
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("openapi: fragment %s: %w", n, err)
		}
		out[strings.TrimSuffix(path.Base(n), ".json")] = f
	}
	return out, nil
}

// OpenAPIDocument merges every fragment into one OpenAPI 3 document. A path
// or schema defined by two fragments is an error.
func OpenAPIDocument() ([]byte, error) {
	frags, err := OpenAPIFragments()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(frags))
	for n := range frags {
		names = append(names, n)
	}
	sort.Strings(names)
	paths := map[string]json.RawMessage{}
	schemas := map[string]json.RawMessage{}
	pathOwner, schemaOwner := map[string]string{}, map[string]string{}
	for name, s := range commonSchemas {
		schemas[name] = json.RawMessage(s)
		schemaOwner[name] = "openapi.go"
	}
	for _, n := range names {
		f := frags[n]
		for p, v := range f.Paths {
			if prev, dup := pathOwner[p]; dup {
				return nil, fmt.Errorf("openapi: path %s defined by %s and %s", p, prev, n)
			}
			pathOwner[p] = n
			paths[p] = v
		}
		for sn, v := range f.Components.Schemas {
			if prev, dup := schemaOwner[sn]; dup {
				return nil, fmt.Errorf("openapi: schema %s defined by %s and %s", sn, prev, n)
			}
			schemaOwner[sn] = n
			schemas[sn] = v
		}
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "revloop API",
			"version":     "1",
			"description": apiDescription,
		},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API token created with `revloop token create`."},
			},
			"parameters": map[string]any{
				"limit":          json.RawMessage(`{"name":"limit","in":"query","schema":{"type":"integer","minimum":1,"maximum":500,"default":50},"description":"Page size."}`),
				"cursor":         json.RawMessage(`{"name":"cursor","in":"query","schema":{"type":"string"},"description":"Opaque cursor from next_cursor of the previous page."}`),
				"idempotencyKey": json.RawMessage(`{"name":"Idempotency-Key","in":"header","schema":{"type":"string","maxLength":255},"description":"Makes the request safe to retry: the same key and body replay the first response; the same key with another body is answered 422."}`),
				"id":             json.RawMessage(`{"name":"id","in":"path","required":true,"schema":{"type":"string"}}`),
			},
			"responses": map[string]any{
				"Problem": json.RawMessage(`{"description":"Error (RFC 9457 problem details).","content":{"application/problem+json":{"schema":{"$ref":"#/components/schemas/Problem"}}}}`),
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return b, nil
}

const apiDescription = `Reverse-logistics tracking: fleet, bins, pickups, yard and compliance.

Authentication: Authorization: Bearer <token>, tokens made with ` + "`revloop token create`" + `. Roles: admin (everything), dispatcher, yard, auditor, customer. A customer token is bound to one customer and sees only that customer's objects; another customer's object is answered 404 Not Found (not 403), so that ids of other customers cannot be probed. 403 means the role may never make the request.

Errors: application/problem+json (RFC 9457). The type is stable per kind of error, under https://revloop.org/problems/: invalid (400, with field and reason), malformed-body (400), unauthorized (401), forbidden (403), not-found (404), method-not-allowed (405), conflict (409; illegal state transitions add from, to and allowed), idempotency-key-in-flight (409), body-too-large (413), idempotency-key-reused (422), rate-limited (429, with Retry-After), unavailable (503), internal (500).

Lists: ?limit= (1-500, default 50) and the opaque ?cursor= of the previous page's next_cursor; the response carries items, next_cursor and next (also a Link rel="next" header).

Retries: creating requests accept Idempotency-Key. The same key with the same body replays the first response (header Idempotent-Replayed: true); with another body it is answered 422. Keys are scoped to the token, method and path, and kept 24 h.

Rate limits: each token has a token bucket; over it, requests are answered 429 with Retry-After.`

var commonSchemas = map[string]string{
	"Problem": `{"type":"object","required":["type","title","status"],"properties":{
		"type":{"type":"string","description":"Stable per kind of error, e.g. https://revloop.org/problems/invalid"},
		"title":{"type":"string"},"status":{"type":"integer"},"detail":{"type":"string"},"instance":{"type":"string"},
		"field":{"type":"string","description":"Offending input field (invalid)."},
		"allowed":{"type":"array","items":{"type":"string"},"description":"States allowed from the current one (conflict on a transition)."}},
		"additionalProperties":true}`,
	"GeoJSONFeatureCollection": `{"type":"object","required":["type","features"],"properties":{"type":{"type":"string","enum":["FeatureCollection"]},"features":{"type":"array","items":{"type":"object"}}}}`,
}

// mountOpenAPI serves the merged document at /api/v1/openapi.json, without
// authentication. A broken fragment is reported as a 500 on that route and
// by the API's tests.
func (s *Server) mountOpenAPI(v1 *gin.RouterGroup) {
	doc, err := OpenAPIDocument()
	v1.GET("/openapi.json", func(c *gin.Context) {
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Data(http.StatusOK, "application/json", doc)
	})
}
