package fleet_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/revloop/revloop/fleet"
)

// FuzzSiteHours decodes arbitrary request bodies as site hours: Validate
// either rejects them or accepts hours whose Open never panics.
func FuzzSiteHours(f *testing.F) {
	f.Add([]byte(`{"timezone":"Europe/Brussels","weekly":{"mon":[{"open":"07:00","close":"18:00"}]}}`), int64(1767225600))
	f.Add([]byte(`{"weekly":{"sun":[{"open":"00:00","close":"24:00"}]}}`), int64(0))
	f.Add([]byte(`{"timezone":"../../etc/passwd"}`), int64(-5))
	f.Fuzz(func(t *testing.T, body []byte, unix int64) {
		var h fleet.SiteHours
		if json.Unmarshal(body, &h) != nil || h.Validate() != nil {
			return
		}
		h.Open(time.Unix(unix, 0))
	})
}
