package ingest

import (
	"testing"
	"time"

	"github.com/revloop/revloop"
)

// Array payloads are classified (isSenML) before their syntax is checked,
// so the walkers of checked JSON must stay within bounds on any bytes, and
// a truncated payload must be reported as a syntax error.
func TestTruncatedArrayPayloads(t *testing.T) {
	cases := []struct {
		name    string
		ch      revloop.Channel
		payload string
	}{
		{"gps key without colon", revloop.ChannelGPS, `[{""`},
		{"fill key without colon", revloop.ChannelFill, `[{"00"`},
		{"gps key then colon", revloop.ChannelGPS, `[{"n":`},
		{"gps unterminated key", revloop.ChannelGPS, `[{"n`},
		{"rfid open object", revloop.ChannelRFID, `[{`},
		{"weight dangling comma", revloop.ChannelWeight, `[{"kg":1},`},
		{"fill escape at end", revloop.ChannelFill, `[{"n":"\`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isSenML([]byte(c.payload))
			dec, _ := Decoder(c.ch)
			_, err := dec("dev-1", []byte(c.payload), time.Now())
			reason, detail := ReasonOf(err)
			if _, jerr := jsonTop([]byte(c.payload)); err == nil || reason != ReasonMalformed || detail != jerr.Error() {
				t.Fatalf("decode %q: %v, want the syntax error %v", c.payload, err, jerr)
			}
		})
	}
}
