package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	MQTTURLEnv         = "REVLOOP_TEST_MQTT_URL"
	InfluxURLEnv       = "REVLOOP_TEST_INFLUX_URL"
	DatabaseURLEnv     = "REVLOOP_TEST_DATABASE_URL"
	RequireServicesEnv = "REVLOOP_REQUIRE_SERVICES"
)

// StartCommand is what a developer runs to provide the services.
const StartCommand = `deploy/scripts/services.sh start all && eval "$(deploy/scripts/services.sh env all)"`

// Required reports whether missing services fail tests instead of skipping
// them.
func Required() bool { return os.Getenv(RequireServicesEnv) == "1" }

func lookup(t testing.TB, env, service string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s not set: no %s to test against; start the test services with: %s", env, service, StartCommand)
	if Required() {
		t.Fatalf("%s (required because %s=1)", msg, RequireServicesEnv)
		return ""
	}
	t.Skip(msg)
	return ""
}

// MQTTURL returns the test broker (Mosquitto), e.g. tcp://127.0.0.1:18830.
func MQTTURL(t testing.TB) string { return lookup(t, MQTTURLEnv, "MQTT broker") }

// InfluxURL returns the test InfluxDB 1.8, e.g. http://127.0.0.1:18086.
func InfluxURL(t testing.TB) string { return lookup(t, InfluxURLEnv, "InfluxDB") }

// PostgresURL returns the test PostgreSQL database URL.
func PostgresURL(t testing.TB) string { return lookup(t, DatabaseURLEnv, "PostgreSQL") }

// InfluxDatabase creates a fresh, uniquely named database on the test
// InfluxDB and drops it when the test ends. bucket is "<db>/autogen", the
// form influxdb-client-go/v2 expects for InfluxDB 1.8.
func InfluxDatabase(t testing.TB) (influxURL, bucket string) {
	t.Helper()
	u := InfluxURL(t)
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	db := "revloop_test_" + hex.EncodeToString(rnd[:])
	if err := InfluxQL(u, fmt.Sprintf("CREATE DATABASE %q", db)); err != nil {
		t.Fatalf("testenv: create InfluxDB database: %v", err)
	}
	t.Cleanup(func() {
		if err := InfluxQL(u, fmt.Sprintf("DROP DATABASE %q", db)); err != nil {
			t.Errorf("testenv: drop InfluxDB database %s: %v", db, err)
		}
	})
	return u, db + "/autogen"
}

// InfluxQL runs one InfluxQL statement through POST /query and returns an
// error for a failed request or a statement error in the response.
func InfluxQL(influxURL, q string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(influxURL, "/")+"/query",
		strings.NewReader(url.Values{"q": {q}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("influxql %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("influxql %q: HTTP %d: %s", q, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if strings.Contains(string(body), `"error":`) {
		return fmt.Errorf("influxql %q: %s", q, strings.TrimSpace(string(body)))
	}
	return nil
}
