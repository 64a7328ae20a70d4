package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type settings struct {
	dataDir string
	batch   int
	flush   time.Duration
	token   string
}

func newSet(c *settings) *Set {
	s := NewSet("test", io.Discard)
	s.String(&c.dataDir, "data-dir", "./data", "data directory")
	s.Int(&c.batch, "batch-size", 5000, "points per batch")
	s.Duration(&c.flush, "flush-interval", time.Second, "flush interval")
	s.Secret(&c.token, "influx-token", "token")
	return s
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"data-dir":"/from/file","batch-size":7,"flush-interval":"3s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REVLOOP_BATCH_SIZE", "8")
	t.Setenv("REVLOOP_FLUSH_INTERVAL", "4s")
	var c settings
	s := newSet(&c)
	if err := s.Parse([]string{"--config", file, "--flush-interval", "5s"}); err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/from/file" || c.batch != 8 || c.flush != 5*time.Second {
		t.Fatalf("got %+v; want file data-dir, env batch-size, flag flush-interval", c)
	}
}

func TestDefaultsAndUnknownKey(t *testing.T) {
	var c settings
	if err := newSet(&c).Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "./data" || c.batch != 5000 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"data-dri":"x"}`), 0o600)
	if err := newSet(&c).Parse([]string{"--config", file}); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestBadEnvValueAndSecretMasked(t *testing.T) {
	t.Setenv("REVLOOP_BATCH_SIZE", "many")
	var c settings
	if err := newSet(&c).Parse(nil); err == nil {
		t.Fatal("bad REVLOOP_BATCH_SIZE accepted")
	}
	t.Setenv("REVLOOP_BATCH_SIZE", "1")
	t.Setenv("REVLOOP_INFLUX_TOKEN", "user:pw")
	s := newSet(&c)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.token != "user:pw" || s.Describe()["influx-token"] != "***" {
		t.Fatalf("secret not applied or not masked: %q %q", c.token, s.Describe()["influx-token"])
	}
}
