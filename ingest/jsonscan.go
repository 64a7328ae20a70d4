package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoders read JSON with this small scanner instead of encoding/json:
// payloads are flat and small, and walking the bytes without reflection or
// intermediate maps keeps the hot path (GPS fixes) cheap. The scanner is
// strict about syntax (RFC 8259) and limits nesting.

const maxJSONDepth = 16

var errJSON = errors.New("invalid JSON")

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// jsonTop checks that b holds exactly one JSON value (with optional
// surrounding white space) and returns it.
func jsonTop(b []byte) ([]byte, error) {
	i := skipWS(b, 0)
	end, err := scanValue(b, i, 0)
	if err != nil {
		return nil, err
	}
	if j := skipWS(b, end); j != len(b) {
		return nil, fmt.Errorf("%w: trailing data at offset %d", errJSON, j)
	}
	return b[i:end], nil
}

// scanValue returns the end offset of the value starting at b[i].
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: unexpected end", errJSON)
	}
	switch c := b[i]; {
	case c == '{':
		if depth >= maxJSONDepth {
			return 0, fmt.Errorf("%w: nested too deeply", errJSON)
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, fmt.Errorf("%w: want object key at offset %d", errJSON, i)
			}
			end, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, fmt.Errorf("%w: want ':' at offset %d", errJSON, i)
			}
			i = skipWS(b, i+1)
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, fmt.Errorf("%w: unexpected end", errJSON)
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, fmt.Errorf("%w: want ',' or '}' at offset %d", errJSON, i)
			}
			i = skipWS(b, i+1)
		}
	case c == '[':
		if depth >= maxJSONDepth {
			return 0, fmt.Errorf("%w: nested too deeply", errJSON)
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, fmt.Errorf("%w: unexpected end", errJSON)
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, fmt.Errorf("%w: want ',' or ']' at offset %d", errJSON, i)
			}
			i = skipWS(b, i+1)
		}
	case c == '"':
		return scanString(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	}
	return 0, fmt.Errorf("%w: unexpected byte %q at offset %d", errJSON, b[i], i)
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, fmt.Errorf("%w: bad literal at offset %d", errJSON, i)
	}
	return i + len(lit), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, fmt.Errorf("%w: bad number at offset %d", errJSON, start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, fmt.Errorf("%w: bad number at offset %d", errJSON, start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, fmt.Errorf("%w: bad number at offset %d", errJSON, start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func scanString(b []byte, i int) (int, error) {
	start := i
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, fmt.Errorf("%w: unterminated string at offset %d", errJSON, start)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, fmt.Errorf("%w: bad escape at offset %d", errJSON, i)
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, fmt.Errorf("%w: bad escape at offset %d", errJSON, i)
					}
				}
				i += 6
			default:
				return 0, fmt.Errorf("%w: bad escape at offset %d", errJSON, i)
			}
		case c < 0x20:
			return 0, fmt.Errorf("%w: control character in string at offset %d", errJSON, i)
		default:
			i++
		}
	}
	return 0, fmt.Errorf("%w: unterminated string at offset %d", errJSON, start)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// knownKeys are the member names the decoders look for, so that eachMember
// hands them over without allocating a string per member. A raw key equal
// to one of them has no escapes, so it decodes to itself.
var knownKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"ts", "device", "vehicle", "lat", "lon", "speed_kmh", "heading_deg", "hdop", "sats", "odometer_km", "ignition",
		"bin", "level_pct", "distance_mm", "temp_c", "tilt_deg", "battery_v", "container_height_cm",
		"actual_filling_level_cm", "actual_filling_percentage",
		"epc", "antenna", "rssi_dbm", "reads", "site", "kg", "stable",
		"online", "firmware", "uptime_s", "config_version",
		"bn", "bt", "bver", "n", "t", "v", "vb", "vs", "u", "ver",
	} {
		m[k] = k
	}
	return m
}()

// eachMember calls fn with the key (unquoted; escapes resolved) and the raw
// value of every member of the object raw, which must be a scanned object.
func eachMember(raw []byte, fn func(key string, val []byte) error) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errNotObject
	}
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for i < len(raw) {
		kend, err := scanString(raw, i)
		if err != nil {
			return err
		}
		key, ok := knownKeys[string(raw[i+1:kend-1])]
		if !ok {
			if key, err = jsonString(raw[i:kend]); err != nil {
				return err
			}
		}
		i = skipWS(raw, kend)
		i = skipWS(raw, i+1) // ':'
		vend, err := scanValue(raw, i, 1)
		if err != nil {
			return err
		}
		if err := fn(key, raw[i:vend]); err != nil {
			return err
		}
		i = skipWS(raw, vend)
		if i >= len(raw) || raw[i] == '}' {
			return nil
		}
		i = skipWS(raw, i+1) // ','
	}
	return nil
}

var (
	errNotObject = fmt.Errorf("%w: want an object", errJSON)
	errNotArray  = fmt.Errorf("%w: want an array", errJSON)
)

// eachElement calls fn with every element of the scanned array raw.
func eachElement(raw []byte, fn func(val []byte) error) error {
	if len(raw) == 0 || raw[0] != '[' {
		return errNotArray
	}
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return nil
	}
	for i < len(raw) {
		vend, err := scanValue(raw, i, 1)
		if err != nil {
			return err
		}
		if err := fn(raw[i:vend]); err != nil {
			return err
		}
		i = skipWS(raw, vend)
		if i >= len(raw) || raw[i] == ']' {
			return nil
		}
		i = skipWS(raw, i+1)
	}
	return nil
}

// jsonString decodes a raw JSON string token.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("want a string")
	}
	in := raw[1 : len(raw)-1]
	simple := true
	for _, c := range in {
		if c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return string(in), nil
	}
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", errors.New("string is not valid UTF-8")
			}
			out = append(out, in[i:i+n]...)
			i += n
			continue
		}
		if i+1 >= len(in) {
			return "", errors.New("bad escape")
		}
		switch in[i+1] {
		case '"', '\\', '/':
			out = append(out, in[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(in) {
				return "", errors.New("bad escape")
			}
			v, err := strconv.ParseUint(string(in[i+2:i+6]), 16, 16)
			if err != nil {
				return "", errors.New("bad escape")
			}
			r := rune(v)
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u' {
					if v2, err := strconv.ParseUint(string(in[i+2:i+6]), 16, 16); err == nil {
						if d := utf16.DecodeRune(r, rune(v2)); d != utf8.RuneError {
							r2 = d
							i += 6
						}
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", errors.New("bad escape")
		}
		i += 2
	}
	return string(out), nil
}

// jsonFloat decodes a raw JSON number.
func jsonFloat(raw []byte) (float64, error) {
	if len(raw) == 0 || !(raw[0] == '-' || isDigit(raw[0])) {
		return 0, errors.New("want a number")
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, errors.New("number out of range")
	}
	return v, nil
}

// jsonInt decodes a raw JSON number that must be integral.
func jsonInt(raw []byte) (int64, error) {
	v, err := jsonFloat(raw)
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) || v < -(1<<53) || v > 1<<53 {
		return 0, errors.New("want an integer")
	}
	return int64(v), nil
}

// jsonBool decodes a raw JSON boolean.
func jsonBool(raw []byte) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("want true or false")
}

func isNull(raw []byte) bool { return string(raw) == "null" }

// jsonTime decodes a device timestamp: an RFC 3339 string or Unix
// milliseconds.
func jsonTime(raw []byte) (time.Time, error) {
	if len(raw) > 0 && raw[0] == '"' {
		s, err := jsonString(raw)
		if err != nil {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("want RFC 3339 or Unix milliseconds, got %q", s)
		}
		return t.UTC(), nil
	}
	v, err := jsonFloat(raw)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 or Unix milliseconds")
	}
	if v < 0 || v > 1e15 {
		return time.Time{}, fmt.Errorf("unix milliseconds %v out of range", v)
	}
	ms := math.Floor(v)
	return time.UnixMilli(int64(ms)).Add(time.Duration((v - ms) * 1e6)).UTC(), nil
}
