package ingest

import (
	"time"

	"github.com/revloop/revloop"
)

// DecodeGPS decodes a gps payload: a JSON fix, an array of fixes, NMEA 0183
// RMC/GGA sentences or a SenML pack.
func DecodeGPS(dev revloop.DeviceID, p []byte, _ time.Time) (Record, error) {
	var rec Record
	switch kindOf(p) {
	case kindNMEA:
		fixes, err := decodeNMEA(p)
		if err != nil {
			return rec, err
		}
		for i := range fixes {
			fixes[i].Device = dev
		}
		rec.Positions = fixes
		return rec, nil
	case kindObject:
		// One fix, read in one pass; its position and ignition flag share
		// one allocation.
		one := new(singleFix)
		bools := boolSlab{s: one.ignition[:0]}
		if err := decodeGPSObject(dev, p, true, &one.pos[0], &bools); err != nil {
			return rec, syntaxFirst(p, err)
		}
		rec.Positions = one.pos[:]
		return rec, nil
	case kindArray:
		// Read in one pass too: syntaxFirst puts a syntax error first.
		rec, err := decodeGPSArray(dev, p)
		if err != nil {
			return rec, syntaxFirst(p, err)
		}
		return rec, nil
	}
	return rec, unknownFormat(p, "a JSON fix, NMEA 0183 or SenML")
}

// decodeGPSArray decodes a payload holding a JSON array not yet checked: a
// SenML pack or an array of fixes.
func decodeGPSArray(dev revloop.DeviceID, p []byte) (Record, error) {
	var rec Record
	if isSenML(p[skipWS(p, 0):]) {
		var vbuf [16]senmlValue
		var tbuf [2]time.Time
		vals, times, err := decodeSenML(dev, p, vbuf[:0], tbuf[:0])
		if err != nil {
			return rec, err
		}
		var bools boolSlab
		if len(times) == 1 {
			// One instant: its position and ignition flag share one allocation.
			one := new(singleFix)
			rec.Positions, bools.s = one.pos[:0], one.ignition[:0]
		} else {
			rec.Positions = make([]revloop.Position, 0, len(times))
		}
		for gi, t := range times {
			pos := newPosition(dev)
			pos.Time = t
			for _, v := range vals {
				if v.group != gi {
					continue
				}
				switch v.name {
				case "lat":
					pos.Lat = v.v
				case "lon":
					pos.Lon = v.v
				case "speed_kmh":
					pos.SpeedKmh = v.v
				case "heading_deg":
					pos.HeadingDeg = v.v
				case "hdop":
					pos.HDOP = v.v
				case "sats":
					pos.Sats = int(v.v)
				case "odometer_km":
					pos.OdometerKm = v.v
				case "ignition":
					if v.isBool {
						pos.Ignition = bools.ptr(v.b, len(times))
					}
				}
			}
			if err := needLatLon(pos); err != nil {
				return rec, err
			}
			rec.Positions = append(rec.Positions, pos)
		}
		return rec, nil
	}
	rec.Positions = make([]revloop.Position, 0, 4)
	var bools boolSlab
	err := eachObject(p, true, func(obj []byte) error {
		var pos revloop.Position
		if err := decodeGPSObject(dev, obj, false, &pos, &bools); err != nil {
			return err
		}
		rec.Positions = append(rec.Positions, pos)
		return nil
	})
	return rec, err
}

// singleFix holds the position of a payload with one fix and its ignition
// flag.
type singleFix struct {
	pos      [1]revloop.Position
	ignition [1]bool
}

func newPosition(dev revloop.DeviceID) revloop.Position {
	return revloop.Position{Device: dev, Lat: nan, Lon: nan, SpeedKmh: nan, HeadingDeg: nan,
		HDOP: nan, Sats: -1, OdometerKm: nan}
}

func needLatLon(pos revloop.Position) error {
	if pos.Lat != pos.Lat || pos.Lon != pos.Lon {
		return malformed("fix at %s has no lat/lon", pos.Time.Format(time.RFC3339Nano))
	}
	return nil
}

// decodeGPSObject decodes the fix obj into *dst, reading its members with
// members (checked as there); ignition flags come from bools.
func decodeGPSObject(dev revloop.DeviceID, obj []byte, checked bool, dst *revloop.Position, bools *boolSlab) error {
	*dst = newPosition(dev)
	pos := dst
	err := members(obj, checked, func(key string, v []byte) error {
		switch key {
		case "ts":
			return tsField(v, &pos.Time)
		case "lat":
			return float(key, v, &pos.Lat)
		case "lon":
			return float(key, v, &pos.Lon)
		case "speed_kmh":
			return float(key, v, &pos.SpeedKmh)
		case "heading_deg":
			return float(key, v, &pos.HeadingDeg)
		case "hdop":
			return float(key, v, &pos.HDOP)
		case "odometer_km":
			return float(key, v, &pos.OdometerKm)
		case "sats":
			if isNull(v) {
				return nil
			}
			n, err := jsonInt(v)
			if err != nil {
				return badField(key, err)
			}
			if n < 0 || n > 1000 {
				return reject(ReasonOutOfRange, "sats %d out of range", n)
			}
			pos.Sats = int(n)
		case "ignition":
			if isNull(v) {
				return nil
			}
			b, err := jsonBool(v)
			if err != nil {
				return badField(key, err)
			}
			pos.Ignition = bools.ptr(b, 16)
		case "vehicle":
			s, err := jsonString(v)
			if err != nil {
				return badField(key, err)
			}
			pos.Vehicle = s
		case "device":
			return checkDevice(dev, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if pos.Time.IsZero() {
		return missingTS("fix")
	}
	return needLatLon(*pos)
}

// boolSlab hands out pointers to bools from shared chunks instead of
// allocating each one.
type boolSlab struct{ s []bool }

// ptr returns a pointer to a new bool holding b; a chunk, when one is
// needed, has room for n.
func (bs *boolSlab) ptr(b bool, n int) *bool {
	if len(bs.s) == cap(bs.s) {
		bs.s = make([]bool, 0, max(n, 1))
	}
	bs.s = append(bs.s, b)
	return &bs.s[len(bs.s)-1]
}
