package apitest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/devices"
)

type fakeTokens map[string]api.Role

func (f fakeTokens) Verify(_ context.Context, tok string) (api.Principal, error) {
	r, ok := f[tok]
	if !ok {
		return api.Principal{}, revloop.ErrUnauthorized
	}
	return api.Principal{TokenID: tok, Role: r}, nil
}

type apiClient struct {
	t *testing.T
	h http.Handler
}

func (c apiClient) do(method, path, token, ctype, body string) (int, map[string]any) {
	c.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		c.t.Fatalf("%s %s: non-JSON body %q", method, path, raw)
	}
	return rec.Code, out
}

func TestDevicesAPI(t *testing.T) {
	reg := testRegistry(t)
	pub := &fakePublisher{}
	srv := api.New(slog.New(slog.DiscardHandler), api.Options{}, api.Deps{
		Auth:    fakeTokens{"adm": api.RoleAdmin, "dsp": api.RoleDispatcher},
		Devices: api.DevicesDeps{Registry: reg, Downlink: devices.NewDownlink(reg, pub)},
	})
	c := apiClient{t: t, h: srv.Handler()}
	const js = "application/json"

	steps := []struct {
		name, method, path, token, ctype, body string
		status                                 int
		check                                  func(t *testing.T, b map[string]any)
	}{
		{"no token", "GET", "/api/v1/devices", "", "", "", 401, nil},
		{"not admin", "GET", "/api/v1/devices", "dsp", "", "", 403, nil},
		{"add", "POST", "/api/v1/devices", "adm", js, `{"id":"trk-1","kind":"tracker","attached_to":{"kind":"vehicle","id":"V1"},"labels":{"site":"n"}}`, 201,
			func(t *testing.T, b map[string]any) {
				if s, _ := b["secret"].(string); len(s) != 43 {
					t.Errorf("secret %v", b["secret"])
				}
			}},
		{"duplicate id", "POST", "/api/v1/devices", "adm", js, `{"id":"trk-1","kind":"tracker"}`, 409, nil},
		{"malformed id", "POST", "/api/v1/devices", "adm", js, `{"id":"Trk 1","kind":"tracker"}`, 400, field("id")},
		{"unknown kind", "POST", "/api/v1/devices", "adm", js, `{"id":"trk-2","kind":"toaster"}`, 400, field("kind")},
		{"unknown field", "POST", "/api/v1/devices", "adm", js, `{"id":"trk-2","kind":"tracker","colour":"red"}`, 400, nil},
		{"import bad rows", "POST", "/api/v1/devices/import", "adm", "text/csv", header + "bin-1,bin_sensor,,,,\nbin-2,toaster,,,,\nBIN,scale,,,,\n", 400,
			func(t *testing.T, b map[string]any) {
				rows, _ := b["rows"].([]any)
				if len(rows) != 2 || rows[0].(map[string]any)["line"] != 3.0 || rows[1].(map[string]any)["field"] != "id" {
					t.Errorf("rows = %v", b["rows"])
				}
			}},
		{"import", "POST", "/api/v1/devices/import", "adm", "text/csv", header + "bin-1,bin_sensor,bin,B1,,\nbin-2,bin_sensor,,,,\n", 201,
			func(t *testing.T, b map[string]any) {
				if b["imported"] != 2.0 {
					t.Errorf("imported = %v", b["imported"])
				}
			}},
		{"list page", "GET", "/api/v1/devices?kind=bin_sensor&limit=1", "adm", "", "", 200,
			func(t *testing.T, b map[string]any) {
				items, _ := b["items"].([]any)
				if len(items) != 1 || items[0].(map[string]any)["id"] != "bin-1" || b["next_cursor"] == nil {
					t.Errorf("page = %v", b)
				}
			}},
		{"bad state filter", "GET", "/api/v1/devices?state=sleepy", "adm", "", "", 400, field("state")},
		{"get", "GET", "/api/v1/devices/trk-1", "adm", "", "", 200, func(t *testing.T, b map[string]any) {
			if b["state"] != "active" || b["kind"] != "tracker" {
				t.Errorf("device = %v", b)
			}
		}},
		{"get unknown", "GET", "/api/v1/devices/nope", "adm", "", "", 404, nil},
		{"get malformed", "GET", "/api/v1/devices/NOPE", "adm", "", "", 400, field("id")},
		{"update", "PUT", "/api/v1/devices/trk-1", "adm", js, `{"attached_to":{"kind":"vehicle","id":"V2"},"firmware":"3.0"}`, 200, func(t *testing.T, b map[string]any) {
			if b["firmware"] != "3.0" || b["attached_to"].(map[string]any)["id"] != "V2" {
				t.Errorf("updated = %v", b)
			}
		}},
		{"update kind", "PUT", "/api/v1/devices/trk-1", "adm", js, `{"kind":"scale"}`, 400, field("kind")},
		{"rotate", "POST", "/api/v1/devices/trk-1/rotate", "adm", "", "", 200, func(t *testing.T, b map[string]any) {
			if b["device_id"] != "trk-1" || b["secret"] == "" {
				t.Errorf("rotate = %v", b)
			}
		}},
		{"config", "PUT", "/api/v1/devices/trk-1/config", "adm", js, `{"reporting_interval_s":30,"thresholds":{"speed_kmh":90}}`, 200, func(t *testing.T, b map[string]any) {
			if b["version"] != 1.0 || len(pub.topics) != 1 {
				t.Errorf("config = %v, published %v", b, pub.topics)
			}
		}},
		{"config invalid", "PUT", "/api/v1/devices/trk-1/config", "adm", js, `{"reporting_interval_s":0}`, 400, field("reporting_interval_s")},
		{"config read", "GET", "/api/v1/devices/trk-1/config", "adm", "", "", 200, func(t *testing.T, b map[string]any) {
			if b["config"].(map[string]any)["version"] != 1.0 {
				t.Errorf("config state = %v", b)
			}
		}},
		{"health", "GET", "/api/v1/devices/trk-1/health", "adm", "", "", 200, func(t *testing.T, b map[string]any) {
			if b["device_id"] != "trk-1" || b["events"] == nil {
				t.Errorf("health = %v", b)
			}
		}},
		{"offline list", "GET", "/api/v1/devices?state=offline", "adm", "", "", 200, func(t *testing.T, b map[string]any) {
			if items, _ := b["items"].([]any); len(items) != 0 {
				t.Errorf("offline = %v", items)
			}
		}},
		{"disable", "POST", "/api/v1/devices/bin-2/disable", "adm", "", "", 200, nil},
		{"revoke", "POST", "/api/v1/devices/bin-2/revoke", "adm", "", "", 200, func(t *testing.T, b map[string]any) {
			if b["state"] != "revoked" {
				t.Errorf("state = %v", b["state"])
			}
		}},
		{"enable revoked", "POST", "/api/v1/devices/bin-2/enable", "adm", "", "", 409, func(t *testing.T, b map[string]any) {
			if b["from"] != "revoked" {
				t.Errorf("problem = %v", b)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, body := c.do(s.method, s.path, s.token, s.ctype, s.body)
			if code != s.status {
				t.Fatalf("%s %s = %d %v, want %d", s.method, s.path, code, body, s.status)
			}
			if s.check != nil {
				s.check(t, body)
			}
		})
	}

	t.Run("claim", func(t *testing.T) {
		code, b := c.do("POST", "/api/v1/devices/bin-1/claims", "adm", js, `{"ttl_s":600}`)
		if code != 201 {
			t.Fatalf("create claim = %d %v", code, b)
		}
		body := `{"token":"` + b["token"].(string) + `"}`
		code, cred := c.do("POST", "/api/v1/devices/claim", "", js, body)
		if code != 200 || cred["device_id"] != "bin-1" {
			t.Fatalf("redeem = %d %v", code, cred)
		}
		if err := reg.Authenticate(context.Background(), "bin-1", cred["secret"].(string)); err != nil {
			t.Fatalf("claimed secret: %v", err)
		}
		if code, _ := c.do("POST", "/api/v1/devices/claim", "", js, body); code != 401 {
			t.Fatalf("second redeem = %d, want 401", code)
		}
	})
}

func field(name string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		if b["field"] != name {
			t.Errorf("problem field = %v, want %s (%v)", b["field"], name, b)
		}
	}
}
