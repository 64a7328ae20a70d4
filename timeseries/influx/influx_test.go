package influx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/internal/testenv"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/influx"
	"github.com/revloop/revloop/timeseries/timeseriestest"
)

type cfgStore struct {
	*influx.Store
	cfg influx.Config
}

func newStore(t *testing.T, cfg influx.Config) timeseries.Store {
	s, err := influx.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &cfgStore{Store: s, cfg: cfg}
}

// TestContract runs the shared contract against a real InfluxDB 1.8; a
// reopened store is a new client of the same database.
func TestContract(t *testing.T) {
	testenv.InfluxURL(t)
	timeseriestest.Suite{
		Open: func(t *testing.T, r timeseries.Retention) timeseries.Store {
			u, bucket := testenv.InfluxDatabase(t)
			return newStore(t, influx.Config{URL: u, Bucket: bucket, Retention: r})
		},
		Reopen: func(t *testing.T, s timeseries.Store) timeseries.Store {
			cs := s.(*cfgStore)
			cs.Close()
			return newStore(t, cs.cfg)
		},
	}.Run(t)
}

func onePoint() []timeseries.Point {
	return []timeseries.Point{timeseries.WeightPoint(revloop.WeightReading{Device: "scale-1", Time: timeseriestest.Base, Kg: 10, Stable: true})}
}

// TestClassify checks how server answers map to retryable and rejected
// write errors, against a fake server answering like InfluxDB does.
func TestClassify(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		header        map[string]string
		body          string
		wantRetryable bool
		wantAfter     time.Duration
	}{
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "7"}, "", true, 7 * time.Second},
		{"429 without Retry-After", 429, nil, "", true, influx.DefaultRetryAfter},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "30"}, `{"code":"unavailable","message":"shutting down"}`, true, 30 * time.Second},
		{"500", 500, nil, `{"error":"engine: timeout"}`, true, influx.DefaultRetryAfter},
		{"400 field type conflict", 400, nil, `{"code":"invalid","message":"partial write: field type conflict"}`, false, 0},
		{"413 too large", 413, nil, `{"code":"request too large"}`, false, 0},
		{"422 unprocessable", 422, nil, "", false, 0},
		{"401 bad token", 401, nil, `{"code":"unauthorized","message":"authorization failed"}`, true, influx.DefaultRetryAfter},
		{"404 bucket not found", 404, nil, `{"code":"not found","message":"bucket \"x\" not found"}`, true, influx.DefaultRetryAfter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				if strings.HasPrefix(tc.body, "{") {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			s, err := influx.New(influx.Config{URL: srv.URL, Bucket: "db/rp"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Write(context.Background(), onePoint())
			var we *timeseries.WriteError
			if !errors.As(err, &we) {
				t.Fatalf("Write: %v, want a *WriteError", err)
			}
			if we.Retryable != tc.wantRetryable || we.RetryAfter != tc.wantAfter {
				t.Errorf("Write: retryable=%v after=%v (%v), want retryable=%v after=%v", we.Retryable, we.RetryAfter, err, tc.wantRetryable, tc.wantAfter)
			}
		})
	}
}

func TestClassifyNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s, err := influx.New(influx.Config{URL: "http://" + addr, Bucket: "db/rp", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(context.Background(), onePoint())
	if !timeseries.IsRetryable(err) {
		t.Fatalf("Write to a closed port: %v, want retryable", err)
	}
}

// TestWriteBody checks the line protocol the server receives.
func TestWriteBody(t *testing.T) {
	var got, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got, gotPath = b.String(), r.URL.String()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, err := influx.New(influx.Config{URL: srv.URL, Bucket: "fleet/autogen", Token: "u:p"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ign := true
	ps := []timeseries.Point{
		timeseries.PositionPoint(revloop.Position{Device: "trk-1", Vehicle: "AB 12,=3", Time: time.Unix(1700000000, 5), Lat: 52.5, Lon: 4.25,
			SpeedKmh: 1e21, HeadingDeg: 0, HDOP: 0.9, Sats: 7, OdometerKm: 3, Ignition: &ign}),
		timeseries.StatusPoint(revloop.DeviceStatus{Device: "trk-1", Time: time.Unix(1700000000, 0), BatteryV: 3.5, RSSIDbm: -70, Firmware: `v1 "beta" \x`, UptimeS: 10}),
	}
	if err := s.Write(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	want := `position,device=trk-1,vehicle=AB\ 12\,\=3 lat=52.5,lon=4.25,speed_kmh=1e+21,heading_deg=0,hdop=0.9,sats=7i,odometer_km=3,ignition=true 1700000000000000005` + "\n" +
		`device_status,device=trk-1 battery_v=3.5,rssi_dbm=-70,firmware="v1 \"beta\" \\x",uptime_s=10,online=false 1700000000000000000`
	if got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(gotPath, "bucket=fleet%2Fautogen") || !strings.Contains(gotPath, "precision=ns") {
		t.Errorf("request %s: want bucket fleet/autogen and precision ns", gotPath)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     influx.Config
		wantErr string
	}{
		{"ok", influx.Config{URL: "http://127.0.0.1:8086", Bucket: "revloop/autogen"}, ""},
		{"no url", influx.Config{Bucket: "b"}, "url is required"},
		{"bad scheme", influx.Config{URL: "tcp://h:1", Bucket: "b"}, "want http(s)"},
		{"no bucket", influx.Config{URL: "http://h:1"}, "bucket is required"},
		{"negative retention", influx.Config{URL: "http://h:1", Bucket: "b", Retention: timeseries.Retention{"position": -time.Hour}}, "negative retention"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestPruneRequests checks the requests Prune sends to a 2.x server (delete
// API) and to a 1.x server (no delete API: InfluxQL DELETE).
func TestPruneRequests(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		deleteCode  int
		wantQueries []string
	}{
		{"2.x delete API", 204, nil},
		{"1.x InfluxQL", 404, []string{`DELETE FROM "position" WHERE time < '2026-03-01T12:00:00Z'`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var deletes []string
			var queries []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Token u:p" {
					t.Errorf("%s without the token", r.URL.Path)
				}
				switch r.URL.Path {
				case "/api/v2/delete":
					b := new(strings.Builder)
					_, _ = io.Copy(b, r.Body)
					deletes = append(deletes, r.URL.Query().Get("bucket")+" "+b.String())
					w.WriteHeader(tc.deleteCode)
				case "/query":
					if err := r.ParseForm(); err != nil {
						t.Error(err)
					}
					if r.Form.Get("db") != "fleet" {
						t.Errorf("InfluxQL on db %q, want fleet", r.Form.Get("db"))
					}
					queries = append(queries, r.Form.Get("q"))
					w.Write([]byte(`{"results":[{"statement_id":0}]}`))
				default:
					t.Errorf("unexpected request %s", r.URL)
				}
			}))
			defer srv.Close()
			s, err := influx.New(influx.Config{URL: srv.URL, Bucket: "fleet/autogen", Token: "u:p",
				Retention: timeseries.Retention{"position": 24 * time.Hour, "weight": 0}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for range 2 { // the 1.x fallback is remembered
				if err := s.Prune(context.Background(), now); err != nil {
					t.Fatalf("Prune: %v", err)
				}
			}
			wantDeletes := 2
			if tc.deleteCode == 404 {
				wantDeletes = 1
			}
			if len(deletes) != wantDeletes || !strings.Contains(deletes[0], `"stop":"2026-03-01T11:59:59.999999999Z"`) ||
				!strings.Contains(deletes[0], `_measurement=\"position\"`) || !strings.HasPrefix(deletes[0], "fleet/autogen ") {
				t.Errorf("delete requests %q", deletes)
			}
			if len(tc.wantQueries) > 0 && (len(queries) != 2 || queries[0] != tc.wantQueries[0]) {
				t.Errorf("InfluxQL %q, want %q twice", queries, tc.wantQueries)
			}
			if len(tc.wantQueries) == 0 && len(queries) != 0 {
				t.Errorf("InfluxQL %q on a 2.x server", queries)
			}
		})
	}
}
