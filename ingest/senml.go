package ingest

import (
	"math"
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// senmlValue is one resolved SenML record.
type senmlValue struct {
	name   string // field name after the device prefix, or an LwM2M path
	v      float64
	b      bool
	isBool bool
	s      string
	isStr  bool
}

// senmlGroup holds the records of one instant.
type senmlGroup struct {
	t    time.Time
	vals []senmlValue
}

// maxSenMLRecords bounds a pack.
const maxSenMLRecords = 1024

// decodeSenML resolves a SenML pack (RFC 8428, JSON) into groups of values
// by time, in order of first appearance. Names are base name + name; a name
// of the form urn:dev:id:<device>:<field> must name the topic's device.
// Times are base time + time in seconds and must be absolute (a resolved
// time below 2^28 is relative and rejected, since a reading needs its own
// timestamp to be stored idempotently).
func decodeSenML(dev revloop.DeviceID, raw []byte) ([]senmlGroup, error) {
	var (
		bn     string
		bt     float64
		groups []senmlGroup
		n      int
	)
	err := eachElement(raw, func(el []byte) error {
		n++
		if n > maxSenMLRecords {
			return malformed("SenML pack has more than %d records", maxSenMLRecords)
		}
		var (
			name    string
			t       float64
			val     senmlValue
			hasV    bool
			hasName bool
		)
		if len(el) == 0 || el[0] != '{' {
			return malformed("SenML record %d is not an object", n-1)
		}
		err := eachMember(el, func(key string, v []byte) error {
			var err error
			switch key {
			case "bn":
				bn, err = jsonString(v)
			case "bt":
				bt, err = jsonFloat(v)
			case "n":
				name, err = jsonString(v)
				hasName = true
			case "t":
				t, err = jsonFloat(v)
			case "v":
				val.v, err = jsonFloat(v)
				hasV = true
			case "vb":
				val.b, err = jsonBool(v)
				val.isBool, hasV = true, true
			case "vs":
				val.s, err = jsonString(v)
				val.isStr, hasV = true, true
			case "ver", "bver":
				_, err = jsonFloat(v)
			}
			if err != nil {
				return reject(ReasonMalformed, "SenML record %d field %s: %v", n-1, key, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !hasV {
			if !hasName {
				return nil // a record that only sets base values
			}
			return malformed("SenML record %d has no value", n-1)
		}
		full := bn + name
		if full == "" {
			return malformed("SenML record %d has no name", n-1)
		}
		d, field, ok := senmlDevice(full)
		if !ok {
			return malformed("SenML name %q: want urn:dev:id:<device>:<field>", full)
		}
		if d != "" && d != string(dev) {
			return reject(ReasonDeviceMismatch, "SenML names device %q, topic %q", d, dev)
		}
		val.name = field
		abs := bt + t
		if abs < 1<<28 {
			return reject(ReasonMissingTS, "SenML record %d has a relative time; an absolute base time is required", n-1)
		}
		if abs > 1e12 || math.IsNaN(abs) {
			return reject(ReasonOutOfRange, "SenML time %v out of range", abs)
		}
		ts := time.UnixMilli(int64(math.Round(bt*1000) + math.Round(t*1000))).UTC()
		for i := range groups {
			if groups[i].t.Equal(ts) {
				groups[i].vals = append(groups[i].vals, val)
				return nil
			}
		}
		groups = append(groups, senmlGroup{t: ts, vals: []senmlValue{val}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, malformed("SenML pack has no values")
	}
	return groups, nil
}

// lwm2mPath splits an LwM2M resource path /<object>/<instance>/<resource>
// into object and resource; see DecodeFill for the ones revloop reads.
func lwm2mPath(name string) (obj, res string, ok bool) {
	if !strings.HasPrefix(name, "/") {
		return "", "", false
	}
	obj, rest, ok1 := strings.Cut(name[1:], "/")
	_, res, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || strings.Contains(res, "/") {
		return "", "", false
	}
	return obj, res, true
}
