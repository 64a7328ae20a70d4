package ingest

import (
	"bytes"
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
		hms      string
		pos      revloop.Position
		date     time.Time
		hasDate  bool
		hasFix   bool
		hasValid bool
	}
	var fixes []*partial
	find := func(hms string) *partial {
		for _, f := range fixes {
			if f.hms == hms {
				return f
			}
		}
		f := &partial{hms: hms, pos: newPosition("")}
		fixes = append(fixes, f)
		return f
	}
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
		fields, err := nmeaFields(line)
		if err != nil {
			return nil, err
		}
		typ := fields[0]
		if len(typ) != 5 {
			continue
		}
		switch typ[2:] {
		case "RMC":
			if len(fields) < 10 {
				return nil, malformed("NMEA %s: %d fields, want at least 10", typ, len(fields))
			}
			f := find(fields[1])
			if fields[2] != "A" {
				f.hasFix = true
				continue
			}
			if err := nmeaLatLon(fields[3], fields[4], fields[5], fields[6], &f.pos); err != nil {
				return nil, err
			}
			if fields[7] != "" {
				kn, err := strconv.ParseFloat(fields[7], 64)
				if err != nil {
					return nil, malformed("NMEA RMC speed %q", fields[7])
				}
				f.pos.SpeedKmh = kn * 1.852
			}
			if fields[8] != "" {
				c, err := strconv.ParseFloat(fields[8], 64)
				if err != nil {
					return nil, malformed("NMEA RMC course %q", fields[8])
				}
				f.pos.HeadingDeg = c
			}
			d, err := time.Parse("020106", fields[9])
			if err != nil {
				return nil, malformed("NMEA RMC date %q", fields[9])
			}
			f.date, f.hasDate, f.hasFix, f.hasValid = d, true, true, true
		case "GGA":
			if len(fields) < 9 {
				return nil, malformed("NMEA %s: %d fields, want at least 9", typ, len(fields))
			}
			f := find(fields[1])
			f.hasFix = true
			if fields[6] == "0" || fields[6] == "" {
				continue
			}
			if err := nmeaLatLon(fields[2], fields[3], fields[4], fields[5], &f.pos); err != nil {
				return nil, err
			}
			if fields[7] != "" {
				n, err := strconv.Atoi(fields[7])
				if err != nil || n < 0 {
					return nil, malformed("NMEA GGA satellites %q", fields[7])
				}
				f.pos.Sats = n
			}
			if fields[8] != "" {
				h, err := strconv.ParseFloat(fields[8], 64)
				if err != nil {
					return nil, malformed("NMEA GGA hdop %q", fields[8])
				}
				f.pos.HDOP = h
			}
			f.hasValid = true
		}
	}
	if lines == 0 {
		return nil, malformed("empty payload")
	}
	out := make([]revloop.Position, 0, len(fixes))
	for _, f := range fixes {
		if !f.hasValid {
			continue
		}
		if !f.hasDate {
			return nil, malformed("NMEA: fix at %s has no RMC sentence with its date", f.hms)
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
// body at commas.
func nmeaFields(line []byte) ([]string, error) {
	if line[0] != '$' && line[0] != '!' {
		return nil, malformed("NMEA: sentence does not start with $")
	}
	star := bytes.LastIndexByte(line, '*')
	if star < 0 || len(line)-star != 3 {
		return nil, reject(ReasonBadChecksum, "NMEA: sentence without *hh checksum")
	}
	body := line[1:star]
	var cs byte
	for _, c := range body {
		if c < 0x20 || c > 0x7e {
			return nil, malformed("NMEA: non-printable byte in sentence")
		}
		cs ^= c
	}
	want, err := strconv.ParseUint(string(line[star+1:]), 16, 8)
	if err != nil {
		return nil, reject(ReasonBadChecksum, "NMEA: checksum %q is not hex", line[star+1:])
	}
	if byte(want) != cs {
		return nil, reject(ReasonBadChecksum, "NMEA: checksum %02X, computed %02X", want, cs)
	}
	parts := bytes.Split(body, []byte{','})
	out := make([]string, len(parts))
	for i, s := range parts {
		out[i] = string(s)
	}
	return out, nil
}

func nmeaLatLon(lat, ns, lon, ew string, pos *revloop.Position) error {
	la, err := nmeaCoord(lat, 2)
	if err != nil {
		return malformed("NMEA latitude %q: %v", lat, err)
	}
	lo, err := nmeaCoord(lon, 3)
	if err != nil {
		return malformed("NMEA longitude %q: %v", lon, err)
	}
	switch ns {
	case "N":
	case "S":
		la = -la
	default:
		return malformed("NMEA hemisphere %q", ns)
	}
	switch ew {
	case "E":
	case "W":
		lo = -lo
	default:
		return malformed("NMEA hemisphere %q", ew)
	}
	pos.Lat, pos.Lon = la, lo
	return nil
}

// nmeaCoord converts d{2,3}mm.mmmm to degrees.
func nmeaCoord(s string, degDigits int) (float64, error) {
	if len(s) < degDigits+2 {
		return 0, fmt.Errorf("too short")
	}
	d, err := strconv.Atoi(s[:degDigits])
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad degrees")
	}
	m, err := strconv.ParseFloat(s[degDigits:], 64)
	if err != nil || m < 0 || m >= 60 || math.IsNaN(m) {
		return 0, fmt.Errorf("bad minutes")
	}
	return float64(d) + m/60, nil
}

// nmeaTime parses hhmmss[.sss] into a duration since midnight.
func nmeaTime(s string) (time.Duration, error) {
	if len(s) < 6 {
		return 0, malformed("NMEA time %q", s)
	}
	h, e1 := strconv.Atoi(s[0:2])
	m, e2 := strconv.Atoi(s[2:4])
	sec, e3 := strconv.ParseFloat(s[4:], 64)
	if e1 != nil || e2 != nil || e3 != nil || h > 23 || m > 59 || sec < 0 || sec >= 61 || h < 0 || m < 0 {
		return 0, malformed("NMEA time %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(math.Round(sec*1000))*time.Millisecond, nil
}
