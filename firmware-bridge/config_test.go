package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

func TestExampleConfig(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret-pw\n"), 0o600)
	b = bytes.Replace(b, []byte("/etc/revloop-bridge/mqtt.password"), []byte(pw), 1)
	path := filepath.Join(dir, "bridge.yaml")
	os.WriteFile(path, b, 0o600)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if c.MQTT.password != "s3cret-pw" {
		t.Errorf("password = %q, want it read from the file without the newline", c.MQTT.password)
	}
	if len(c.Devices) != 5 || c.Devices[1].Address != 0x70 || c.Devices[1].Interval != 10*time.Minute ||
		c.Devices[0].DeviceID != "truck-12" || c.Queue.Overflow != "drop-oldest" {
		t.Errorf("decoded %+v", c.Devices)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c.Redacted())
	if strings.Contains(logged.String(), "s3cret") {
		t.Error("password appears in a logged config")
	}
}

func TestConfigErrors(t *testing.T) {
	base := `
device_id: gw-1
mqtt: {url: "tcp://127.0.0.1:1883"}
buses:
  - {name: i2c1, type: i2c, dev: /dev/i2c-1}
devices:
  - {name: bin, driver: srf02, bus: i2c1, depth_mm: 1000}
`
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key names its line", base + "  - {name: t, driver: mcp9808, bus: i2c1, adress: 0x18}\n", "line 8"},
		{"unknown top-level key", "devce_id: x\n", "line 1"},
		{"bad device id", strings.Replace(base, "gw-1", "GW 1", 1), "device_id"},
		{"bad url scheme", strings.Replace(base, "tcp://", "http://", 1), "scheme"},
		{"unknown bus", strings.Replace(base, "bus: i2c1", "bus: i2c9", 1), `unknown bus "i2c9"`},
		{"driver on the wrong bus", base + "  - {name: g, driver: nmea, bus: i2c1}\n", "needs a uart bus"},
		{"unknown driver", base + "  - {name: g, driver: bme280, bus: i2c1}\n", `driver "bme280"`},
		{"depth not beyond blind zone", strings.Replace(base, "depth_mm: 1000", "depth_mm: 100", 1), "depth_mm"},
		{"bad overflow policy", base + "queue: {overflow: drop-random}\n", "overflow"},
		{"temp sensor that is no mcp9808", strings.Replace(base, "depth_mm: 1000", "depth_mm: 1000, temp_sensor: bin", 1), "temp_sensor"},
		{"duplicate device", base + "  - {name: bin, driver: srf02, bus: i2c1, depth_mm: 1000}\n", "duplicate"},
		{"interval too short", strings.Replace(base, "depth_mm: 1000", "depth_mm: 1000, interval: 1ms", 1), "interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := ParseConfig([]byte(base)); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

func TestApplyConfig(t *testing.T) {
	cfg := simConfig(t, "tcp://127.0.0.1:1")
	b, err := New(cfg, Options{Hardware: &Sim{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Queue().Close()
	tests := []struct {
		name        string
		payload     string
		wantErr     bool
		wantVersion int64
	}{
		{"intervals and thresholds", `{"version":2,"intervals":{"bin":"30s"},"thresholds":{"fire_temp_c":65}}`, false, 2},
		{"older version ignored", `{"version":1,"intervals":{"bin":"1h"}}`, false, 2},
		{"unknown field", `{"version":5,"intervalz":{}}`, true, 2},
		{"unknown device", `{"version":5,"intervals":{"oven":"1s"}}`, true, 2},
		{"bad duration", `{"version":5,"intervals":{"bin":"soon"}}`, true, 2},
		{"fire threshold out of range", `{"version":5,"thresholds":{"fire_temp_c":500}}`, true, 2},
		{"not json", `version=5`, true, 2},
		{"zero version", `{"version":0}`, true, 2},
		{"newer version", `{"version":7,"thresholds":{"stable_tolerance_kg":0.2}}`, false, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.ApplyConfig([]byte(tc.payload))
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrRuntimeConfig)) {
				t.Fatalf("ApplyConfig error = %v, want error %v", err, tc.wantErr)
			}
			if got := b.StatusNow().ConfigVersion; got != tc.wantVersion {
				t.Errorf("config version = %d, want %d", got, tc.wantVersion)
			}
		})
	}
	if got := b.byName["bin"].interval(); got != 30*time.Second {
		t.Errorf("bin interval = %v, want 30s (a rejected message must change nothing)", got)
	}
	if thr := b.thresholds(); thr.FireTempC != 65 || thr.StableToleranceKg != 0.2 {
		t.Errorf("thresholds = %+v", thr)
	}
}

func TestWire(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		enc  func() ([]byte, error)
		want string
	}{
		{"gps with unknowns omitted", func() ([]byte, error) {
			return EncodePosition(revloop.Position{Device: "truck-1", Time: at, Lat: 52.5, Lon: 13.4, SpeedKmh: 40, HeadingDeg: math.NaN(), HDOP: 0.9, Sats: -1})
		}, `{"device":"truck-1","ts":"2026-11-26T11:00:00.123Z","lat":52.5,"lon":13.4,"speed_kmh":40,"hdop":0.9}`},
		{"fill", func() ([]byte, error) {
			return EncodeFill(revloop.FillReading{Device: "bin-7", Bin: "b7", Time: at, LevelPct: 50, DistanceMm: 675, TempC: math.NaN()})
		}, `{"device":"bin-7","bin":"b7","ts":"2026-11-26T11:00:00.123Z","level_pct":50,"distance_mm":675}`},
		{"rfid", func() ([]byte, error) {
			return EncodeRFID(revloop.RFIDRead{Device: "gate-1", Time: at, EPC: "E200", Antenna: 2, RSSIDbm: -61})
		}, `{"device":"gate-1","ts":"2026-11-26T11:00:00.123Z","epc":"E200","antenna":2,"rssi_dbm":-61}`},
		{"weight", func() ([]byte, error) {
			return EncodeWeight(revloop.WeightReading{Device: "scale-1", Time: at, Kg: 12.5, Stable: true})
		}, `{"device":"scale-1","ts":"2026-11-26T11:00:00.123Z","kg":12.5,"stable":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.enc()
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %s, %v\nwant %s", b, err, tc.want)
			}
			if !json.Valid(b) {
				t.Fatal("invalid JSON")
			}
		})
	}
	rec := MarshalRecord("revloop/v1/bin-7/fill", []byte(`{"a":1}`))
	if r, err := UnmarshalRecord(rec); err != nil || r.Topic != "revloop/v1/bin-7/fill" || string(r.JSON) != `{"a":1}` {
		t.Errorf("record round trip: %+v %v", r, err)
	}
	for _, bad := range []string{"", "\n{}", "topic-only", "topic\n"} {
		if _, err := UnmarshalRecord([]byte(bad)); err == nil {
			t.Errorf("UnmarshalRecord(%q) succeeded", bad)
		}
	}
}

func TestLevelPct(t *testing.T) {
	tests := []struct {
		name                    string
		dist, depth, full, want float64
	}{
		{"empty", 1200, 1200, 200, 0},
		{"half", 700, 1200, 200, 50},
		{"full", 200, 1200, 200, 100},
		{"overfull clamps", 100, 1200, 200, 100},
		{"echo beyond the floor clamps", 1500, 1200, 200, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LevelPct(tc.dist, tc.depth, tc.full); got != tc.want {
				t.Errorf("LevelPct = %v, want %v", got, tc.want)
			}
		})
	}
}
