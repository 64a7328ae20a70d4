package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/revloop/revloop"
)

// TimeFormat is how readings carry their device-clock timestamp: RFC 3339
// UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// ts is a timestamp that marshals with TimeFormat.
type ts time.Time

func (t ts) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(TimeFormat) + `"`), nil
}

func (t *ts) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = ts(v)
	return nil
}

// finite returns a pointer to v, or nil for NaN/Inf (omitted on the wire).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// gpsWire is the gps channel payload of DESIGN.md.
type gpsWire struct {
	Device     revloop.DeviceID `json:"device"`
	TS         ts               `json:"ts"`
	Lat        float64          `json:"lat"`
	Lon        float64          `json:"lon"`
	SpeedKmh   *float64         `json:"speed_kmh,omitempty"`
	HeadingDeg *float64         `json:"heading_deg,omitempty"`
	HDOP       *float64         `json:"hdop,omitempty"`
	Sats       *int             `json:"sats,omitempty"`
}

// fillWire is the fill channel payload.
type fillWire struct {
	Device     revloop.DeviceID `json:"device"`
	Bin        string           `json:"bin,omitempty"`
	Site       string           `json:"site,omitempty"`
	TS         ts               `json:"ts"`
	LevelPct   *float64         `json:"level_pct,omitempty"`
	DistanceMm *float64         `json:"distance_mm,omitempty"`
	TempC      *float64         `json:"temp_c,omitempty"`
}

// rfidWire is one element of the rfid channel's batch.
type rfidWire struct {
	Device  revloop.DeviceID `json:"device"`
	TS      ts               `json:"ts"`
	EPC     string           `json:"epc"`
	Antenna int              `json:"antenna"`
	RSSIDbm float64          `json:"rssi_dbm"`
}

// weightWire is the weight channel payload.
type weightWire struct {
	Device revloop.DeviceID `json:"device"`
	TS     ts               `json:"ts"`
	Kg     float64          `json:"kg"`
	Stable bool             `json:"stable"`
}

// EncodePosition returns the gps payload of p (NaN fields and Sats < 0 are
// omitted).
func EncodePosition(p revloop.Position) ([]byte, error) {
	w := gpsWire{Device: p.Device, TS: ts(p.Time), Lat: p.Lat, Lon: p.Lon,
		SpeedKmh: finite(p.SpeedKmh), HeadingDeg: finite(p.HeadingDeg), HDOP: finite(p.HDOP)}
	if p.Sats >= 0 {
		w.Sats = &p.Sats
	}
	return json.Marshal(w)
}

// EncodeFill returns the fill payload of f; NaN fields are omitted.
func EncodeFill(f revloop.FillReading) ([]byte, error) {
	return json.Marshal(fillWire{Device: f.Device, Bin: f.Bin, Site: f.Site, TS: ts(f.Time),
		LevelPct: finite(f.LevelPct), DistanceMm: finite(f.DistanceMm), TempC: finite(f.TempC)})
}

// EncodeRFID returns one element of the rfid batch.
func EncodeRFID(r revloop.RFIDRead) ([]byte, error) {
	return json.Marshal(rfidWire{Device: r.Device, TS: ts(r.Time), EPC: r.EPC, Antenna: r.Antenna, RSSIDbm: r.RSSIDbm})
}

// EncodeWeight returns the weight payload.
func EncodeWeight(w revloop.WeightReading) ([]byte, error) {
	return json.Marshal(weightWire{Device: w.Device, TS: ts(w.Time), Kg: w.Kg, Stable: w.Stable})
}

// Record is one queued reading: the topic it goes to and its JSON object.
type Record struct {
	Topic string
	JSON  []byte
}

var errRecord = errors.New("bridge: malformed queue record")

// MarshalRecord encodes a record for the queue: topic, newline, JSON.
func MarshalRecord(topic string, obj []byte) []byte {
	b := make([]byte, 0, len(topic)+1+len(obj))
	b = append(b, topic...)
	b = append(b, '\n')
	return append(b, obj...)
}

// UnmarshalRecord decodes a queue record.
func UnmarshalRecord(b []byte) (Record, error) {
	i := bytes.IndexByte(b, '\n')
	if i <= 0 || i == len(b)-1 {
		return Record{}, fmt.Errorf("%w: %d bytes", errRecord, len(b))
	}
	return Record{Topic: string(b[:i]), JSON: b[i+1:]}, nil
}

// batchable reports whether a channel's payload may be a JSON array; the
// weight channel carries single readings.
func batchable(c revloop.Channel) bool { return c != revloop.ChannelWeight }

// LevelPct converts a distance from the sensor to the contents into a fill
// level: 0 % at depthMm (empty), 100 % at fullMm (the sensor's blind zone),
// clamped to 0..100.
func LevelPct(distanceMm, depthMm, fullMm float64) float64 {
	l := (depthMm - distanceMm) / (depthMm - fullMm) * 100
	return math.Max(0, math.Min(100, l))
}
