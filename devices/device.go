package devices

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// Kind is what sort of device a device is.
type Kind string

// The device kinds.
const (
	KindTracker    Kind = "tracker"
	KindBinSensor  Kind = "bin_sensor"
	KindGateReader Kind = "gate_reader"
	KindScale      Kind = "scale"
	KindGateway    Kind = "gateway"
)

// Kinds lists every device kind.
var Kinds = []Kind{KindTracker, KindBinSensor, KindGateReader, KindScale, KindGateway}

// ParseKind validates s as a device kind.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", revloop.Invalid("kind", "unknown kind %q (want one of %s)", s, joinKinds())
}

func joinKinds() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// AttachedKind is what a device is mounted on.
type AttachedKind string

// The things a device can be attached to; empty means not attached.
const (
	AttachedNone    AttachedKind = ""
	AttachedVehicle AttachedKind = "vehicle"
	AttachedBin     AttachedKind = "bin"
	AttachedGate    AttachedKind = "gate"
	AttachedScale   AttachedKind = "scale"
)

// ParseAttachedKind validates s as an attachment kind (empty is allowed).
func ParseAttachedKind(s string) (AttachedKind, error) {
	switch a := AttachedKind(s); a {
	case AttachedNone, AttachedVehicle, AttachedBin, AttachedGate, AttachedScale:
		return a, nil
	}
	return "", revloop.Invalid("attached_kind", "unknown attachment %q (want vehicle, bin, gate, scale or empty)", s)
}

// State is a device's lifecycle state.
type State string

// The device states. Only active devices may connect and publish.
const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
	StateRevoked  State = "revoked"
)

// ParseState validates s as a device state.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case StateActive, StateDisabled, StateRevoked:
		return st, nil
	}
	return "", revloop.Invalid("state", "unknown state %q (want active, disabled or revoked)", s)
}

// allowedFrom lists the transitions out of each state; revoked is final.
var allowedFrom = map[State][]State{
	StateActive:   {StateDisabled, StateRevoked},
	StateDisabled: {StateActive, StateRevoked},
	StateRevoked:  nil,
}

// Attachment names the vehicle, bin, gate or scale a device is mounted on.
type Attachment struct {
	Kind AttachedKind `json:"kind"`
	ID   string       `json:"id"`
}

// Device is one registered device. Credentials are never part of it.
type Device struct {
	ID                revloop.DeviceID  `json:"id"`
	Kind              Kind              `json:"kind"`
	Attached          Attachment        `json:"attached_to"`
	Labels            map[string]string `json:"labels"`
	Firmware          string            `json:"firmware"`
	State             State             `json:"state"`
	Created           time.Time         `json:"created"`
	LastSeen          time.Time         `json:"last_seen"`
	CredentialVersion int64             `json:"credential_version"`
}

// Spec is what provisioning a device takes.
type Spec struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Attached Attachment        `json:"attached_to"`
	Labels   map[string]string `json:"labels,omitempty"`
	Firmware string            `json:"firmware,omitempty"`
}

// Limits on free-text fields.
const (
	maxAttachedID = 128
	maxFirmware   = 64
	maxLabels     = 32
	maxLabelKey   = 63
	maxLabelValue = 256
)

// validSpec checks every field of s and returns the normalised values.
func validSpec(s Spec) (revloop.DeviceID, Kind, Attachment, map[string]string, error) {
	id, err := revloop.ParseDeviceID(s.ID)
	if err != nil {
		return "", "", Attachment{}, nil, revloop.Invalid("id", "%v", err)
	}
	kind, err := ParseKind(s.Kind)
	if err != nil {
		return "", "", Attachment{}, nil, err
	}
	ak, err := ParseAttachedKind(string(s.Attached.Kind))
	if err != nil {
		return "", "", Attachment{}, nil, err
	}
	att := Attachment{Kind: ak, ID: s.Attached.ID}
	switch {
	case ak == AttachedNone && att.ID != "":
		return "", "", Attachment{}, nil, revloop.Invalid("attached_kind", "required when attached_id is set")
	case ak != AttachedNone && att.ID == "":
		return "", "", Attachment{}, nil, revloop.Invalid("attached_id", "required when attached_kind is %s", ak)
	case len(att.ID) > maxAttachedID || !printable(att.ID):
		return "", "", Attachment{}, nil, revloop.Invalid("attached_id", "must be at most %d printable characters", maxAttachedID)
	}
	if len(s.Firmware) > maxFirmware || !printable(s.Firmware) {
		return "", "", Attachment{}, nil, revloop.Invalid("firmware", "must be at most %d printable characters", maxFirmware)
	}
	labels, err := validLabels(s.Labels)
	if err != nil {
		return "", "", Attachment{}, nil, err
	}
	return id, kind, att, labels, nil
}

func validLabels(in map[string]string) (map[string]string, error) {
	if len(in) > maxLabels {
		return nil, revloop.Invalid("labels", "at most %d labels", maxLabels)
	}
	out := make(map[string]string, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := in[k]
		if k == "" || len(k) > maxLabelKey || !labelKey(k) {
			return nil, revloop.Invalid("labels", "key %q must be 1-%d characters of a-z, 0-9, '.', '_', '-', '/'", k, maxLabelKey)
		}
		if len(v) > maxLabelValue || !printable(v) || strings.ContainsAny(v, ";=") {
			return nil, revloop.Invalid("labels", "value of %q must be at most %d printable characters without ';' or '='", k, maxLabelValue)
		}
		out[k] = v
	}
	return out, nil
}

func labelKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

// ParseLabels reads labels written as "k=v;k2=v2" (the CSV form).
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, revloop.Invalid("labels", "want key=value pairs separated by ';', got %q", part)
		}
		if _, dup := out[k]; dup {
			return nil, revloop.Invalid("labels", "key %q given twice", k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return validLabels(out)
}

// FormatLabels writes labels in the "k=v;k2=v2" form, keys sorted.
func FormatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ";")
}

func encodeLabels(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func decodeLabels(s string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	return m, nil
}
