package alerts_test

import (
	"fmt"
	"time"

	"github.com/revloop/revloop/alerts"
)

// A webhook receiver checks X-Revloop-Signature against the raw body with
// the subscription's secret, and rejects stale timestamps.
func ExampleVerify() {
	secret := "whsec_0123456789abcdef0123"
	body := []byte(`{"type":"alert","delivery":7,"attempt":1,"alert":{"kind":"tilt","subject":"bin-0042"}}`)
	sent := time.Unix(1772438400, 0)
	header := alerts.Sign(secret, sent, body) // what revloop sends

	fmt.Println(alerts.Verify(secret, header, body, sent.Add(10*time.Second), 5*time.Minute))
	fmt.Println(alerts.Verify(secret, header, []byte(`{"forged":true}`), sent, 5*time.Minute))
	fmt.Println(alerts.Verify(secret, header, body, sent.Add(time.Hour), 5*time.Minute))
	// Output:
	// <nil>
	// webhook signature does not verify
	// webhook signature does not verify: timestamp outside tolerance
}
