package ingest

import (
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// DecodeFill decodes a fill payload: a JSON reading or array of readings, a
// SenML pack, or LwM2M resources in SenML form. LwM2M object 3435 (filling
// level) resource 0 is the container height in cm, 2 the fill percentage
// and 3 the fill level in cm; object 3303 resource 5700 is the temperature
// in °C. The JSON form also accepts the 3435 names actual_filling_percentage,
// actual_filling_level_cm and container_height_cm.
func DecodeFill(dev revloop.DeviceID, p []byte, _ time.Time) (Record, error) {
	var rec Record
	switch kindOf(p) {
	case kindObject:
		rec.Fills = make([]revloop.FillReading, 1)
		if err := decodeFillObject(dev, p, true, &rec.Fills[0]); err != nil {
			return Record{}, syntaxFirst(p, err)
		}
		return rec, nil
	case kindArray:
		// Read in one pass too: syntaxFirst puts a syntax error first.
		rec, err := decodeFillArray(dev, p)
		if err != nil {
			return rec, syntaxFirst(p, err)
		}
		return rec, nil
	}
	return rec, unknownFormat(p, "a JSON fill reading or SenML")
}

// decodeFillArray decodes a payload holding a JSON array not yet checked: a
// SenML pack or an array of readings.
func decodeFillArray(dev revloop.DeviceID, p []byte) (Record, error) {
	var rec Record
	if isSenML(p[skipWS(p, 0):]) {
		var vbuf [16]senmlValue
		var tbuf [2]time.Time
		vals, times, err := decodeSenML(dev, p, vbuf[:0], tbuf[:0])
		if err != nil {
			return rec, err
		}
		rec.Fills = make([]revloop.FillReading, 0, len(times))
		for gi, t := range times {
			r := newFill(dev)
			r.Time = t
			heightCm, levelCm := nan, nan
			for _, v := range vals {
				if v.group != gi || v.isBool || v.isStr {
					continue
				}
				if obj, res, ok := lwm2mPath(v.name); ok {
					switch obj + "/" + res {
					case "3435/0":
						heightCm = v.v
					case "3435/2":
						r.LevelPct = v.v
					case "3435/3":
						levelCm = v.v
					case "3303/5700":
						r.TempC = v.v
					}
					continue
				}
				setFill(&r, v.name, v.v)
			}
			if heightCm == heightCm && levelCm == levelCm {
				r.DistanceMm = (heightCm - levelCm) * 10
			}
			if err := needLevel(r); err != nil {
				return rec, err
			}
			rec.Fills = append(rec.Fills, r)
		}
		return rec, nil
	}
	err := eachObject(p, true, func(obj []byte) error {
		var r revloop.FillReading
		if err := decodeFillObject(dev, obj, false, &r); err != nil {
			return err
		}
		rec.Fills = append(rec.Fills, r)
		return nil
	})
	return rec, err
}

// decodeFillObject decodes the JSON reading obj into *r, reading its
// members with members (checked as there).
func decodeFillObject(dev revloop.DeviceID, obj []byte, checked bool, r *revloop.FillReading) error {
	*r = newFill(dev)
	heightCm, levelCm := nan, nan
	err := members(obj, checked, func(key string, v []byte) error {
		switch key {
		case "ts":
			return tsField(v, &r.Time)
		case "device":
			return checkDevice(dev, v)
		case "bin", "site":
			s, err := jsonString(v)
			if err != nil {
				return badField(key, err)
			}
			if key == "bin" {
				r.Bin = s
			} else {
				r.Site = s
			}
		case "actual_filling_percentage":
			return float(key, v, &r.LevelPct)
		case "actual_filling_level_cm":
			return float(key, v, &levelCm)
		case "container_height_cm":
			return float(key, v, &heightCm)
		case "level_pct", "distance_mm", "temp_c", "battery_v", "tilt_deg":
			x := nan
			if err := float(key, v, &x); err != nil {
				return err
			}
			setFill(r, key, x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.DistanceMm != r.DistanceMm && heightCm == heightCm && levelCm == levelCm {
		r.DistanceMm = (heightCm - levelCm) * 10
	}
	if r.Time.IsZero() {
		return missingTS("fill reading")
	}
	return needLevel(*r)
}

func newFill(dev revloop.DeviceID) revloop.FillReading {
	return revloop.FillReading{Device: dev, LevelPct: nan, DistanceMm: nan, TempC: nan, BatteryV: nan, TiltDeg: nan}
}

func setFill(r *revloop.FillReading, name string, v float64) {
	switch name {
	case "level_pct":
		r.LevelPct = v
	case "distance_mm":
		r.DistanceMm = v
	case "temp_c":
		r.TempC = v
	case "battery_v":
		r.BatteryV = v
	case "tilt_deg":
		r.TiltDeg = v
	}
}

func needLevel(r revloop.FillReading) error {
	if r.LevelPct != r.LevelPct && r.DistanceMm != r.DistanceMm && r.TempC != r.TempC {
		return malformed("fill reading at %s has neither level_pct, distance_mm nor temp_c", r.Time.Format(time.RFC3339Nano))
	}
	return nil
}

// maxRFIDReads bounds one batch of tag reads.
const maxRFIDReads = 4096

// DecodeRFID decodes an rfid payload: a JSON batch {"ts", "seq", "reads":
// [{"ts", "epc", "antenna", "rssi_dbm"}, ...]} (a read without ts takes the
// batch's) or a bare array of reads. Reads are stored as they are; EPCs are
// normalised to upper-case hex.
func DecodeRFID(dev revloop.DeviceID, p []byte, _ time.Time) (Record, error) {
	var rec Record
	k := kindOf(p)
	if k != kindObject && k != kindArray {
		return rec, unknownFormat(p, "a JSON batch of tag reads")
	}
	var batchTS time.Time
	readsRaw, checked := p, true
	if k == kindObject {
		readsRaw, checked = nil, false
		err := eachMemberChecked(p, func(key string, v []byte) error {
			switch key {
			case "ts":
				return tsField(v, &batchTS)
			case "device":
				return checkDevice(dev, v)
			case "reads":
				if len(v) == 0 || v[0] != '[' {
					return badField("reads", errNotArray)
				}
				readsRaw = v
			}
			return nil
		})
		if err != nil {
			return rec, syntaxFirst(p, err)
		}
		if readsRaw == nil {
			return rec, malformed("rfid batch has no reads")
		}
	}
	// A batch usually repeats one tag's EPC; its string is built once.
	var lastEPCRaw []byte
	var lastEPC string
	err := eachObject(readsRaw, checked, func(obj []byte) error {
		if len(rec.Reads) >= maxRFIDReads {
			return malformed("rfid batch has more than %d reads", maxRFIDReads)
		}
		r := revloop.RFIDRead{Device: dev, RSSIDbm: nan, Antenna: -1}
		hasAntenna := false
		err := eachMember(obj, func(key string, v []byte) error {
			switch key {
			case "ts":
				return tsField(v, &r.Time)
			case "epc":
				if lastEPCRaw != nil && string(v) == string(lastEPCRaw) {
					r.EPC = lastEPC
					return nil
				}
				s, err := jsonString(v)
				if err != nil {
					return badField(key, err)
				}
				r.EPC = strings.ToUpper(s)
				lastEPCRaw, lastEPC = v, r.EPC
			case "antenna":
				n, err := jsonInt(v)
				if err != nil {
					return badField(key, err)
				}
				if n < 0 || n > 255 {
					return reject(ReasonOutOfRange, "antenna %d outside 0..255", n)
				}
				r.Antenna, hasAntenna = int(n), true
			case "rssi_dbm":
				return float(key, v, &r.RSSIDbm)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if r.Time.IsZero() {
			r.Time = batchTS
		}
		if r.Time.IsZero() {
			return missingTS("rfid read")
		}
		if r.EPC == "" {
			return malformed("rfid read has no epc")
		}
		if !hasAntenna {
			r.Antenna = 0
		}
		rec.Reads = append(rec.Reads, r)
		return nil
	})
	if err != nil {
		return rec, syntaxFirst(p, err)
	}
	return rec, nil
}

// DecodeWeight decodes a weight payload: a JSON reading {"ts", "kg",
// "stable"} or an array of them.
func DecodeWeight(dev revloop.DeviceID, p []byte, _ time.Time) (Record, error) {
	var rec Record
	switch kindOf(p) {
	case kindObject:
		rec.Weights = make([]revloop.WeightReading, 1)
		if err := decodeWeightObject(dev, p, true, &rec.Weights[0]); err != nil {
			return Record{}, syntaxFirst(p, err)
		}
		return rec, nil
	case kindArray:
	default:
		return rec, unknownFormat(p, "a JSON weight reading")
	}
	err := eachObject(p, true, func(obj []byte) error {
		var w revloop.WeightReading
		if err := decodeWeightObject(dev, obj, false, &w); err != nil {
			return err
		}
		rec.Weights = append(rec.Weights, w)
		return nil
	})
	if err != nil {
		return rec, syntaxFirst(p, err)
	}
	return rec, nil
}

// decodeWeightObject decodes the JSON reading obj into *w, reading its
// members with members (checked as there).
func decodeWeightObject(dev revloop.DeviceID, obj []byte, checked bool, w *revloop.WeightReading) error {
	*w = revloop.WeightReading{Device: dev, Kg: nan}
	err := members(obj, checked, func(key string, v []byte) error {
		switch key {
		case "ts":
			return tsField(v, &w.Time)
		case "device":
			return checkDevice(dev, v)
		case "kg":
			return float(key, v, &w.Kg)
		case "stable":
			return optional(key, v, jsonBool, &w.Stable)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if w.Time.IsZero() {
		return missingTS("weight reading")
	}
	if w.Kg != w.Kg {
		return malformed("weight reading has no kg")
	}
	return nil
}

// DecodeStatus decodes a status payload: a JSON health report {"ts",
// "battery_v", "rssi_dbm", "firmware", "uptime_s", "online",
// "config_version"}. online defaults to true. A report without ts (such as
// the last will {"online":false}, which the broker publishes for the
// device) takes the arrival time, truncated to the millisecond.
func DecodeStatus(dev revloop.DeviceID, p []byte, received time.Time) (Record, error) {
	var rec Record
	if kindOf(p) != kindObject {
		return rec, unknownFormat(p, "a JSON status object")
	}
	st := revloop.DeviceStatus{Device: dev, BatteryV: nan, RSSIDbm: nan, UptimeS: nan, Online: true}
	err := eachMemberChecked(p, func(key string, v []byte) error {
		switch key {
		case "ts":
			return tsField(v, &st.Time)
		case "device":
			return checkDevice(dev, v)
		case "battery_v":
			return float(key, v, &st.BatteryV)
		case "rssi_dbm":
			return float(key, v, &st.RSSIDbm)
		case "uptime_s":
			return float(key, v, &st.UptimeS)
		case "firmware":
			return optional(key, v, jsonString, &st.Firmware)
		case "online":
			b, err := jsonBool(v)
			if err != nil {
				return badField(key, err)
			}
			st.Online = b
		case "config_version":
			return optional(key, v, jsonInt, &st.ConfigVersion)
		}
		return nil
	})
	if err != nil {
		return rec, syntaxFirst(p, err)
	}
	if st.Time.IsZero() {
		st.Time = received.UTC().Truncate(time.Millisecond)
	}
	rec.Status = &st
	return rec, nil
}
