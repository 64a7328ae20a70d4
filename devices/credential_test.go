package devices_test

import (
	"os"
	"strings"
	"testing"

	"github.com/revloop/revloop/devices"
)

func TestSecretHashRoundTrip(t *testing.T) {
	secret, err := devices.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 43 || strings.ContainsAny(secret, "+/=") {
		t.Fatalf("secret %q: want 43 base64url characters", secret)
	}
	h, err := devices.HashSecret(secret, cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with its parameters", h)
	}
	cases := []struct {
		name, secret, hash string
		ok                 bool
		bad                bool
	}{
		{"right", secret, h, true, false},
		{"wrong", secret + "x", h, false, false},
		{"empty", "", h, false, false},
		{"not phc", secret, "plain", false, true},
		{"wrong algorithm", secret, strings.Replace(h, "argon2id", "argon2i", 1), false, true},
		{"absurd memory", secret, strings.Replace(h, "m=64", "m=99999999", 1), false, true},
		{"bad salt", secret, strings.Replace(h, "p=1$", "p=1$!!", 1), false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := devices.VerifySecret(c.secret, c.hash)
			if ok != c.ok || (err != nil) != c.bad {
				t.Fatalf("VerifySecret = %v, %v; want %v, error %v", ok, err, c.ok, c.bad)
			}
		})
	}
}

// TestMosquittoHashFormat checks against a line written by mosquitto_passwd
// 2.0 (password "s3cret") and round-trips our own hashes.
func TestMosquittoHashFormat(t *testing.T) {
	b, err := os.ReadFile("testdata/mosquitto_passwd.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, hash, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	if ok, err := devices.VerifyMosquittoHash("s3cret", hash); !ok || err != nil {
		t.Fatalf("mosquitto_passwd's hash does not verify: %v, %v", ok, err)
	}
	if ok, _ := devices.VerifyMosquittoHash("s3cret!", hash); ok {
		t.Fatal("wrong password verified")
	}
	mine, err := devices.MosquittoHash("abc", 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(mine, "$")
	if len(parts) != 5 || parts[1] != "7" || parts[2] != "1000" || len(parts[3]) != 16 || len(parts[4]) != 88 {
		t.Fatalf("hash %q does not have mosquitto's $7$ shape (12-byte salt, 64-byte key)", mine)
	}
	if ok, err := devices.VerifyMosquittoHash("abc", mine); !ok || err != nil {
		t.Fatalf("own hash does not verify: %v, %v", ok, err)
	}
}
