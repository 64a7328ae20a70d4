package nmea

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors for broken sentences.
var (
	ErrChecksum    = errors.New("nmea: checksum mismatch")
	ErrMalformed   = errors.New("nmea: malformed sentence")
	ErrUnsupported = errors.New("nmea: unsupported sentence")
)

// MaxSentence is the longest sentence accepted (the standard allows 82
// characters; some receivers exceed it slightly).
const MaxSentence = 120

// RMC is the recommended minimum specific GNSS data sentence.
type RMC struct {
	Time       time.Time // UTC date and time of the fix
	Valid      bool      // status A
	Lat, Lon   float64   // WGS84 degrees
	SpeedKnots float64
	CourseDeg  float64 // NaN when not reported
}

// GGA is the global positioning system fix data sentence.
type GGA struct {
	TimeOfDay time.Duration // since UTC midnight
	Lat, Lon  float64
	Quality   int     // 0 invalid, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning
	Sats      int     // satellites used
	HDOP      float64 // NaN when not reported
	AltitudeM float64 // above mean sea level; NaN when not reported
}

// GSA is the DOP and active satellites sentence.
type GSA struct {
	FixType          int // 1 none, 2 2D, 3 3D
	Sats             int // non-empty satellite id fields
	PDOP, HDOP, VDOP float64
}

// VTG is the course over ground and ground speed sentence.
type VTG struct {
	CourseDeg float64 // true course; NaN when not reported
	SpeedKmh  float64
}

// Parse verifies the checksum of one sentence (with or without the trailing
// CR LF) and decodes RMC, GGA, GSA and VTG sentences of any talker. It returns
// *RMC, *GGA, *GSA or *VTG, or an error wrapping ErrChecksum, ErrMalformed or
// ErrUnsupported.
func Parse(line string) (any, error) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) > MaxSentence {
		return nil, fmt.Errorf("%w: %d characters", ErrMalformed, len(line))
	}
	if len(line) < 7 || line[0] != '$' {
		return nil, fmt.Errorf("%w: no '$' start", ErrMalformed)
	}
	star := strings.LastIndexByte(line, '*')
	if star < 0 || len(line)-star != 3 {
		return nil, fmt.Errorf("%w: no '*hh' checksum", ErrMalformed)
	}
	want, err := strconv.ParseUint(line[star+1:], 16, 8)
	if err != nil {
		return nil, fmt.Errorf("%w: checksum %q", ErrMalformed, line[star+1:])
	}
	var sum byte
	for i := 1; i < star; i++ {
		sum ^= line[i]
	}
	if sum != byte(want) {
		return nil, fmt.Errorf("%w: computed %02X, sentence says %02X", ErrChecksum, sum, want)
	}
	f := strings.Split(line[1:star], ",")
	if len(f[0]) != 5 {
		return nil, fmt.Errorf("%w: address %q", ErrMalformed, f[0])
	}
	kind := f[0][2:]
	var v any
	switch kind {
	case "RMC":
		v, err = parseRMC(f)
	case "GGA":
		v, err = parseGGA(f)
	case "GSA":
		v, err = parseGSA(f)
	case "VTG":
		v, err = parseVTG(f)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, f[0])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, kind, err)
	}
	return v, nil
}

func need(f []string, n int) error {
	if len(f) < n {
		return fmt.Errorf("%d fields, want at least %d", len(f)-1, n-1)
	}
	return nil
}

func parseRMC(f []string) (*RMC, error) {
	// $GPRMC,hhmmss.ss,A,llll.ll,a,yyyyy.yy,a,x.x,x.x,ddmmyy,x.x,a[,m[,s]]*hh
	if err := need(f, 10); err != nil {
		return nil, err
	}
	tod, err := parseTime(f[1])
	if err != nil {
		return nil, err
	}
	date, err := parseDate(f[9])
	if err != nil {
		return nil, err
	}
	r := &RMC{Time: date.Add(tod), Valid: f[2] == "A"}
	if f[2] != "A" && f[2] != "V" {
		return nil, fmt.Errorf("status %q", f[2])
	}
	if r.Valid {
		if r.Lat, err = parseCoord(f[3], f[4], 2, 'N', 'S'); err != nil {
			return nil, err
		}
		if r.Lon, err = parseCoord(f[5], f[6], 3, 'E', 'W'); err != nil {
			return nil, err
		}
	}
	if r.SpeedKnots, err = parseOpt(f[7], 0); err != nil {
		return nil, fmt.Errorf("speed: %w", err)
	}
	if r.CourseDeg, err = parseOpt(f[8], math.NaN()); err != nil {
		return nil, fmt.Errorf("course: %w", err)
	}
	return r, nil
}

func parseGGA(f []string) (*GGA, error) {
	// $GPGGA,hhmmss.ss,llll.ll,a,yyyyy.yy,a,q,nn,h.h,a.a,M,g.g,M,age,ref*hh
	if err := need(f, 10); err != nil {
		return nil, err
	}
	tod, err := parseTime(f[1])
	if err != nil {
		return nil, err
	}
	g := &GGA{TimeOfDay: tod}
	if g.Quality, err = strconv.Atoi(f[6]); err != nil || g.Quality < 0 || g.Quality > 8 {
		return nil, fmt.Errorf("fix quality %q", f[6])
	}
	if g.Quality > 0 {
		if g.Lat, err = parseCoord(f[2], f[3], 2, 'N', 'S'); err != nil {
			return nil, err
		}
		if g.Lon, err = parseCoord(f[4], f[5], 3, 'E', 'W'); err != nil {
			return nil, err
		}
	}
	sats, err := parseOpt(f[7], 0)
	if err != nil || sats < 0 || sats > 99 {
		return nil, fmt.Errorf("satellites %q", f[7])
	}
	g.Sats = int(sats)
	if g.HDOP, err = parseOpt(f[8], math.NaN()); err != nil {
		return nil, fmt.Errorf("hdop: %w", err)
	}
	if g.AltitudeM, err = parseOpt(f[9], math.NaN()); err != nil {
		return nil, fmt.Errorf("altitude: %w", err)
	}
	return g, nil
}

func parseGSA(f []string) (*GSA, error) {
	// $GPGSA,a,x,id*12,p.p,h.h,v.v[,sys]*hh
	if err := need(f, 18); err != nil {
		return nil, err
	}
	g := &GSA{}
	var err error
	if g.FixType, err = strconv.Atoi(f[2]); err != nil || g.FixType < 1 || g.FixType > 3 {
		return nil, fmt.Errorf("fix type %q", f[2])
	}
	for _, id := range f[3:15] {
		if id != "" {
			g.Sats++
		}
	}
	for i, p := range []*float64{&g.PDOP, &g.HDOP, &g.VDOP} {
		if *p, err = parseOpt(f[15+i], math.NaN()); err != nil {
			return nil, fmt.Errorf("dop: %w", err)
		}
	}
	return g, nil
}

func parseVTG(f []string) (*VTG, error) {
	// $GPVTG,c.c,T,c.c,M,x.x,N,x.x,K[,m]*hh
	if err := need(f, 9); err != nil {
		return nil, err
	}
	v := &VTG{}
	var err error
	if v.CourseDeg, err = parseOpt(f[1], math.NaN()); err != nil {
		return nil, fmt.Errorf("course: %w", err)
	}
	if v.SpeedKmh, err = parseOpt(f[7], math.NaN()); err != nil {
		return nil, fmt.Errorf("speed: %w", err)
	}
	if math.IsNaN(v.SpeedKmh) {
		kn, err := parseOpt(f[5], 0)
		if err != nil {
			return nil, fmt.Errorf("speed: %w", err)
		}
		v.SpeedKmh = kn * 1.852
	}
	return v, nil
}

func parseOpt(s string, def float64) (float64, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("number %q", s)
	}
	return v, nil
}

func parseTime(s string) (time.Duration, error) {
	if len(s) < 6 {
		return 0, fmt.Errorf("time %q", s)
	}
	h, e1 := strconv.Atoi(s[0:2])
	m, e2 := strconv.Atoi(s[2:4])
	sec, e3 := strconv.ParseFloat(s[4:], 64)
	if e1 != nil || e2 != nil || e3 != nil || h > 23 || m > 59 || sec < 0 || sec >= 61 || s[4] == '+' || s[4] == '-' {
		return 0, fmt.Errorf("time %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(math.Round(sec*1000))*time.Millisecond, nil
}

func parseDate(s string) (time.Time, error) {
	if len(s) != 6 {
		return time.Time{}, fmt.Errorf("date %q", s)
	}
	d, e1 := strconv.Atoi(s[0:2])
	m, e2 := strconv.Atoi(s[2:4])
	y, e3 := strconv.Atoi(s[4:6])
	if e1 != nil || e2 != nil || e3 != nil || d < 1 || d > 31 || m < 1 || m > 12 || y < 0 {
		return time.Time{}, fmt.Errorf("date %q", s)
	}
	if y < 80 {
		y += 2000
	} else {
		y += 1900
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), nil
}

// parseCoord decodes ddmm.mmmm (deg digits of degrees) with its hemisphere.
func parseCoord(v, hemi string, deg int, pos, neg byte) (float64, error) {
	if len(v) < deg+2 || len(hemi) != 1 || v[0] == '-' || v[0] == '+' {
		return 0, fmt.Errorf("coordinate %q %q", v, hemi)
	}
	d, err := strconv.Atoi(v[:deg])
	if err != nil {
		return 0, fmt.Errorf("coordinate %q", v)
	}
	m, err := strconv.ParseFloat(v[deg:], 64)
	if err != nil || m < 0 || m >= 60 || math.IsNaN(m) {
		return 0, fmt.Errorf("coordinate %q", v)
	}
	c := float64(d) + m/60
	if (deg == 2 && c > 90) || c > 180 {
		return 0, fmt.Errorf("coordinate %q out of range", v)
	}
	switch hemi[0] {
	case pos:
	case neg:
		c = -c
	default:
		return 0, fmt.Errorf("hemisphere %q", hemi)
	}
	return c, nil
}

// Checksum returns the NMEA checksum of the text between '$' and '*'.
func Checksum(body string) byte {
	var s byte
	for i := 0; i < len(body); i++ {
		s ^= body[i]
	}
	return s
}
