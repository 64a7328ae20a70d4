package devices_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/revloop/revloop/devices"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for cn, for a server (with an IP
// SAN) or a client.
func (ca testCA) issue(t *testing.T, cn string, server bool) ([]byte, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestTLSClientCertificateIdentity(t *testing.T) {
	ctx := context.Background()
	reg, _ := testRegistry(t)
	secret := addDevice(t, reg, "gw-1", "gateway")
	addDevice(t, reg, "gw-2", "gateway")
	if err := reg.Revoke(ctx, "gw-2"); err != nil {
		t.Fatal(err)
	}
	ca, rogue := newCA(t), newCA(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sc, sk := ca.issue(t, "broker", true)
	cfg, err := devices.ServerTLSConfig(write("s.crt", sc), write("s.key", sk), write("ca.crt", ca.pem), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devices.ServerTLSConfig(write("s2.crt", sc), write("s2.key", sk), "", true); err == nil {
		t.Fatal("requiring client certificates without a CA must be refused")
	}
	auth := devices.NewMQTTAuth(reg)
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	srv.AddHook(auth, nil)
	ln := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: cfg})
	if err := srv.AddListener(ln); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	url := "ssl://" + ln.Address()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)

	dialTLS := func(user, pass string, certPEM, keyPEM []byte) error {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		o := paho.NewClientOptions().AddBroker(url).SetClientID("tls-" + user + pass[:min(3, len(pass))]).SetUsername(user).SetPassword(pass).
			SetTLSConfig(tc).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		c := paho.NewClient(o)
		tok := c.Connect()
		tok.WaitTimeout(10 * time.Second)
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return tok.Error()
	}
	c1, k1 := ca.issue(t, "gw-1", false)
	c2, k2 := ca.issue(t, "gw-2", false)
	cr, kr := rogue.issue(t, "gw-1", false)
	cases := []struct {
		name       string
		user, pass string
		cert, key  []byte
		ok         bool
	}{
		{"certificate only", "", "", c1, k1, true},
		{"certificate and matching username", "gw-1", "", c1, k1, true},
		{"certificate for another username", "gw-2", "", c1, k1, false},
		{"revoked device's certificate", "", "", c2, k2, false},
		{"password over TLS without certificate", "gw-1", secret, nil, nil, true},
		{"wrong password over TLS", "gw-1", "nope", nil, nil, false},
		{"certificate from another CA", "", "", cr, kr, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := dialTLS(c.user, c.pass, c.cert, c.key)
			if c.ok != (err == nil) {
				t.Fatalf("connect error %v, want ok=%v", err, c.ok)
			}
		})
	}
}
