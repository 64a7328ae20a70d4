package alerts_test

import (
	"testing"
	"time"

	"github.com/revloop/revloop/alerts"
)

// FuzzVerify feeds arbitrary signature headers and bodies to Verify: it
// never panics, and a header made by Sign always verifies.
func FuzzVerify(f *testing.F) {
	f.Add("whsec_0123456789abcdef", "t=1767225600,v1=00", []byte(`{"a":1}`), int64(1767225600))
	f.Add("k", "", []byte{}, int64(0))
	f.Add("k", "t=,v1=,v1=zz,t=9999999999999999999", []byte("x"), int64(-1))
	f.Fuzz(func(t *testing.T, secret, header string, body []byte, unix int64) {
		_ = alerts.Verify(secret, header, body, time.Unix(unix, 0), time.Minute)
		at := time.Unix(unix%(1<<33), 0)
		if err := alerts.Verify(secret, alerts.Sign(secret, at, body), body, at, time.Minute); err != nil {
			t.Fatalf("own signature does not verify: %v", err)
		}
	})
}
