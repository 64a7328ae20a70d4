package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
)

type e2eVerifier struct{}

func (e2eVerifier) Verify(_ context.Context, tok string) (api.Principal, error) {
	if tok != "dispatch-token" {
		return api.Principal{}, revloop.ErrUnauthorized
	}
	return api.Principal{TokenID: "t1", Role: api.RoleDispatcher}, nil
}

type e2eObserver struct{ records atomic.Int64 }

func (o *e2eObserver) Observe(_ context.Context, recs []ingest.Record) error {
	o.records.Add(int64(len(recs)))
	return nil
}

var (
	e2eObs    = &e2eObserver{}
	e2eActive atomic.Bool // the test wiring acts only inside TestServeEndToEnd
)

func init() {
	// A wiring as other parts of revloop add theirs: API authentication and
	// an observer.
	registerWiring("zz-e2e-test", func(_ context.Context, a *app) error {
		if !e2eActive.Load() {
			return nil
		}
		a.API.Auth = e2eVerifier{} // runs last: replaces the accounts' verifier
		a.Ingest.Observers = append(a.Ingest.Observers, e2eObs)
		return nil
	})
}

func e2eConfig(t *testing.T, dir string, r role) appConfig {
	t.Helper()
	set := config.NewSet(string(r), io.Discard)
	var cfg appConfig
	cfg.register(set, r)
	if err := set.Parse([]string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
		"--mqtt-client-id", "e2e-ingest", "--ingest-batch-delay", "20ms"}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startServe(t *testing.T, dir string) (a *app, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := newApp(ctx, log, e2eConfig(t, dir, roleServe), roleServe)
	if err != nil {
		cancel()
		t.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s")
		}
	}
}

// provisionDataDir migrates the state store under dataDir and registers
// devices of one kind in it, as a revloop process started on dataDir finds
// them; it returns their secrets.
func provisionDataDir(t *testing.T, dataDir, kind string, ids ...string) map[string]string {
	t.Helper()
	db, done, err := benchDB(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	return provisionDevices(t, db, kind, ids...)
}

// provisionDevices registers devices of one kind and returns their secrets.
func provisionDevices(t *testing.T, db *store.DB, kind string, ids ...string) map[string]string {
	t.Helper()
	reg := devices.NewRegistry(db, slog.New(slog.DiscardHandler), devices.Options{NoMosquittoHash: true})
	rows := make([]devices.Row, len(ids))
	for i, id := range ids {
		rows[i] = devices.Row{Line: i + 2, Spec: devices.Spec{ID: id, Kind: kind}}
	}
	creds, err := reg.Import(context.Background(), rows, nil)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	out := make(map[string]string, len(creds))
	for _, c := range creds {
		out[string(c.Device)] = c.Secret
	}
	return out
}

func httpGet(t *testing.T, url string, auth bool) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer dispatch-token")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeEndToEnd(t *testing.T) {
	e2eActive.Store(true)
	defer e2eActive.Store(false)
	dir := t.TempDir()
	a, stop := startServe(t, dir)
	base := "http://" + a.HTTPAddr()
	waitFor(t, "healthy", func() bool { code, _ := httpGet(t, base+"/healthz", false); return code == http.StatusOK })

	// The tracker is registered, so that the device check passes and the
	// broker (when it authenticates devices) admits it.
	creds := provisionDevices(t, a.DB, "tracker", "truck-7")
	pub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + a.MQTTAddr()).SetClientID("truck-7").
		SetUsername("truck-7").SetPassword(creds["truck-7"]))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	ts := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	msgs := []struct {
		topic, payload string
		retained       bool
	}{
		{"revloop/v1/truck-7/gps", fmt.Sprintf(`{"ts":"%s","lat":51.05,"lon":3.72,"speed_kmh":31.5}`, ts.Format(time.RFC3339Nano)), false},
		{"revloop/v1/truck-7/gps", `{"ts":"2026-03-03T07:59:00Z","lat":51.05,"lo`, false},
		{"revloop/v1/truck-7/status", `{"online":true,"battery_v":12.4}`, true},
	}
	for _, m := range msgs {
		if tok := pub.Publish(m.topic, 1, m.retained, m.payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	var latest map[string]any
	waitFor(t, "latest position", func() bool {
		code, body := httpGet(t, base+"/api/v1/devices/truck-7/positions/latest", true)
		return code == http.StatusOK && json.Unmarshal(body, &latest) == nil
	})
	if latest["lat"] != 51.05 || latest["speed_kmh"] != 31.5 || latest["hdop"] != nil {
		t.Errorf("latest = %v", latest)
	}

	tests := []struct {
		name     string
		path     string
		auth     bool
		wantCode int
		wantBody string
	}{
		{"positions range", fmt.Sprintf("/api/v1/devices/truck-7/positions?from=%s&to=%s",
			ts.Add(-time.Hour).Format(time.RFC3339), ts.Add(time.Hour).Format(time.RFC3339)), true, 200, `"lat":51.05`},
		{"positions bad from", "/api/v1/devices/truck-7/positions?from=yesterday", true, 400, `"field":"from"`},
		{"positions from after to", fmt.Sprintf("/api/v1/devices/truck-7/positions?from=%s&to=%s",
			ts.Format(time.RFC3339), ts.Add(-time.Hour).Format(time.RFC3339)), true, 400, `must be before to`},
		{"positions bad device", "/api/v1/devices/Truck!/positions", true, 400, `"field":"id"`},
		{"positions no token", "/api/v1/devices/truck-7/positions", false, 401, `unauthorized`},
		{"latest unknown device", "/api/v1/devices/truck-99/positions/latest", true, 404, `no position`},
		{"dead letters", "/api/v1/deadletters?reason=malformed", true, 200, `"reason":"malformed"`},
		{"dead letters bad reason", "/api/v1/deadletters?reason=nope", true, 400, `unknown reason`},
		{"dead letters bad limit", "/api/v1/deadletters?limit=0", true, 400, `"field":"limit"`},
		{"healthz", "/healthz", false, 200, `"status":"ok"`},
		{"metrics", "/metrics", false, 200, `revloop_ingest_messages_rejected_total{reason="malformed"} 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var body []byte
			waitFor(t, tc.path, func() bool {
				code, body = httpGet(t, base+tc.path, tc.auth)
				return code == tc.wantCode && strings.Contains(string(body), tc.wantBody)
			})
		})
	}
	if n := e2eObs.records.Load(); n < 2 {
		t.Errorf("observer saw %d records, want at least 2", n)
	}
	stop()

	// A restart on the same data directory keeps what was acknowledged.
	a, stop = startServe(t, dir)
	defer stop()
	code, body := httpGet(t, "http://"+a.HTTPAddr()+"/api/v1/devices/truck-7/positions/latest", true)
	if code != http.StatusOK || !strings.Contains(string(body), `"lat":51.05`) {
		t.Errorf("after restart: %d %s", code, body)
	}
}
