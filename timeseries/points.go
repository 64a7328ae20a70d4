package timeseries

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/revloop/revloop"
)

// Kind is the type of a field's value.
type Kind string

// The field kinds.
const (
	KindFloat  Kind = "float"
	KindInt    Kind = "int"
	KindBool   Kind = "bool"
	KindString Kind = "string"
)

// KindOf returns the kind of a field value, or "" for an unsupported type.
func KindOf(v any) Kind {
	switch v.(type) {
	case float64:
		return KindFloat
	case int64:
		return KindInt
	case bool:
		return KindBool
	case string:
		return KindString
	}
	return ""
}

// Schema fixes the kind of every known field of the known measurements
// (DESIGN.md, "Time series"). InfluxDB rejects a write whose field kind
// differs from what a shard already holds, so Validate enforces these kinds
// for every backend alike; other fields and measurements are free.
var Schema = map[string]map[string]Kind{
	revloop.MeasurementPosition: {
		"lat": KindFloat, "lon": KindFloat, "speed_kmh": KindFloat, "heading_deg": KindFloat,
		"hdop": KindFloat, "sats": KindInt, "odometer_km": KindFloat, "ignition": KindBool,
	},
	revloop.MeasurementFill: {
		"level_pct": KindFloat, "distance_mm": KindFloat, "temp_c": KindFloat, "battery_v": KindFloat, "tilt_deg": KindFloat,
	},
	revloop.MeasurementRFIDRead: {"epc": KindString, "rssi_dbm": KindFloat},
	revloop.MeasurementWeight:   {"kg": KindFloat, "stable": KindBool},
	revloop.MeasurementDeviceStatus: {
		"battery_v": KindFloat, "rssi_dbm": KindFloat, "firmware": KindString, "uptime_s": KindFloat,
		"online": KindBool, "config_version": KindInt,
	},
}

// ErrInvalidPoint is wrapped by Validate and returned (inside a rejected
// *WriteError) by every backend's Write for a point that no backend could
// store faithfully.
var ErrInvalidPoint = errors.New("invalid point")

// MinTime and MaxTime bound the timestamps a point may carry: both backends
// store nanoseconds since the Unix epoch in an int64.
var (
	MinTime = time.Unix(0, math.MinInt64+2).UTC()
	MaxTime = time.Unix(0, math.MaxInt64-1).UTC()
)

// Validate reports why p cannot be stored, or nil. A valid point has a
// measurement name of [a-z0-9_]{1,64}, a valid device id, tags sorted by
// key with non-empty keys and values and no "device" key, at least one
// field, unique field keys, field values of type float64 (finite), int64,
// bool or string (at most 64 KiB) of the kind Schema gives, text that is UTF-8 without control
// characters (tag values also without backslashes), and a timestamp between MinTime and
// MaxTime.
func Validate(p Point) error {
	if !validName(p.Measurement) {
		return fmt.Errorf("%w: measurement %q must match [a-z0-9_]{1,64}", ErrInvalidPoint, p.Measurement)
	}
	if _, err := revloop.ParseDeviceID(string(p.Device)); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidPoint, p.Measurement, err)
	}
	for i, t := range p.Tags {
		switch {
		case !validKey(t.Key):
			return fmt.Errorf("%w: %s %s: tag key %q must match [a-z0-9_]{1,64}", ErrInvalidPoint, p.Measurement, p.Device, t.Key)
		case t.Key == "device":
			return fmt.Errorf("%w: %s %s: tag key \"device\" is reserved", ErrInvalidPoint, p.Measurement, p.Device)
		case t.Value == "" || len(t.Value) > 256:
			return fmt.Errorf("%w: %s %s: tag %s must have 1 to 256 bytes", ErrInvalidPoint, p.Measurement, p.Device, t.Key)
		case !cleanText(t.Value, false) || strings.ContainsRune(t.Value, '\\'):
			return fmt.Errorf("%w: %s %s: tag %s must be UTF-8 without control characters or backslashes", ErrInvalidPoint, p.Measurement, p.Device, t.Key)
		case i > 0 && p.Tags[i-1].Key >= t.Key:
			return fmt.Errorf("%w: %s %s: tags must be sorted by unique key", ErrInvalidPoint, p.Measurement, p.Device)
		}
	}
	if len(p.Fields) == 0 {
		return fmt.Errorf("%w: %s %s: no fields", ErrInvalidPoint, p.Measurement, p.Device)
	}
	schema := Schema[p.Measurement]
	for i, f := range p.Fields {
		if !validKey(f.Key) {
			return fmt.Errorf("%w: %s %s: field key %q must match [a-z0-9_]{1,64}", ErrInvalidPoint, p.Measurement, p.Device, f.Key)
		}
		for _, g := range p.Fields[:i] {
			if g.Key == f.Key {
				return fmt.Errorf("%w: %s %s: field %s appears twice", ErrInvalidPoint, p.Measurement, p.Device, f.Key)
			}
		}
		switch v := f.Value.(type) {
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: %s %s: field %s is not finite", ErrInvalidPoint, p.Measurement, p.Device, f.Key)
			}
		case int64, bool:
		case string:
			if len(v) > 64<<10 {
				return fmt.Errorf("%w: %s %s: field %s longer than 64 KiB", ErrInvalidPoint, p.Measurement, p.Device, f.Key)
			}
			if !cleanText(v, true) {
				return fmt.Errorf("%w: %s %s: field %s must be UTF-8 without control characters", ErrInvalidPoint, p.Measurement, p.Device, f.Key)
			}
		default:
			return fmt.Errorf("%w: %s %s: field %s has type %T, want float64, int64, bool or string", ErrInvalidPoint, p.Measurement, p.Device, f.Key, f.Value)
		}
		if want, ok := schema[f.Key]; ok && KindOf(f.Value) != want {
			return fmt.Errorf("%w: %s %s: field %s is %s, the schema says %s", ErrInvalidPoint, p.Measurement, p.Device, f.Key, KindOf(f.Value), want)
		}
	}
	if p.Time.IsZero() || p.Time.Before(MinTime) || p.Time.After(MaxTime) {
		return fmt.Errorf("%w: %s %s: timestamp %s out of range", ErrInvalidPoint, p.Measurement, p.Device, p.Time.Format(time.RFC3339Nano))
	}
	return nil
}

// ValidateBatch validates every point and returns a rejected *WriteError
// naming the first invalid one, or nil.
func ValidateBatch(points []Point) error {
	for i, p := range points {
		if err := Validate(p); err != nil {
			return &WriteError{Err: fmt.Errorf("point %d: %w", i, err)}
		}
	}
	return nil
}

// cleanText reports whether s is valid UTF-8 without control characters
// (tabs allowed when tab is set).
func cleanText(s string, tab bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && !(tab && r == '\t')) || r == 0x7f {
			return false
		}
	}
	return true
}

func validName(s string) bool { return validKey(s) }

func validKey(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SortTags sorts tags by key in place and returns them.
func SortTags(tags []Tag) []Tag {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}

// Tag returns the value of p's tag key ("device" included) and whether p has it.
func (p Point) Tag(key string) (string, bool) {
	if key == "device" {
		return string(p.Device), p.Device != ""
	}
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Field returns the value of p's field key and whether p has it.
func (p Point) Field(key string) (any, bool) {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// float returns a numeric field as float64, or NaN when it is absent or not
// numeric.
func (p Point) float(key string) float64 {
	v, _ := p.Field(key)
	switch v := v.(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	return math.NaN()
}

// int returns a numeric field as int64 and whether it is present.
func (p Point) int(key string) (int64, bool) {
	v, _ := p.Field(key)
	switch v := v.(type) {
	case int64:
		return v, true
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return int64(v), true
		}
	}
	return 0, false
}

func (p Point) bool(key string) (bool, bool) {
	v, _ := p.Field(key)
	b, ok := v.(bool)
	return b, ok
}

// str returns a string field, or the tag of that name when there is no such
// field (readers that flatten tags into columns store them as fields).
func (p Point) str(key string) string {
	if v, ok := p.Field(key); ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	s, _ := p.Tag(key)
	return s
}

// tagOrField returns tag key, or a string field of that name.
func (p Point) tagOrField(key string) string {
	if s, ok := p.Tag(key); ok {
		return s
	}
	return p.str(key)
}

func appendFloat(fs []Field, key string, v float64) []Field {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fs
	}
	return append(fs, Field{Key: key, Value: v})
}

// PositionPoint returns the position point of pos. Optional values the device
// did not report (NaN floats, negative Sats, nil Ignition) are left out, so a
// reader gets them back as NaN, -1 and nil.
func PositionPoint(pos revloop.Position) Point {
	p := Point{Measurement: revloop.MeasurementPosition, Device: pos.Device, Time: pos.Time}
	if pos.Vehicle != "" {
		p.Tags = []Tag{{Key: "vehicle", Value: pos.Vehicle}}
	}
	fs := make([]Field, 0, 8)
	fs = appendFloat(fs, "lat", pos.Lat)
	fs = appendFloat(fs, "lon", pos.Lon)
	fs = appendFloat(fs, "speed_kmh", pos.SpeedKmh)
	fs = appendFloat(fs, "heading_deg", pos.HeadingDeg)
	fs = appendFloat(fs, "hdop", pos.HDOP)
	if pos.Sats >= 0 {
		fs = append(fs, Field{Key: "sats", Value: int64(pos.Sats)})
	}
	fs = appendFloat(fs, "odometer_km", pos.OdometerKm)
	if pos.Ignition != nil {
		fs = append(fs, Field{Key: "ignition", Value: *pos.Ignition})
	}
	p.Fields = fs
	return p
}

// PointPosition is the reverse of PositionPoint.
func PointPosition(p Point) revloop.Position {
	pos := revloop.Position{
		Device:     p.Device,
		Vehicle:    p.tagOrField("vehicle"),
		Time:       p.Time.UTC(),
		Lat:        p.float("lat"),
		Lon:        p.float("lon"),
		SpeedKmh:   p.float("speed_kmh"),
		HeadingDeg: p.float("heading_deg"),
		HDOP:       p.float("hdop"),
		Sats:       -1,
		OdometerKm: p.float("odometer_km"),
	}
	if n, ok := p.int("sats"); ok {
		pos.Sats = int(n)
	}
	if b, ok := p.bool("ignition"); ok {
		pos.Ignition = &b
	}
	return pos
}

// FillPoint returns the fill point of r; NaN values are left out.
func FillPoint(r revloop.FillReading) Point {
	p := Point{Measurement: revloop.MeasurementFill, Device: r.Device, Time: r.Time}
	if r.Bin != "" {
		p.Tags = append(p.Tags, Tag{Key: "bin", Value: r.Bin})
	}
	if r.Site != "" {
		p.Tags = append(p.Tags, Tag{Key: "site", Value: r.Site})
	}
	fs := make([]Field, 0, 5)
	fs = appendFloat(fs, "level_pct", r.LevelPct)
	fs = appendFloat(fs, "distance_mm", r.DistanceMm)
	fs = appendFloat(fs, "temp_c", r.TempC)
	fs = appendFloat(fs, "battery_v", r.BatteryV)
	fs = appendFloat(fs, "tilt_deg", r.TiltDeg)
	p.Fields = fs
	return p
}

// PointFill is the reverse of FillPoint; absent values come back as NaN.
func PointFill(p Point) revloop.FillReading {
	return revloop.FillReading{
		Device:     p.Device,
		Bin:        p.tagOrField("bin"),
		Site:       p.tagOrField("site"),
		Time:       p.Time.UTC(),
		LevelPct:   p.float("level_pct"),
		DistanceMm: p.float("distance_mm"),
		TempC:      p.float("temp_c"),
		BatteryV:   p.float("battery_v"),
		TiltDeg:    p.float("tilt_deg"),
	}
}

// RFIDPoint returns the rfid_read point of r; the antenna is a tag, so reads
// of one reader at the same instant on different antennas are kept apart.
func RFIDPoint(r revloop.RFIDRead) Point {
	p := Point{
		Measurement: revloop.MeasurementRFIDRead,
		Device:      r.Device,
		Tags:        []Tag{{Key: "antenna", Value: strconv.Itoa(r.Antenna)}},
		Time:        r.Time,
		Fields:      []Field{{Key: "epc", Value: r.EPC}},
	}
	p.Fields = appendFloat(p.Fields, "rssi_dbm", r.RSSIDbm)
	return p
}

// PointRFID is the reverse of RFIDPoint.
func PointRFID(p Point) revloop.RFIDRead {
	ant, _ := strconv.Atoi(p.tagOrField("antenna"))
	return revloop.RFIDRead{
		Device:  p.Device,
		Time:    p.Time.UTC(),
		EPC:     p.str("epc"),
		Antenna: ant,
		RSSIDbm: p.float("rssi_dbm"),
	}
}

// WeightPoint returns the weight point of r.
func WeightPoint(r revloop.WeightReading) Point {
	return Point{
		Measurement: revloop.MeasurementWeight,
		Device:      r.Device,
		Time:        r.Time,
		Fields:      appendFloat([]Field{{Key: "stable", Value: r.Stable}}, "kg", r.Kg),
	}
}

// PointWeight is the reverse of WeightPoint.
func PointWeight(p Point) revloop.WeightReading {
	stable, _ := p.bool("stable")
	return revloop.WeightReading{Device: p.Device, Time: p.Time.UTC(), Kg: p.float("kg"), Stable: stable}
}

// StatusPoint returns the device_status point of s.
func StatusPoint(s revloop.DeviceStatus) Point {
	p := Point{Measurement: revloop.MeasurementDeviceStatus, Device: s.Device, Time: s.Time}
	fs := make([]Field, 0, 6)
	fs = appendFloat(fs, "battery_v", s.BatteryV)
	fs = appendFloat(fs, "rssi_dbm", s.RSSIDbm)
	if s.Firmware != "" {
		fs = append(fs, Field{Key: "firmware", Value: s.Firmware})
	}
	fs = appendFloat(fs, "uptime_s", s.UptimeS)
	fs = append(fs, Field{Key: "online", Value: s.Online})
	if s.ConfigVersion != 0 {
		fs = append(fs, Field{Key: "config_version", Value: s.ConfigVersion})
	}
	p.Fields = fs
	return p
}

// PointStatus is the reverse of StatusPoint.
func PointStatus(p Point) revloop.DeviceStatus {
	online, _ := p.bool("online")
	cv, _ := p.int("config_version")
	return revloop.DeviceStatus{
		Device:        p.Device,
		Time:          p.Time.UTC(),
		BatteryV:      p.float("battery_v"),
		RSSIDbm:       p.float("rssi_dbm"),
		Firmware:      p.str("firmware"),
		UptimeS:       p.float("uptime_s"),
		Online:        online,
		ConfigVersion: cv,
	}
}
