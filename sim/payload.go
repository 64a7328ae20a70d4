package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// fix is one true-to-device GNSS fix of a tracker.
type fix struct {
	t          time.Time
	lat, lon   float64
	speedKmh   float64
	headingDeg float64
	hdop       float64
	sats       int
	odometerKm float64
	ignition   bool
	seq        uint64
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// tsValue renders t as RFC 3339 with milliseconds, or as Unix milliseconds.
func tsValue(t time.Time, ms bool) any {
	if ms {
		return t.UnixMilli()
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

type gpsJSON struct {
	TS         any     `json:"ts"`
	Seq        uint64  `json:"seq"`
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	SpeedKmh   float64 `json:"speed_kmh"`
	HeadingDeg float64 `json:"heading_deg"`
	HDOP       float64 `json:"hdop"`
	Sats       int     `json:"sats"`
	OdometerKm float64 `json:"odometer_km"`
	Ignition   bool    `json:"ignition"`
}

func (f fix) json(ms bool) gpsJSON {
	return gpsJSON{TS: tsValue(f.t, ms), Seq: f.seq, Lat: round(f.lat, 6), Lon: round(f.lon, 6),
		SpeedKmh: round(f.speedKmh, 1), HeadingDeg: round(f.headingDeg, 1), HDOP: round(f.hdop, 1),
		Sats: f.sats, OdometerKm: round(f.odometerKm, 3), Ignition: f.ignition}
}

// encodeGPSJSON encodes one fix as an object, several as an array.
func encodeGPSJSON(fixes []fix, ms bool) []byte {
	if len(fixes) == 1 {
		b, _ := json.Marshal(fixes[0].json(ms))
		return b
	}
	arr := make([]gpsJSON, len(fixes))
	for i, f := range fixes {
		arr[i] = f.json(ms)
	}
	b, _ := json.Marshal(arr)
	return b
}

func nmeaChecksum(body string) string {
	var cs byte
	for i := 0; i < len(body); i++ {
		cs ^= body[i]
	}
	return fmt.Sprintf("%02X", cs)
}

func nmeaCoord(v float64, pos, neg string, degDigits int) (string, string) {
	hemi := pos
	if v < 0 {
		hemi, v = neg, -v
	}
	d := math.Floor(v)
	m := (v - d) * 60
	return fmt.Sprintf("%0*d%07.4f", degDigits, int(d), m), hemi
}

// encodeNMEA encodes a fix as an RMC and a GGA sentence, CRLF terminated.
func encodeNMEA(f fix) []byte {
	t := f.t.UTC()
	hms := fmt.Sprintf("%02d%02d%02d.%02d", t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7)
	lat, ns := nmeaCoord(f.lat, "N", "S", 2)
	lon, ew := nmeaCoord(f.lon, "E", "W", 3)
	rmc := fmt.Sprintf("GPRMC,%s,A,%s,%s,%s,%s,%.1f,%.1f,%02d%02d%02d,,,A", hms, lat, ns, lon, ew,
		f.speedKmh/1.852, f.headingDeg, t.Day(), int(t.Month()), t.Year()%100)
	gga := fmt.Sprintf("GPGGA,%s,%s,%s,%s,%s,1,%02d,%.1f,%.1f,M,46.9,M,,", hms, lat, ns, lon, ew, f.sats, f.hdop, 8.0)
	var sb strings.Builder
	sb.WriteString("$" + rmc + "*" + nmeaChecksum(rmc) + "\r\n")
	sb.WriteString("$" + gga + "*" + nmeaChecksum(gga) + "\r\n")
	return []byte(sb.String())
}

// senmlRecord is one record of a SenML pack (RFC 8428).
type senmlRecord struct {
	BN string   `json:"bn,omitempty"`
	BT float64  `json:"bt,omitempty"`
	N  string   `json:"n"`
	U  string   `json:"u,omitempty"`
	V  *float64 `json:"v,omitempty"`
	VB *bool    `json:"vb,omitempty"`
}

func fv(x float64) *float64 { return &x }

func senmlBT(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// encodeGPSSenML encodes a fix as a SenML pack with base name
// "urn:dev:id:<device>:" and base time in Unix seconds.
func encodeGPSSenML(dev revloop.DeviceID, f fix) []byte {
	ign := f.ignition
	recs := []senmlRecord{
		{BN: "urn:dev:id:" + string(dev) + ":", BT: senmlBT(f.t), N: "lat", U: "lat", V: fv(round(f.lat, 6))},
		{N: "lon", U: "lon", V: fv(round(f.lon, 6))},
		{N: "speed_kmh", U: "km/h", V: fv(round(f.speedKmh, 1))},
		{N: "heading_deg", U: "deg", V: fv(round(f.headingDeg, 1))},
		{N: "hdop", V: fv(round(f.hdop, 1))},
		{N: "sats", V: fv(float64(f.sats))},
		{N: "odometer_km", U: "km", V: fv(round(f.odometerKm, 3))},
		{N: "ignition", VB: &ign},
	}
	b, _ := json.Marshal(recs)
	return b
}

// fillSample is one reading of a fill sensor as the device reports it.
type fillSample struct {
	t          time.Time
	levelPct   float64
	distanceMm float64
	tempC      float64
	batteryV   float64
	tiltDeg    float64
	seq        uint64
}

type fillJSON struct {
	TS         any     `json:"ts"`
	Seq        uint64  `json:"seq"`
	LevelPct   float64 `json:"level_pct"`
	DistanceMm float64 `json:"distance_mm"`
	TempC      float64 `json:"temp_c"`
	BatteryV   float64 `json:"battery_v"`
	TiltDeg    float64 `json:"tilt_deg"`
}

func (s fillSample) json(ms bool) fillJSON {
	return fillJSON{TS: tsValue(s.t, ms), Seq: s.seq, LevelPct: round(s.levelPct, 1), DistanceMm: math.Round(s.distanceMm),
		TempC: round(s.tempC, 1), BatteryV: round(s.batteryV, 2), TiltDeg: round(s.tiltDeg, 1)}
}

func encodeFillJSON(ss []fillSample, ms bool) []byte {
	if len(ss) == 1 {
		b, _ := json.Marshal(ss[0].json(ms))
		return b
	}
	arr := make([]fillJSON, len(ss))
	for i, s := range ss {
		arr[i] = s.json(ms)
	}
	b, _ := json.Marshal(arr)
	return b
}

// encodeFillSenML encodes readings as one SenML pack with base name
// "urn:dev:id:<device>:"; each reading after the first carries its time
// relative to the base time in "t".
func encodeFillSenML(dev revloop.DeviceID, ss []fillSample) []byte {
	return encodeSenMLWithTimes(dev, ss)
}

type senmlTimed struct {
	BN string   `json:"bn,omitempty"`
	BT float64  `json:"bt,omitempty"`
	N  string   `json:"n"`
	U  string   `json:"u,omitempty"`
	T  float64  `json:"t,omitempty"`
	V  *float64 `json:"v,omitempty"`
}

func encodeSenMLWithTimes(dev revloop.DeviceID, ss []fillSample) []byte {
	bt := senmlBT(ss[0].t)
	var recs []senmlTimed
	for i, s := range ss {
		t := round(senmlBT(s.t)-bt, 3)
		r := senmlTimed{N: "level_pct", U: "%", T: t, V: fv(round(s.levelPct, 1))}
		if i == 0 {
			r.BN, r.BT = "urn:dev:id:"+string(dev)+":", bt
		}
		recs = append(recs, r,
			senmlTimed{N: "distance_mm", U: "mm", T: t, V: fv(math.Round(s.distanceMm))},
			senmlTimed{N: "temp_c", U: "Cel", T: t, V: fv(round(s.tempC, 1))},
			senmlTimed{N: "battery_v", U: "V", T: t, V: fv(round(s.batteryV, 2))},
			senmlTimed{N: "tilt_deg", U: "deg", T: t, V: fv(round(s.tiltDeg, 1))},
		)
	}
	b, _ := json.Marshal(recs)
	return b
}

// encodeFillLwM2M encodes a reading as the SenML JSON representation of
// LwM2M object 3435 (Filling Level): base name "/3435/0/", resources
// 0 container height (cm), 2 actual fill percentage, 3 actual fill level
// (cm), plus object 3303 (temperature) resource 5700.
func encodeFillLwM2M(depthMm float64, s fillSample) []byte {
	recs := []senmlRecord{
		{BN: "/3435/0/", BT: senmlBT(s.t), N: "0", V: fv(math.Round(depthMm / 10))},
		{N: "2", V: fv(round(s.levelPct, 1))},
		{N: "3", V: fv(round((depthMm-s.distanceMm)/10, 1))},
		{BN: "/3303/0/", N: "5700", V: fv(round(s.tempC, 1))},
	}
	b, _ := json.Marshal(recs)
	return b
}

// tagRead is one raw read of a gate reader.
type tagRead struct {
	t       time.Time
	epc     string
	antenna int
	rssiDbm float64
}

type rfidReadJSON struct {
	TS      string  `json:"ts"`
	EPC     string  `json:"epc"`
	Antenna int     `json:"antenna"`
	RSSIDbm float64 `json:"rssi_dbm"`
}

type rfidBatchJSON struct {
	TS    string         `json:"ts"`
	Seq   uint64         `json:"seq"`
	Reads []rfidReadJSON `json:"reads"`
}

// encodeRFID encodes a batch of raw tag reads.
func encodeRFID(reads []tagRead, seq uint64) []byte {
	b := rfidBatchJSON{TS: tsValue(reads[0].t, false).(string), Seq: seq}
	for _, r := range reads {
		b.Reads = append(b.Reads, rfidReadJSON{TS: tsValue(r.t, false).(string), EPC: r.epc, Antenna: r.antenna, RSSIDbm: round(r.rssiDbm, 1)})
	}
	out, _ := json.Marshal(b)
	return out
}

type weightJSON struct {
	TS     string  `json:"ts"`
	Seq    uint64  `json:"seq"`
	Kg     float64 `json:"kg"`
	Stable bool    `json:"stable"`
}

func encodeWeight(t time.Time, kg float64, stable bool, seq uint64) []byte {
	b, _ := json.Marshal(weightJSON{TS: tsValue(t, false).(string), Seq: seq, Kg: kg, Stable: stable})
	return b
}

type statusJSON struct {
	TS            any     `json:"ts"`
	BatteryV      float64 `json:"battery_v"`
	RSSIDbm       float64 `json:"rssi_dbm"`
	Firmware      string  `json:"firmware"`
	UptimeS       float64 `json:"uptime_s"`
	Online        bool    `json:"online"`
	ConfigVersion int64   `json:"config_version,omitempty"`
}

func encodeStatus(t time.Time, batteryV, rssi float64, firmware string, uptime time.Duration) []byte {
	b, _ := json.Marshal(statusJSON{TS: tsValue(t, true), BatteryV: round(batteryV, 2), RSSIDbm: math.Round(rssi),
		Firmware: firmware, UptimeS: math.Round(uptime.Seconds()), Online: true})
	return b
}

// OfflinePayload is the last-will payload of every simulated device.
var OfflinePayload = []byte(`{"online":false}`)
