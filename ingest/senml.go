package ingest

import (
	"bytes"
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
	group  int // index of its instant in the pack's times
}

// maxSenMLRecords bounds a pack.
const maxSenMLRecords = 1024

// decodeSenML resolves a SenML pack (RFC 8428, JSON) into values, each with
// the index of its instant in times, which are in order of first
// appearance. Names are base name + name; a name
// of the form urn:dev:id:<device>:<field> must name the topic's device.
// Times are base time + time in seconds and must be absolute (a resolved
// time below 2^28 is relative and rejected, since a reading needs its own
// timestamp to be stored idempotently). The results are appended to vals
// and times, so a caller can hand in buffers. raw is a whole payload not
// yet checked: its syntax is checked in the same pass (see
// eachRecordChecked and syntaxFirst).
func decodeSenML(dev revloop.DeviceID, raw []byte, vals []senmlValue, times []time.Time) ([]senmlValue, []time.Time, error) {
	var (
		bn      []byte
		fullBuf [96]byte
		bt      float64
		n       int
	)
	var w objWalker
	err := eachRecordChecked(raw, &w, func(first byte) error {
		n++
		if n > maxSenMLRecords {
			return malformed("SenML pack has more than %d records", maxSenMLRecords)
		}
		var (
			name    []byte
			t       float64
			val     senmlValue
			hasV    bool
			hasName bool
		)
		if first != '{' {
			return malformed("SenML record %d is not an object", n-1)
		}
		err := w.members(func(key string, v []byte) error {
			var err error
			switch key {
			case "bn":
				bn, err = jsonBytes(v)
			case "bt":
				bt, err = jsonFloat(v)
			case "n":
				name, err = jsonBytes(v)
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
		full := append(append(fullBuf[:0], bn...), name...)
		if len(full) == 0 {
			return malformed("SenML record %d has no name", n-1)
		}
		d, field, ok := senmlDeviceBytes(full)
		if !ok {
			return malformed("SenML name %q: want urn:dev:id:<device>:<field>", string(full))
		}
		if len(d) > 0 && string(d) != string(dev) {
			return reject(ReasonDeviceMismatch, "SenML names device %q, topic %q", string(d), dev)
		}
		if k, ok := knownKey(field); ok {
			val.name = k
		} else {
			val.name = string(field)
		}
		abs := bt + t
		if abs < 1<<28 {
			return reject(ReasonMissingTS, "SenML record %d has a relative time; an absolute base time is required", n-1)
		}
		if abs > 1e12 || math.IsNaN(abs) {
			return reject(ReasonOutOfRange, "SenML time %v out of range", abs)
		}
		ts := time.UnixMilli(int64(math.Round(bt*1000) + math.Round(t*1000))).UTC()
		val.group = -1
		for i := range times {
			if times[i].Equal(ts) {
				val.group = i
				break
			}
		}
		if val.group < 0 {
			val.group = len(times)
			times = append(times, ts)
		}
		vals = append(vals, val)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(times) == 0 {
		return nil, nil, malformed("SenML pack has no values")
	}
	return vals, times, nil
}

// jsonBytes returns the content of a raw JSON string token without
// allocating when it has no escapes and is ASCII, and decodes it otherwise.
func jsonBytes(raw []byte) ([]byte, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if in, plain := plainString(raw); plain {
			return in, nil
		}
	}
	s, err := jsonString(raw)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// senmlDeviceBytes splits a resolved SenML name like senmlDevice.
func senmlDeviceBytes(name []byte) (dev, field []byte, ok bool) {
	rest, ok := bytes.CutPrefix(name, []byte("urn:dev:id:"))
	if !ok {
		return nil, name, true
	}
	return bytes.Cut(rest, []byte(":"))
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
