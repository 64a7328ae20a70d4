package devices_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop/devices"
)

const mosquittoBin = "/usr/sbin/mosquitto"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// exportFiles writes the password and ACL files into dir.
func exportFiles(t *testing.T, reg *devices.Registry, dir string, svc devices.MosquittoService) {
	t.Helper()
	var pw, acl bytes.Buffer
	if _, err := reg.ExportMosquitto(context.Background(), &pw, &acl, []devices.MosquittoService{svc}); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"passwd": pw.Bytes(), "acl": acl.Bytes()} {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// startMosquitto runs Mosquitto on a free loopback port with the exported
// files; it returns the broker url and the process.
func startMosquitto(t *testing.T, dir string) (string, *os.Process) {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		if os.Getenv("REVLOOP_REQUIRE_SERVICES") == "1" {
			t.Fatalf("mosquitto not installed at %s", mosquittoBin)
		}
		t.Skipf("mosquitto not installed at %s", mosquittoBin)
	}
	port := freePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\npersistence false\nlog_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\n",
		port, filepath.Join(dir, "passwd"), filepath.Join(dir, "acl"), filepath.Join(dir, "mosquitto.log"))
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	cf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mosquittoBin, "-c", cf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log"))
			t.Fatalf("mosquitto exited: %v\n%s%s", err, stderr.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "tcp://" + addr, cmd.Process
}

func TestMosquittoExport(t *testing.T) {
	ctx := context.Background()
	reg, _ := testRegistry(t)
	a := addDevice(t, reg, "trk-a", "tracker")
	b := addDevice(t, reg, "trk-b", "tracker")
	revoked := addDevice(t, reg, "trk-old", "tracker")
	if err := reg.Revoke(ctx, "trk-old"); err != nil {
		t.Fatal(err)
	}
	svcHash, err := devices.MosquittoHash("svc-pw", 10)
	if err != nil {
		t.Fatal(err)
	}
	svc := devices.MosquittoService{Username: "ingest", Hash: svcHash}
	dir := t.TempDir()
	exportFiles(t, reg, dir, svc)
	url, proc := startMosquitto(t, dir)

	for _, c := range []struct{ name, user, pass string }{
		{"wrong secret", "trk-a", b},
		{"revoked", "trk-old", revoked},
		{"unknown", "trk-zzz", a},
		{"anonymous", "", ""},
	} {
		if _, err := dial(t, url, c.user, c.pass); err == nil {
			t.Errorf("%s: connect accepted, want refused", c.name)
		}
	}

	sub, err := dial(t, url, "ingest", "svc-pw")
	if err != nil {
		t.Fatalf("service account: %v", err)
	}
	got := make(chan string, 16)
	wait(t, sub.Subscribe("revloop/v1/#", 0, func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) }))
	dev, err := dial(t, url, "trk-a", a)
	if err != nil {
		t.Fatalf("device with its secret: %v", err)
	}
	cfg := make(chan string, 4)
	wait(t, dev.Subscribe("revloop/v1/+/config", 0, func(_ paho.Client, m paho.Message) { cfg <- m.Topic() }))
	wait(t, dev.Publish("revloop/v1/trk-b/gps", 0, false, "forged"))
	wait(t, dev.Publish("revloop/v1/trk-a/config", 0, false, "self-config"))
	wait(t, dev.Publish("revloop/v1/trk-a/gps", 0, false, "own"))
	select {
	case m := <-got:
		if m != "revloop/v1/trk-a/gps own" {
			t.Fatalf("subscriber got %q first, want only the device's own message", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("own message not delivered")
	}
	wait(t, sub.Publish("revloop/v1/trk-b/config", 0, false, "{}"))
	wait(t, sub.Publish("revloop/v1/trk-a/config", 0, false, "{}"))
	select {
	case topic := <-cfg:
		if topic != "revloop/v1/trk-a/config" {
			t.Fatalf("device read %s, want only its own config", topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("own config not delivered")
	}

	// Rotation: re-export, SIGHUP, the old secret is refused.
	cred, err := reg.Rotate(ctx, "trk-a")
	if err != nil {
		t.Fatal(err)
	}
	exportFiles(t, reg, dir, svc)
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := dial(t, url, "trk-a", a)
		if err != nil {
			break
		}
		c.Disconnect(0)
		if time.Now().After(deadline) {
			t.Fatal("old secret still accepted 10 s after SIGHUP")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := dial(t, url, "trk-a", cred.Secret); err != nil {
		t.Fatalf("new secret refused after reload: %v", err)
	}
	for {
		select {
		case m := <-got:
			if strings.Contains(m, "forged") || strings.Contains(m, "self-config") {
				t.Fatalf("refused publish delivered: %q", m)
			}
			continue
		default:
		}
		break
	}
}
