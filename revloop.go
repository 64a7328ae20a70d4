// Package revloop holds the shared nouns of the reverse-logistics loop: device
// identities, MQTT channels, the readings devices publish and the events
// derived from them. It imports only the standard library so that every other
// package, the edge gateway included, can use it.
//
// Units are part of every field name (Kmh, Deg, Pct, Mm, C, V, Kg, Dbm).
package revloop

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// TopicPrefix is the root of the v1 MQTT contract: revloop/v1/<device-id>/<channel>.
const TopicPrefix = "revloop/v1/"

// DeviceID identifies a device; it matches [a-z0-9][a-z0-9._-]{0,63}.
type DeviceID string

// ErrBadDeviceID is returned when a device id does not match the contract.
var ErrBadDeviceID = errors.New("device id must match [a-z0-9][a-z0-9._-]{0,63}")

// ParseDeviceID validates s as a device id.
func ParseDeviceID(s string) (DeviceID, error) {
	if len(s) == 0 || len(s) > 64 {
		return "", fmt.Errorf("%w: %q", ErrBadDeviceID, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if i > 0 {
			ok = ok || c == '.' || c == '_' || c == '-'
		}
		if !ok {
			return "", fmt.Errorf("%w: %q", ErrBadDeviceID, s)
		}
	}
	return DeviceID(s), nil
}

// Channel is the last segment of a device topic.
type Channel string

// The channels of the v1 contract.
const (
	ChannelGPS    Channel = "gps"
	ChannelFill   Channel = "fill"
	ChannelRFID   Channel = "rfid"
	ChannelWeight Channel = "weight"
	ChannelStatus Channel = "status"
	ChannelConfig Channel = "config"
)

// Uplink reports whether devices publish on c (config is a downlink).
func (c Channel) Uplink() bool {
	switch c {
	case ChannelGPS, ChannelFill, ChannelRFID, ChannelWeight, ChannelStatus:
		return true
	}
	return false
}

// Topic returns the topic on which device id publishes channel c.
func Topic(id DeviceID, c Channel) string { return TopicPrefix + string(id) + "/" + string(c) }

// ParseTopic splits a v1 topic into device id and channel. A shared
// subscription prefix is never part of a received topic.
func ParseTopic(topic string) (DeviceID, Channel, error) {
	rest, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok {
		return "", "", fmt.Errorf("topic %q: not under %s", topic, TopicPrefix)
	}
	dev, ch, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(ch, "/") {
		return "", "", fmt.Errorf("topic %q: want %s<device-id>/<channel>", topic, TopicPrefix)
	}
	id, err := ParseDeviceID(dev)
	if err != nil {
		return "", "", fmt.Errorf("topic %q: %w", topic, err)
	}
	return id, Channel(ch), nil
}

// Measurement names of the time-series store.
const (
	MeasurementPosition     = "position"
	MeasurementFill         = "fill"
	MeasurementRFIDRead     = "rfid_read"
	MeasurementWeight       = "weight"
	MeasurementDeviceStatus = "device_status"
)

// Position is one GNSS fix of a vehicle's tracker. Optional values are NaN
// (floats) or -1 (Sats) when the device did not report them.
type Position struct {
	Device     DeviceID  `json:"device"`
	Vehicle    string    `json:"vehicle,omitempty"`
	Time       time.Time `json:"ts"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	SpeedKmh   float64   `json:"speed_kmh"`
	HeadingDeg float64   `json:"heading_deg"`
	HDOP       float64   `json:"hdop"`
	Sats       int       `json:"sats"`
	OdometerKm float64   `json:"odometer_km"`
	Ignition   *bool     `json:"ignition,omitempty"`
}

// FillReading is one reading of a bin or drop-point sensor.
type FillReading struct {
	Device     DeviceID  `json:"device"`
	Bin        string    `json:"bin,omitempty"`
	Site       string    `json:"site,omitempty"`
	Time       time.Time `json:"ts"`
	LevelPct   float64   `json:"level_pct"`
	DistanceMm float64   `json:"distance_mm"`
	TempC      float64   `json:"temp_c"`
	BatteryV   float64   `json:"battery_v"`
	TiltDeg    float64   `json:"tilt_deg"`
}

// RFIDRead is one raw tag observation by a gate reader's antenna.
type RFIDRead struct {
	Device  DeviceID  `json:"device"`
	Time    time.Time `json:"ts"`
	EPC     string    `json:"epc"`
	Antenna int       `json:"antenna"`
	RSSIDbm float64   `json:"rssi_dbm"`
}

// WeightReading is one reading of a scale or weighbridge.
type WeightReading struct {
	Device DeviceID  `json:"device"`
	Time   time.Time `json:"ts"`
	Kg     float64   `json:"kg"`
	Stable bool      `json:"stable"`
}

// DeviceStatus is a device's health report (retained on the status channel).
type DeviceStatus struct {
	Device   DeviceID  `json:"device"`
	Time     time.Time `json:"ts"`
	BatteryV float64   `json:"battery_v"`
	RSSIDbm  float64   `json:"rssi_dbm"`
	Firmware string    `json:"firmware,omitempty"`
	UptimeS  float64   `json:"uptime_s"`
	Online   bool      `json:"online"`
	// ConfigVersion is the downlink config version the device last applied.
	ConfigVersion int64 `json:"config_version,omitempty"`
}

// EventKind names a derived domain event.
type EventKind string

// Derived event kinds.
const (
	EventFenceEnter    EventKind = "fence_enter"
	EventFenceExit     EventKind = "fence_exit"
	EventFenceDwell    EventKind = "fence_dwell"
	EventPassage       EventKind = "passage"
	EventTicket        EventKind = "ticket"
	EventDeviceOffline EventKind = "device_offline"
	EventDeviceOnline  EventKind = "device_online"
	EventLowBattery    EventKind = "low_battery"
	EventBinFull       EventKind = "bin_full"
	EventFireSuspicion EventKind = "fire_suspicion"
	EventTilt          EventKind = "tilt"
)
