package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// connKinds records whether each connecting client's connection is a
// *tls.Conn, as the device hook needs for client certificates.
type connKinds struct {
	mqtt.HookBase
	got chan bool
}

func (h *connKinds) ID() string { return "conn-kinds" }

func (h *connKinds) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *connKinds) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, isTLS := cl.Net.Conn.(*tls.Conn)
	h.got <- isTLS
	return true
}

func (h *connKinds) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestListenerConnKinds(t *testing.T) {
	h := &connKinds{got: make(chan bool, 2)}
	b, stop := startBroker(t, Options{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}},
		Hooks:     []Hook{{Hook: h}}})
	defer stop()
	cases := []struct {
		name    string
		url     string
		wantTLS bool
	}{
		{name: "plain listener", url: b.URL(), wantTLS: false},
		{name: "tls listener hands hooks the *tls.Conn", url: "ssl://" + b.TLSAddr(), wantTLS: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := paho.NewClientOptions().AddBroker(tc.url).SetClientID("c").
				SetTLSConfig(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test broker's own certificate
			c := paho.NewClient(o)
			if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("connect: %v", tok.Error())
			}
			defer c.Disconnect(50)
			if got := <-h.got; got != tc.wantTLS {
				t.Fatalf("hook saw *tls.Conn = %v, want %v", got, tc.wantTLS)
			}
		})
	}
}
