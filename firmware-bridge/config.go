package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/firmware-bridge/queue"
)

// PasswordEnv is the environment variable read for the MQTT password when
// the config names no password_file.
const PasswordEnv = "REVLOOP_BRIDGE_MQTT_PASSWORD"

// ErrConfig marks an invalid configuration.
var ErrConfig = errors.New("bridge: config")

// Config is the bridge's configuration file (YAML, strictly decoded).
type Config struct {
	// DeviceID is the gateway's identity; the default device id of every sensor.
	DeviceID revloop.DeviceID `yaml:"device_id"`
	// Firmware is reported in status.
	Firmware string `yaml:"firmware"`
	// DataDir holds the queue. Default /var/lib/revloop-bridge.
	DataDir string       `yaml:"data_dir"`
	MQTT    MQTTConfig   `yaml:"mqtt"`
	Queue   QueueConfig  `yaml:"queue"`
	Buses   []BusConfig  `yaml:"buses"`
	Devices []DeviceConf `yaml:"devices"`
	// Thresholds are the defaults the retained config topic may change.
	Thresholds Thresholds `yaml:"thresholds"`
}

// MQTTConfig is the uplink.
type MQTTConfig struct {
	// URL is tcp://host:1883, ssl://host:8883 or tls://host:8883. Required.
	URL string `yaml:"url"`
	// ClientID defaults to the device id; it must be stable and unique.
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	// PasswordFile holds the password (trailing newline ignored); without it
	// the password comes from $REVLOOP_BRIDGE_MQTT_PASSWORD. The password
	// itself never appears in the config file or the logs.
	PasswordFile string    `yaml:"password_file"`
	TLS          TLSConfig `yaml:"tls"`
	// KeepAlive default 30s.
	KeepAlive time.Duration `yaml:"keepalive"`
	// BatchMax is the most readings per published message. Default 100.
	BatchMax int `yaml:"batch_max"`
	// Window is the most readings in flight (awaiting PUBACK). Default 1000.
	Window int `yaml:"window"`
	// PublishTimeout bounds the wait for a PUBACK. Default 10s.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// StatusInterval is the period of status messages. Default 60s.
	StatusInterval time.Duration `yaml:"status_interval"`
	// ReconnectMax caps the reconnect back-off. Default 30s.
	ReconnectMax time.Duration `yaml:"reconnect_max"`

	password string
}

// TLSConfig enables TLS to the broker.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// QueueConfig is the store-and-forward queue.
type QueueConfig struct {
	// MaxReadings bounds the backlog. Default 100000.
	MaxReadings int `yaml:"max_readings"`
	// Overflow is drop-oldest (default) or drop-newest.
	Overflow queue.Policy `yaml:"overflow"`
	// Fsync is always (default), interval or never.
	Fsync queue.SyncPolicy `yaml:"fsync"`
	// FsyncEvery is the period under fsync: interval. Default 1s.
	FsyncEvery time.Duration `yaml:"fsync_every"`
	// SegmentBytes default 4 MiB.
	SegmentBytes int64 `yaml:"segment_bytes"`
}

// BusConfig names a bus.
type BusConfig struct {
	Name string `yaml:"name"`
	// Type is i2c, uart, gpio or sim.
	Type string `yaml:"type"`
	// Dev is /dev/i2c-1, /dev/ttyS0, /dev/gpiochip0 (ignored for sim).
	Dev string `yaml:"dev"`
	// Baud for uart; default 9600.
	Baud int `yaml:"baud"`
}

// DeviceConf is one sensor.
type DeviceConf struct {
	Name string `yaml:"name"`
	// Driver is nmea, chafon, srf02, mcp9808 or hx711.
	Driver string `yaml:"driver"`
	Bus    string `yaml:"bus"`
	// DeviceID overrides the gateway id on this sensor's topics.
	DeviceID revloop.DeviceID `yaml:"device_id"`
	// Address is the I2C address (srf02 0x70, mcp9808 0x18 by default).
	Address uint16 `yaml:"address"`
	// Interval between readings. Default 60s (fill), 1s (gps, weight), 1s (rfid).
	Interval time.Duration `yaml:"interval"`
	// Bin and Site tag fill readings.
	Bin  string `yaml:"bin"`
	Site string `yaml:"site"`
	// DepthMm is the distance from the sensor to an empty bin's floor (srf02).
	DepthMm float64 `yaml:"depth_mm"`
	// FullMm is the distance at 100 % (the sensor's blind zone). Default 150.
	FullMm float64 `yaml:"full_mm"`
	// Samples for the median filter (srf02). Default 5.
	Samples int `yaml:"samples"`
	// TempSensor names an mcp9808 device whose temperature joins this
	// sensor's fill readings (srf02).
	TempSensor string `yaml:"temp_sensor"`
	// Antenna 1..4 (chafon). Default 1.
	Antenna int `yaml:"antenna"`
	// DoutLine and SckLine are GPIO line offsets (hx711).
	DoutLine int `yaml:"dout_line"`
	SckLine  int `yaml:"sck_line"`
	// Gain 128, 64, 32 (hx711). Default 128.
	Gain int `yaml:"gain"`
	// Offset and CountsPerKg are the scale's calibration (hx711).
	Offset      int32   `yaml:"offset"`
	CountsPerKg float64 `yaml:"counts_per_kg"`
}

// Thresholds can be changed at run time through the config topic.
type Thresholds struct {
	// FireTempC makes a bin temperature at or above it a fire suspicion:
	// the fill reading is taken and queued at once. Default 70.
	FireTempC float64 `yaml:"fire_temp_c" json:"fire_temp_c"`
	// StableToleranceKg is the scale's stability spread. Default 0.05.
	StableToleranceKg float64 `yaml:"stable_tolerance_kg" json:"stable_tolerance_kg"`
}

// LoadConfig reads, strictly decodes, defaults and validates a config file,
// then reads the MQTT password file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p, ok := os.LookupEnv(PasswordEnv); ok && c.MQTT.PasswordFile == "" {
		c.MQTT.password = p
	}
	if c.MQTT.PasswordFile != "" {
		p, err := os.ReadFile(c.MQTT.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: mqtt password file: %v", ErrConfig, err)
		}
		c.MQTT.password = strings.TrimRight(string(p), "\r\n")
	}
	return c, nil
}

// ParseConfig decodes YAML strictly (unknown keys are errors naming their
// line), applies defaults and validates.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// SetPassword sets the MQTT password (for callers that do not use a file).
func (c *Config) SetPassword(p string) { c.MQTT.password = p }

// Defaults fills in every unset value.
func (c *Config) Defaults() {
	if c.DataDir == "" {
		c.DataDir = "/var/lib/revloop-bridge"
	}
	m := &c.MQTT
	if m.ClientID == "" {
		m.ClientID = "bridge-" + string(c.DeviceID)
	}
	if m.KeepAlive == 0 {
		m.KeepAlive = 30 * time.Second
	}
	if m.BatchMax == 0 {
		m.BatchMax = 100
	}
	if m.Window == 0 {
		m.Window = 1000
	}
	if m.PublishTimeout == 0 {
		m.PublishTimeout = 10 * time.Second
	}
	if m.StatusInterval == 0 {
		m.StatusInterval = 60 * time.Second
	}
	if m.ReconnectMax == 0 {
		m.ReconnectMax = 30 * time.Second
	}
	if c.Thresholds.FireTempC == 0 {
		c.Thresholds.FireTempC = 70
	}
	if c.Thresholds.StableToleranceKg == 0 {
		c.Thresholds.StableToleranceKg = 0.05
	}
	for i := range c.Buses {
		if c.Buses[i].Type == "uart" && c.Buses[i].Baud == 0 {
			c.Buses[i].Baud = 9600
		}
	}
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.DeviceID == "" {
			d.DeviceID = c.DeviceID
		}
		if d.Interval == 0 {
			switch d.Driver {
			case "srf02", "mcp9808":
				d.Interval = 60 * time.Second
			default:
				d.Interval = time.Second
			}
		}
		switch d.Driver {
		case "srf02":
			if d.Address == 0 {
				d.Address = 0x70
			}
			if d.Samples == 0 {
				d.Samples = 5
			}
			if d.FullMm == 0 {
				d.FullMm = 150
			}
		case "mcp9808":
			if d.Address == 0 {
				d.Address = 0x18
			}
		case "chafon":
			if d.Antenna == 0 {
				d.Antenna = 1
			}
		case "hx711":
			if d.Gain == 0 {
				d.Gain = 128
			}
			if d.CountsPerKg == 0 {
				d.CountsPerKg = 1
			}
		}
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	if _, err := revloop.ParseDeviceID(string(c.DeviceID)); err != nil {
		return bad("device_id: %v", err)
	}
	u, err := url.Parse(c.MQTT.URL)
	if err != nil || c.MQTT.URL == "" {
		return bad("mqtt.url %q: want tcp://host:port, ssl://host:port or tls://host:port", c.MQTT.URL)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return bad("mqtt.url scheme %q: want tcp, ssl or tls", u.Scheme)
	}
	if c.MQTT.BatchMax < 1 || c.MQTT.Window < c.MQTT.BatchMax {
		return bad("mqtt.batch_max %d and window %d: want 1 <= batch_max <= window", c.MQTT.BatchMax, c.MQTT.Window)
	}
	if (c.MQTT.TLS.CertFile == "") != (c.MQTT.TLS.KeyFile == "") {
		return bad("mqtt.tls: cert_file and key_file go together")
	}
	qo := c.QueueOptions()
	if err := qo.Validate(); err != nil {
		return bad("queue: %v", err)
	}
	buses := map[string]BusConfig{}
	for i, b := range c.Buses {
		switch b.Type {
		case "i2c", "uart", "gpio":
			if b.Dev == "" {
				return bad("buses[%d] %q: dev is required", i, b.Name)
			}
		case "sim":
		default:
			return bad("buses[%d] %q: type %q: want i2c, uart, gpio or sim", i, b.Name, b.Type)
		}
		if b.Name == "" {
			return bad("buses[%d]: name is required", i)
		}
		if _, dup := buses[b.Name]; dup {
			return bad("buses[%d]: duplicate name %q", i, b.Name)
		}
		buses[b.Name] = b
	}
	names := map[string]DeviceConf{}
	for i, d := range c.Devices {
		if d.Name == "" {
			return bad("devices[%d]: name is required", i)
		}
		if _, dup := names[d.Name]; dup {
			return bad("devices[%d]: duplicate name %q", i, d.Name)
		}
		names[d.Name] = d
		if _, err := revloop.ParseDeviceID(string(d.DeviceID)); err != nil {
			return bad("devices[%d] %q: device_id: %v", i, d.Name, err)
		}
		b, ok := buses[d.Bus]
		if !ok {
			return bad("devices[%d] %q: unknown bus %q", i, d.Name, d.Bus)
		}
		want := map[string]string{"nmea": "uart", "chafon": "uart", "srf02": "i2c", "mcp9808": "i2c", "hx711": "gpio"}[d.Driver]
		if want == "" {
			return bad("devices[%d] %q: driver %q: want nmea, chafon, srf02, mcp9808 or hx711", i, d.Name, d.Driver)
		}
		if b.Type != want && b.Type != "sim" {
			return bad("devices[%d] %q: driver %s needs a %s bus, %q is %s", i, d.Name, d.Driver, want, b.Name, b.Type)
		}
		if d.Interval < 10*time.Millisecond {
			return bad("devices[%d] %q: interval %v below 10ms", i, d.Name, d.Interval)
		}
		switch d.Driver {
		case "srf02":
			if d.DepthMm <= d.FullMm {
				return bad("devices[%d] %q: depth_mm %v must exceed full_mm %v", i, d.Name, d.DepthMm, d.FullMm)
			}
		case "chafon":
			if d.Antenna < 1 || d.Antenna > 4 {
				return bad("devices[%d] %q: antenna %d out of 1..4", i, d.Name, d.Antenna)
			}
		case "hx711":
			if d.DoutLine == d.SckLine && b.Type != "sim" {
				return bad("devices[%d] %q: dout_line and sck_line must differ", i, d.Name)
			}
		}
	}
	for _, d := range c.Devices {
		if d.TempSensor == "" {
			continue
		}
		t, ok := names[d.TempSensor]
		if d.Driver != "srf02" || !ok || t.Driver != "mcp9808" {
			return bad("device %q: temp_sensor %q must name an mcp9808 device and sit on an srf02", d.Name, d.TempSensor)
		}
	}
	return nil
}

// QueueOptions converts the queue settings.
func (c *Config) QueueOptions() queue.Options {
	return queue.Options{Dir: c.DataDir + "/queue", MaxRecords: c.Queue.MaxReadings, Overflow: c.Queue.Overflow,
		Sync: c.Queue.Fsync, SyncEvery: c.Queue.FsyncEvery, SegmentBytes: c.Queue.SegmentBytes}
}

// Redacted returns a copy safe to log (no password).
func (c Config) Redacted() Config {
	c.MQTT.password = ""
	return c
}
