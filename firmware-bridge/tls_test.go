package bridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and
// returns the server's tls.Config and the PEM file a client trusts.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "revloop test broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pemPath
}

// TestTLSUplink checks the tls:// URL with a CA file: readings arrive over
// TLS, and a bridge that does not trust the broker's certificate sends
// nothing and keeps its readings queued.
func TestTLSUplink(t *testing.T) {
	srvTLS, caFile := selfSigned(t)
	tests := []struct {
		name    string
		trusted bool
	}{
		{"trusted broker", true},
		{"untrusted broker", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector()
			br := startBrokerTLS(t, "127.0.0.1:0", srvTLS, col.add)
			defer br.srv.Close()
			cfg := simConfig(t, "tls://"+br.addr)
			if tc.trusted {
				cfg.MQTT.TLS.CAFile = caFile
			}
			cfg.Devices = cfg.Devices[:2] // the bin: level and temperature
			b, err := New(cfg, Options{Hardware: &Sim{}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- b.Run(ctx) }()
			if tc.trusted {
				waitFor(t, "readings over TLS", 10*time.Second, func() bool {
					col.mu.Lock()
					defer col.mu.Unlock()
					return len(col.seen) >= 5
				})
			} else {
				waitFor(t, "a backlog", 10*time.Second, func() bool { return b.Queue().Len() >= 5 })
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			col.mu.Lock()
			defer col.mu.Unlock()
			if !tc.trusted && len(col.seen) != 0 {
				t.Errorf("%d readings reached a broker the bridge must not trust", len(col.seen))
			}
		})
	}
}
