package ingest

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var recvd = time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)

func nmeaLine(body string) string {
	var cs byte
	for i := 0; i < len(body); i++ {
		cs ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, cs)
}

func TestDecodeAccepts(t *testing.T) {
	rmc := nmeaLine("GPRMC,075959.50,A,4807.0380,N,01131.0000,E,10.8,84.4,030326,,,A")
	gga := nmeaLine("GPGGA,075959.50,4807.0380,N,01131.0000,E,1,08,0.9,545.4,M,46.9,M,,")
	tests := []struct {
		name    string
		topic   string
		payload string
		check   func(t *testing.T, r Record)
	}{
		{"gps object rfc3339", "revloop/v1/truck-1/gps", `{"ts":"2026-03-03T07:59:00.123Z","lat":48.1,"lon":11.5,"speed_kmh":42.5,"sats":9,"ignition":true,"seq":7}`,
			func(t *testing.T, r Record) {
				p := r.Positions[0]
				if p.Lat != 48.1 || p.Lon != 11.5 || p.SpeedKmh != 42.5 || p.Sats != 9 || p.Ignition == nil || !*p.Ignition {
					t.Errorf("got %+v", p)
				}
				if !p.Time.Equal(time.Date(2026, 3, 3, 7, 59, 0, 123e6, time.UTC)) {
					t.Errorf("time %v", p.Time)
				}
				if !math.IsNaN(p.HDOP) {
					t.Errorf("absent hdop = %v, want NaN", p.HDOP)
				}
			}},
		{"gps array unix ms", "revloop/v1/truck-1/gps", `[{"ts":1772524740000,"lat":1,"lon":2},{"ts":1772524741000,"lat":1.1,"lon":2.1}]`,
			func(t *testing.T, r Record) {
				if len(r.Positions) != 2 || r.Positions[1].Time.UnixMilli() != 1772524741000 {
					t.Errorf("got %+v", r.Positions)
				}
			}},
		{"gps nmea rmc+gga", "revloop/v1/truck-1/gps", rmc + gga,
			func(t *testing.T, r Record) {
				if len(r.Positions) != 1 {
					t.Fatalf("got %d fixes", len(r.Positions))
				}
				p := r.Positions[0]
				if math.Abs(p.Lat-48.1173) > 1e-4 || math.Abs(p.Lon-11.5166667) > 1e-4 || p.Sats != 8 || p.HDOP != 0.9 {
					t.Errorf("got %+v", p)
				}
				if math.Abs(p.SpeedKmh-20.0016) > 1e-3 {
					t.Errorf("speed %v", p.SpeedKmh)
				}
				if !p.Time.Equal(time.Date(2026, 3, 3, 7, 59, 59, 500e6, time.UTC)) {
					t.Errorf("time %v", p.Time)
				}
			}},
		{"gps senml", "revloop/v1/truck-1/gps", `[{"bn":"urn:dev:id:truck-1:","bt":1772524740.5,"n":"lat","v":48.1},{"n":"lon","v":11.5},{"n":"ignition","vb":false}]`,
			func(t *testing.T, r Record) {
				p := r.Positions[0]
				if p.Lat != 48.1 || p.Lon != 11.5 || p.Ignition == nil || *p.Ignition || p.Time.UnixMilli() != 1772524740500 {
					t.Errorf("got %+v", p)
				}
			}},
		{"fill json", "revloop/v1/bin-1/fill", `{"ts":"2026-03-03T07:00:00Z","level_pct":55.5,"distance_mm":400,"temp_c":12,"battery_v":3.6,"tilt_deg":2}`,
			func(t *testing.T, r Record) {
				f := r.Fills[0]
				if f.LevelPct != 55.5 || f.DistanceMm != 400 || f.TempC != 12 || f.BatteryV != 3.6 || f.TiltDeg != 2 {
					t.Errorf("got %+v", f)
				}
			}},
		{"fill senml relative times", "revloop/v1/bin-1/fill", `[{"bn":"urn:dev:id:bin-1:","bt":1772520000,"n":"level_pct","v":10},{"n":"level_pct","t":60,"v":11}]`,
			func(t *testing.T, r Record) {
				if len(r.Fills) != 2 || r.Fills[1].LevelPct != 11 || r.Fills[1].Time.Sub(r.Fills[0].Time) != time.Minute {
					t.Errorf("got %+v", r.Fills)
				}
			}},
		{"fill lwm2m 3435", "revloop/v1/bin-1/fill", `[{"bn":"/3435/0/","bt":1772520000,"n":"0","v":120},{"n":"2","v":25},{"n":"3","v":30},{"bn":"/3303/0/","n":"5700","v":18.5}]`,
			func(t *testing.T, r Record) {
				f := r.Fills[0]
				if f.LevelPct != 25 || f.DistanceMm != 900 || f.TempC != 18.5 {
					t.Errorf("got %+v", f)
				}
			}},
		{"rfid batch", "revloop/v1/gate-1/rfid", `{"ts":"2026-03-03T07:00:00Z","seq":3,"reads":[{"epc":"e2801160","antenna":1,"rssi_dbm":-61.5},{"ts":"2026-03-03T07:00:01Z","epc":"E2801161","antenna":2}]}`,
			func(t *testing.T, r Record) {
				if len(r.Reads) != 2 || r.Reads[0].EPC != "E2801160" || r.Reads[0].Antenna != 1 || r.Reads[1].Time.Second() != 1 {
					t.Errorf("got %+v", r.Reads)
				}
			}},
		{"weight", "revloop/v1/scale-1/weight", `{"ts":"2026-03-03T07:00:00Z","kg":12840.5,"stable":true}`,
			func(t *testing.T, r Record) {
				if r.Weights[0].Kg != 12840.5 || !r.Weights[0].Stable {
					t.Errorf("got %+v", r.Weights)
				}
			}},
		{"status", "revloop/v1/truck-1/status", `{"ts":1772520000000,"battery_v":12.6,"rssi_dbm":-70,"firmware":"1.2.3","uptime_s":3600,"online":true}`,
			func(t *testing.T, r Record) {
				if s := r.Status; s == nil || s.Firmware != "1.2.3" || !s.Online || s.UptimeS != 3600 {
					t.Errorf("got %+v", r.Status)
				}
			}},
		{"status last will", "revloop/v1/truck-1/status", `{"online":false}`,
			func(t *testing.T, r Record) {
				if s := r.Status; s == nil || s.Online || !s.Time.Equal(recvd) {
					t.Errorf("got %+v", r.Status)
				}
			}},
		{"escaped strings", "revloop/v1/truck-1/status", `{"ts":1772520000000,"firmware":"v\u00e9 \"x\""}`,
			func(t *testing.T, r Record) {
				if r.Status.Firmware != `vé "x"` {
					t.Errorf("firmware %q", r.Status.Firmware)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(tc.topic, []byte(tc.payload), recvd)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := Validate(&r, recvd, Limits{}); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tc.check(t, r)
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	rmc := nmeaLine("GPRMC,075959.50,A,4807.0380,N,01131.0000,E,10.8,84.4,030326,,,A")
	badCS := strings.Replace(rmc, "*", "*F", 1)[:len(rmc)-2] + "\r\n"
	tests := []struct {
		name, topic, payload, reason string
	}{
		{"empty", "revloop/v1/truck-1/gps", ``, ReasonMalformed},
		{"garbage", "revloop/v1/truck-1/gps", "\x00\x01garbage\xff", ReasonMalformed},
		{"truncated json", "revloop/v1/truck-1/gps", `{"ts":"2026-03-03T07:59:00Z","lat":48.1,"lo`, ReasonMalformed},
		{"trailing data", "revloop/v1/truck-1/gps", `{"ts":1772520000000,"lat":1,"lon":2} x`, ReasonMalformed},
		{"wrong type", "revloop/v1/truck-1/gps", `{"ts":1772520000000,"lat":"north","lon":2}`, ReasonMalformed},
		{"missing ts", "revloop/v1/truck-1/gps", `{"lat":1,"lon":2}`, ReasonMissingTS},
		{"bad ts", "revloop/v1/truck-1/gps", `{"ts":"yesterday","lat":1,"lon":2}`, ReasonMalformed},
		{"lat out of range", "revloop/v1/truck-1/gps", `{"ts":1772520000000,"lat":123.456,"lon":2}`, ReasonOutOfRange},
		{"future", "revloop/v1/truck-1/gps", `{"ts":"2026-03-05T08:00:00Z","lat":1,"lon":2}`, ReasonFutureTS},
		{"ancient", "revloop/v1/truck-1/gps", `{"ts":1000,"lat":1,"lon":2}`, ReasonOutOfRange},
		{"device mismatch", "revloop/v1/truck-1/gps", `{"device":"truck-2","ts":1772520000000,"lat":1,"lon":2}`, ReasonDeviceMismatch},
		{"senml device mismatch", "revloop/v1/truck-1/gps", `[{"bn":"urn:dev:id:truck-2:","bt":1772524740,"n":"lat","v":1},{"n":"lon","v":2}]`, ReasonDeviceMismatch},
		{"senml relative time", "revloop/v1/truck-1/gps", `[{"n":"lat","v":1},{"n":"lon","v":2}]`, ReasonMissingTS},
		{"nmea bad checksum", "revloop/v1/truck-1/gps", badCS, ReasonBadChecksum},
		{"nmea no checksum", "revloop/v1/truck-1/gps", "$GPRMC,075959.50,A,4807.0380,N,01131.0000,E,10.8,84.4,030326,,,A\r\n", ReasonBadChecksum},
		{"bad topic", "revloop/v1/Bad_Device!/gps", `{}`, ReasonBadTopic},
		{"unknown channel", "revloop/v1/truck-1/temperature", `{}`, ReasonUnknownChannel},
		{"fill over 100", "revloop/v1/bin-1/fill", `{"ts":1772520000000,"level_pct":250}`, ReasonOutOfRange},
		{"rfid bad epc", "revloop/v1/gate-1/rfid", `{"ts":1772520000000,"reads":[{"epc":"not-hex!","antenna":1,"rssi_dbm":-40}]}`, ReasonOutOfRange},
		{"rfid bad antenna", "revloop/v1/gate-1/rfid", `{"ts":1772520000000,"reads":[{"epc":"E280","antenna":-3}]}`, ReasonOutOfRange},
		{"rfid no reads", "revloop/v1/gate-1/rfid", `{"ts":1772520000000}`, ReasonMalformed},
		{"weight negative", "revloop/v1/scale-1/weight", `{"ts":1772520000000,"kg":-5000}`, ReasonOutOfRange},
		{"status battery", "revloop/v1/truck-1/status", `{"ts":1772520000000,"battery_v":-42}`, ReasonOutOfRange},
		{"deep nesting", "revloop/v1/truck-1/status", strings.Repeat("[", 100) + strings.Repeat("]", 100), ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(tc.topic, []byte(tc.payload), recvd)
			if err == nil {
				err = Validate(&r, recvd, Limits{})
			}
			if err == nil {
				t.Fatalf("accepted %q: %+v", tc.payload, r)
			}
			if got, detail := ReasonOf(err); got != tc.reason {
				t.Errorf("reason = %s (%s), want %s", got, detail, tc.reason)
			}
		})
	}
}
