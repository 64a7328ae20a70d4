package ingest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/revloop/revloop"
)

// decodeNMEA decodes NMEA 0183 text: one or more sentences separated by line
// breaks. RMC and GGA sentences with the same time of day are merged into one
// fix; other sentence types are ignored. Every sentence must carry a valid
// checksum. A fix needs a date, so at least one RMC sentence must be present;
// GGA sentences take the date of the RMC sentence they accompany.
func decodeNMEA(p []byte) ([]revloop.Position, error) {
	type partial struct {
		hms      []byte
		pos      revloop.Position
		date     time.Time
		hasDate  bool
		hasFix   bool
		hasValid bool
	}
	var fixBuf [2]partial
	fixes := fixBuf[:0]
	find := func(hms []byte) *partial {
		for i := range fixes {
			if string(fixes[i].hms) == string(hms) {
				return &fixes[i]
			}
		}
		fixes = append(fixes, partial{hms: hms, pos: newPosition("")})
		return &fixes[len(fixes)-1]
	}
	var fieldBuf [24][]byte
	lines := 0
	for len(p) > 0 {
		var line []byte
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			line, p = p, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		lines++
		if lines > 64 {
			return nil, malformed("NMEA: more than 64 sentences")
		}
		fields, err := nmeaFields(line, fieldBuf[:0])
		if err != nil {
			return nil, err
		}
		typ := fields[0]
		if len(typ) != 5 {
			continue
		}
		switch string(typ[2:]) {
		case "RMC":
			if len(fields) < 10 {
				return nil, malformed("NMEA %s: %d fields, want at least 10", string(typ), len(fields))
			}
			f := find(fields[1])
			if string(fields[2]) != "A" {
				f.hasFix = true
				continue
			}
			if err := nmeaLatLon(fields[3], fields[4], fields[5], fields[6], &f.pos); err != nil {
				return nil, err
			}
			if len(fields[7]) > 0 {
				kn, err := parseFloat(fields[7])
				if err != nil {
					return nil, malformed("NMEA RMC speed %q", string(fields[7]))
				}
				f.pos.SpeedKmh = kn * 1.852
			}
			if len(fields[8]) > 0 {
				c, err := parseFloat(fields[8])
				if err != nil {
					return nil, malformed("NMEA RMC course %q", string(fields[8]))
				}
				f.pos.HeadingDeg = c
			}
			d, err := nmeaDate(fields[9])
			if err != nil {
				return nil, malformed("NMEA RMC date %q", string(fields[9]))
			}
			f.date, f.hasDate, f.hasFix, f.hasValid = d, true, true, true
		case "GGA":
			if len(fields) < 9 {
				return nil, malformed("NMEA %s: %d fields, want at least 9", string(typ), len(fields))
			}
			f := find(fields[1])
			f.hasFix = true
			if string(fields[6]) == "0" || len(fields[6]) == 0 {
				continue
			}
			if err := nmeaLatLon(fields[2], fields[3], fields[4], fields[5], &f.pos); err != nil {
				return nil, err
			}
			if len(fields[7]) > 0 {
				n, err := atoi(fields[7])
				if err != nil || n < 0 {
					return nil, malformed("NMEA GGA satellites %q", string(fields[7]))
				}
				f.pos.Sats = n
			}
			if len(fields[8]) > 0 {
				h, err := parseFloat(fields[8])
				if err != nil {
					return nil, malformed("NMEA GGA hdop %q", string(fields[8]))
				}
				f.pos.HDOP = h
			}
			f.hasValid = true
		}
	}
	if lines == 0 {
		return nil, malformed("empty payload")
	}
	n := 0
	for i := range fixes {
		if fixes[i].hasValid {
			n++
		}
	}
	out := make([]revloop.Position, 0, n)
	for i := range fixes {
		f := &fixes[i]
		if !f.hasValid {
			continue
		}
		if !f.hasDate {
			return nil, malformed("NMEA: fix at %s has no RMC sentence with its date", string(f.hms))
		}
		tod, err := nmeaTime(f.hms)
		if err != nil {
			return nil, err
		}
		f.pos.Time = f.date.Add(tod).UTC()
		out = append(out, f.pos)
	}
	if len(out) == 0 {
		return nil, malformed("NMEA: no valid RMC or GGA fix")
	}
	return out, nil
}

// nmeaFields checks the framing and checksum of one sentence and splits its
// body at commas, appending the fields to dst.
func nmeaFields(line []byte, dst [][]byte) ([][]byte, error) {
	if line[0] != '$' && line[0] != '!' {
		return nil, malformed("NMEA: sentence does not start with $")
	}
	star := bytes.LastIndexByte(line, '*')
	if star < 0 || len(line)-star != 3 {
		return nil, reject(ReasonBadChecksum, "NMEA: sentence without *hh checksum")
	}
	body := line[1:star]
	var cs byte
	start := 0
	for i, c := range body {
		if c < 0x20 || c > 0x7e {
			return nil, malformed("NMEA: non-printable byte in sentence")
		}
		cs ^= c
		if c == ',' {
			dst = append(dst, body[start:i])
			start = i + 1
		}
	}
	dst = append(dst, body[start:])
	var want [1]byte
	if _, err := hex.Decode(want[:], line[star+1:]); err != nil {
		return nil, reject(ReasonBadChecksum, "NMEA: checksum %q is not hex", line[star+1:])
	}
	if want[0] != cs {
		return nil, reject(ReasonBadChecksum, "NMEA: checksum %02X, computed %02X", uint64(want[0]), cs)
	}
	return dst, nil
}

// parseFloat is strconv.ParseFloat of b, without a string for plain
// decimals.
func parseFloat(b []byte) (float64, error) {
	if v, ok := parseDecimal(b); ok {
		return v, nil
	}
	return strconv.ParseFloat(string(b), 64)
}

// atoi is strconv.Atoi of b, without a string for up to 9 plain digits.
func atoi(b []byte) (int, error) {
	if len(b) > 0 && len(b) <= 9 {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return strconv.Atoi(string(b))
			}
			n = n*10 + int(c-'0')
		}
		return n, nil
	}
	return strconv.Atoi(string(b))
}

// nmeaDate parses an RMC date ddmmyy as time.Parse("020106", ...) does.
func nmeaDate(b []byte) (time.Time, error) {
	if len(b) == 6 {
		d, m, y := digits2(b[0:2]), digits2(b[2:4]), digits2(b[4:6])
		if d >= 0 && m >= 1 && m <= 12 && y >= 0 {
			if y >= 69 {
				y += 1900
			} else {
				y += 2000
			}
			if d >= 1 && d <= daysIn(m, y) {
				return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), nil
			}
		}
	}
	return time.Parse("020106", string(b))
}

// digits2 returns the value of two decimal digits, or -1.
func digits2(b []byte) int {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return -1
	}
	return int(b[0]-'0')*10 + int(b[1]-'0')
}

func nmeaLatLon(lat, ns, lon, ew []byte, pos *revloop.Position) error {
	la, err := nmeaCoord(lat, 2)
	if err != nil {
		return malformed("NMEA latitude %q: %v", string(lat), err)
	}
	lo, err := nmeaCoord(lon, 3)
	if err != nil {
		return malformed("NMEA longitude %q: %v", string(lon), err)
	}
	switch string(ns) {
	case "N":
	case "S":
		la = -la
	default:
		return malformed("NMEA hemisphere %q", string(ns))
	}
	switch string(ew) {
	case "E":
	case "W":
		lo = -lo
	default:
		return malformed("NMEA hemisphere %q", string(ew))
	}
	pos.Lat, pos.Lon = la, lo
	return nil
}

// nmeaCoord converts d{2,3}mm.mmmm to degrees.
func nmeaCoord(s []byte, degDigits int) (float64, error) {
	if len(s) < degDigits+2 {
		return 0, fmt.Errorf("too short")
	}
	d, err := atoi(s[:degDigits])
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad degrees")
	}
	m, err := parseFloat(s[degDigits:])
	if err != nil || m < 0 || m >= 60 || math.IsNaN(m) {
		return 0, fmt.Errorf("bad minutes")
	}
	return float64(d) + m/60, nil
}

// nmeaTime parses hhmmss[.sss] into a duration since midnight.
func nmeaTime(s []byte) (time.Duration, error) {
	if len(s) < 6 {
		return 0, malformed("NMEA time %q", string(s))
	}
	h, e1 := atoi(s[0:2])
	m, e2 := atoi(s[2:4])
	sec, e3 := parseFloat(s[4:])
	if e1 != nil || e2 != nil || e3 != nil || h > 23 || m > 59 || sec < 0 || sec >= 61 || h < 0 || m < 0 {
		return 0, malformed("NMEA time %q", string(s))
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(math.Round(sec*1000))*time.Millisecond, nil
}
