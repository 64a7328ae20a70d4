package ingest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

// fuzzDecoder checks that a decoder never panics, that a JSON payload it
// accepts is valid JSON (the one-pass decoders check syntax as they go),
// and that what it accepts and Validate passes can be turned into storable
// points.
func fuzzDecoder(f *testing.F, ch revloop.Channel, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	dec, _ := Decoder(ch)
	f.Fuzz(func(t *testing.T, p []byte) {
		rec, err := dec("dev-1", p, recvd)
		if err != nil {
			if reason, _ := ReasonOf(err); reason == "" {
				t.Fatalf("error without reason: %v", err)
			}
			return
		}
		if tp := bytes.TrimSpace(p); len(tp) > 0 && (tp[0] == '{' || tp[0] == '[') && !json.Valid(p) {
			t.Fatalf("accepted invalid JSON %q", p)
		}
		rec.Device, rec.Channel = "dev-1", ch
		if err := Validate(&rec, recvd, Limits{MaxSkew: time.Hour}); err != nil {
			return
		}
		for _, pt := range AppendPoints(nil, &rec) {
			if pt.Device != "dev-1" || pt.Time.IsZero() {
				t.Fatalf("bad point %+v", pt)
			}
		}
	})
}

func FuzzDecodeGPSJSON(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelGPS,
		`{"ts":"2026-03-03T07:59:00.123Z","lat":48.1,"lon":11.5,"speed_kmh":42.5,"sats":9,"ignition":true}`,
		`[{"ts":1772524740000,"lat":1,"lon":2},{"ts":1772524741000,"lat":1.1,"lon":2.1}]`,
		`{"ts":1772524740000,"lat":1e400,"lon":"\u00e9"}`)
}

func FuzzDecodeNMEA(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelGPS,
		nmeaLine("GPRMC,075959.50,A,4807.0380,N,01131.0000,E,10.8,84.4,030326,,,A")+
			nmeaLine("GPGGA,075959.50,4807.0380,N,01131.0000,E,1,08,0.9,545.4,M,46.9,M,,"),
		nmeaLine("GNRMC,235959,V,,,,,,,010126,,,N"),
		"$GPGGA,,,,,,0,,,,,,,,*66\r\n")
}

func FuzzDecodeSenML(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelGPS,
		`[{"bn":"urn:dev:id:dev-1:","bt":1772524740.5,"n":"lat","v":48.1},{"n":"lon","v":11.5},{"n":"ignition","vb":false}]`,
		`[{"bn":"urn:dev:id:dev-1:","bt":1772524740,"n":"lat","t":-1,"v":1},{"n":"lon","v":2,"t":1e9}]`)
}

func FuzzDecodeFill(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelFill,
		`{"ts":"2026-03-03T07:00:00Z","level_pct":55.5,"distance_mm":400,"temp_c":12,"battery_v":3.6,"tilt_deg":2}`,
		`[{"bn":"/3435/0/","bt":1772520000,"n":"0","v":120},{"n":"2","v":25},{"n":"3","v":30},{"bn":"/3303/0/","n":"5700","v":18.5}]`,
		`[{"bn":"urn:dev:id:dev-1:","bt":1772520000,"n":"level_pct","v":10},{"n":"level_pct","t":60,"v":11}]`)
}

func FuzzDecodeRFID(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelRFID,
		`{"ts":"2026-03-03T07:00:00Z","seq":3,"reads":[{"epc":"e2801160","antenna":1,"rssi_dbm":-61.5},{"ts":"2026-03-03T07:00:01Z","epc":"E2801161","antenna":2}]}`,
		`[{"ts":1772520000000,"epc":"E280","antenna":1},{"ts":1772520000000,"epc":"E281","antenna":1}]`)
}

func FuzzDecodeWeight(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelWeight,
		`{"ts":"2026-03-03T07:00:00Z","kg":12840.5,"stable":true}`,
		`[{"ts":1772520000000,"kg":0}]`)
}

func FuzzDecodeStatus(f *testing.F) {
	fuzzDecoder(f, revloop.ChannelStatus,
		`{"ts":1772520000000,"battery_v":12.6,"rssi_dbm":-70,"firmware":"1.2.3","uptime_s":3600,"online":true}`,
		`{"online":false}`, `{"firmware":"\ud83d\ude00\ud800"}`)
}
