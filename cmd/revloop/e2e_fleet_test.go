package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/config"
	dsp "github.com/revloop/revloop/dispatch"
	"github.com/revloop/revloop/internal/testenv"
	"github.com/revloop/revloop/sim"
	"github.com/revloop/revloop/store"
)

// freshPostgres creates a database for one test and returns its URL.
func freshPostgres(t *testing.T) string {
	t.Helper()
	admin := testenv.PostgresURL(t)
	ctx := context.Background()
	adm, err := store.Open(ctx, admin, "")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	name := "e2e_" + hex.EncodeToString(b)
	if _, err := adm.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		adm.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		adm.Close()
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// TestFleetOverMQTTOnPostgresInflux runs serve on PostgreSQL and InfluxDB,
// publishes a simulated morning of vehicles, bins, gate and scale over MQTT
// with per-device credentials, and reads the derived geofence events, trips,
// forecasts and alerts back through the API.
func TestFleetOverMQTTOnPostgresInflux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs a simulated morning")
	}
	dbURL := freshPostgres(t)
	influxURL, bucket := testenv.InfluxDatabase(t)
	dir := t.TempDir()
	ctx := context.Background()

	world := sim.NewWorld(5, 4, 30)
	worldFile := filepath.Join(dir, "world.json")
	f, err := os.Create(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := world.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := store.Open(ctx, dbURL, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rf, _ := os.Open(worldFile)
	dw, err := dsp.ReadWorld(rf)
	rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dsp.New(db).Seed(ctx, dw, nil); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, "secrets.csv")
	if err := seedDevicesAndYard(ctx, db, worldFile, secrets, io.Discard); err != nil {
		t.Fatal(err)
	}
	_, token, err := accounts.New(db, 0).Create(ctx, api.RoleAdmin, "", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	set := config.NewSet("serve", io.Discard)
	var cfg appConfig
	cfg.register(set, roleServe)
	if err := set.Parse([]string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
		"--mqtt-client-id", "e2e-fleet", "--ingest-batch-delay", "20ms", "--database-url", dbURL,
		"--influx-url", influxURL, "--influx-bucket", bucket}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	a, err := newApp(rctx, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, roleServe)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()

	cf, err := os.Open(secrets)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := sim.ReadCredentials(cf)
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sim.NewMQTTPublisher(ctx, sim.MQTTConfig{URL: "tcp://" + a.MQTTAddr(), Credentials: creds, MaxInflight: 256})
	if err != nil {
		t.Fatal(err)
	}
	// A recent weekday morning: the fleet is on the road.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-48*time.Hour + 7*time.Hour)
	for start.Weekday() == time.Sunday || start.Weekday() == time.Saturday {
		start = start.Add(-24 * time.Hour)
	}
	st, err := sim.Run(ctx, sim.Config{World: world, Start: start, Duration: 5 * time.Hour, Speedup: -1}, pub)
	pub.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("published %d messages", st.Sent)

	base := "http://" + a.HTTPAddr() + "/api/v1"
	get := func(path string, v any) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	from, to := start.Format(time.RFC3339), start.Add(6*time.Hour).Format(time.RFC3339)
	var events struct {
		Items []map[string]any `json:"items"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if get("/events?kind=fence_enter&from="+from+"&to="+to, &events) == http.StatusOK && len(events.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fence_enter events after publishing %d messages", st.Sent)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var trips map[string]any
	day := start.In(time.FixedZone("CET", 3600)).Format("2006-01-02")
	if code := get("/vehicles/"+world.Vehicles[0].ID+"/trips?date="+day, &trips); code != http.StatusOK {
		t.Fatalf("trips: %d", code)
	}
	if sum, _ := trips["summary"].(map[string]any); sum == nil || sum["trips"].(float64) < 1 || sum["distance_km"].(float64) <= 0 {
		t.Fatalf("no trips detected for %s on %s: %v", world.Vehicles[0].ID, day, trips)
	}
	var fc map[string]any
	if code := get("/bins/"+world.Bins[0].ID+"/forecast", &fc); code != http.StatusOK {
		t.Fatalf("forecast of %s: %d", world.Bins[0].ID, code)
	}
	var alerts map[string]any
	if code := get("/alerts", &alerts); code != http.StatusOK {
		t.Fatalf("alerts: %d", code)
	}
	// The live view rebuilds its snapshot once a second.
	var pos struct {
		Features []any `json:"features"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if get("/fleet/positions", &pos) == http.StatusOK && len(pos.Features) == len(world.Vehicles) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("latest positions of %d vehicles, want %d", len(pos.Features), len(world.Vehicles))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d fence_enter events, trips %v, forecast %v, alerts %d", len(events.Items), trips["summary"], fc["level_pct"], len(alerts["items"].([]any)))
}
