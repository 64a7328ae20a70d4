package ingest

import (
	"encoding/binary"
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

// plainByte marks the bytes a JSON string holds as they are: not a quote,
// a backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// plain8 reports whether the 8 bytes packed in x are all plainByte: none is
// a quote, a backslash or below 0x20 (the usual test for a zero byte, on x
// and on x xor each special byte).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x-0x20*ones)&^x&highs|hasZero(x^('"'*ones))|hasZero(x^('\\'*ones)) == 0
}

func scanString(b []byte, i int) (int, error) {
	start := i
	i++
	for i < len(b) {
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
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

// knownKey returns the member name the decoders look for that equals the
// raw (quoted-content) key b, so that eachMember hands them over without
// allocating a string per member. A raw key equal to one of them has no
// escapes, so it decodes to itself.
func knownKey(b []byte) (string, bool) {
	switch string(b) {
	case "ts":
		return "ts", true
	case "seq":
		return "seq", true
	case "device":
		return "device", true
	case "vehicle":
		return "vehicle", true
	case "lat":
		return "lat", true
	case "lon":
		return "lon", true
	case "speed_kmh":
		return "speed_kmh", true
	case "heading_deg":
		return "heading_deg", true
	case "hdop":
		return "hdop", true
	case "sats":
		return "sats", true
	case "odometer_km":
		return "odometer_km", true
	case "ignition":
		return "ignition", true
	case "bin":
		return "bin", true
	case "level_pct":
		return "level_pct", true
	case "distance_mm":
		return "distance_mm", true
	case "temp_c":
		return "temp_c", true
	case "tilt_deg":
		return "tilt_deg", true
	case "battery_v":
		return "battery_v", true
	case "container_height_cm":
		return "container_height_cm", true
	case "actual_filling_level_cm":
		return "actual_filling_level_cm", true
	case "actual_filling_percentage":
		return "actual_filling_percentage", true
	case "epc":
		return "epc", true
	case "antenna":
		return "antenna", true
	case "rssi_dbm":
		return "rssi_dbm", true
	case "reads":
		return "reads", true
	case "site":
		return "site", true
	case "kg":
		return "kg", true
	case "stable":
		return "stable", true
	case "online":
		return "online", true
	case "firmware":
		return "firmware", true
	case "uptime_s":
		return "uptime_s", true
	case "config_version":
		return "config_version", true
	case "bn":
		return "bn", true
	case "bt":
		return "bt", true
	case "bver":
		return "bver", true
	case "n":
		return "n", true
	case "t":
		return "t", true
	case "v":
		return "v", true
	case "vb":
		return "vb", true
	case "vs":
		return "vs", true
	case "u":
		return "u", true
	case "ver":
		return "ver", true
	}
	return "", false
}

// skipValue returns the end offset of the value starting at b[i], which
// scanValue has already checked; it does not validate again. On bytes that
// were not checked it still stays within b.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the end offset of the checked string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

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
		if raw[i] != '"' {
			return errNotObject
		}
		kend := skipString(raw, i)
		if kend-1 <= i || raw[kend-1] != '"' {
			return errNotObject
		}
		key, ok := knownKey(raw[i+1 : kend-1])
		if !ok {
			var err error
			if key, err = jsonString(raw[i:kend]); err != nil {
				return err
			}
		}
		i = skipWS(raw, kend)
		if i >= len(raw) || raw[i] != ':' {
			return errNotObject
		}
		i = skipWS(raw, i+1)
		vend := skipValue(raw, i)
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

// eachMemberChecked is eachMember for a whole payload p that has not been
// checked: it checks the syntax as jsonTop does while it walks p, which
// must hold one object with optional white space around it, and so reads
// p once instead of twice. It stops at the first syntax error or error of
// fn; its syntax errors do not say where, so a caller that gets an error
// asks jsonTop (see syntaxFirst) whether p is valid JSON at all, which is
// the error to report first.
func eachMemberChecked(p []byte, fn func(key string, val []byte) error) error {
	i := skipWS(p, 0)
	if i >= len(p) || p[i] != '{' {
		return errNotObject
	}
	end, err := walkObject(p, i, 0, fn)
	if err != nil {
		return err
	}
	return onlyWS(p, end)
}

// eachElementChecked is eachElement for a whole payload p that has not
// been checked, as eachMemberChecked is for eachMember: p must hold one
// array with optional white space around it.
func eachElementChecked(p []byte, fn func(val []byte) error) error {
	return walkArray(p, func(i int) (int, error) {
		end, err := scanValue(p, i, 1)
		if err != nil {
			return 0, err
		}
		return end, fn(p[i:end])
	})
}

// walkArray checks the whole payload p, one array with optional white
// space around it, calling elem with the offset of each element; elem
// checks the element and returns its end offset.
func walkArray(p []byte, elem func(i int) (int, error)) error {
	i := skipWS(p, 0)
	if i >= len(p) || p[i] != '[' {
		return errNotArray
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == ']' {
		return onlyWS(p, i+1)
	}
	for {
		if i >= len(p) {
			return errJSON
		}
		end, err := elem(i)
		if err != nil {
			return err
		}
		i = skipWS(p, end)
		if i >= len(p) {
			return errJSON
		}
		if p[i] == ']' {
			return onlyWS(p, i+1)
		}
		if p[i] != ',' {
			return errJSON
		}
		i = skipWS(p, i+1)
	}
}

// onlyWS reports a syntax error unless p holds only white space from i on.
func onlyWS(p []byte, i int) error {
	if skipWS(p, i) != len(p) {
		return errJSON
	}
	return nil
}

// walkObject checks the object at p[i], at nesting depth depth, as
// scanValue does, calls fn for each of its members on the way, and returns
// its end offset. Its syntax errors do not say where (see syntaxFirst).
func walkObject(p []byte, i, depth int, fn func(key string, val []byte) error) (int, error) {
	if depth >= maxJSONDepth {
		return 0, errJSON
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(p) || p[i] != '"' {
			return 0, errJSON
		}
		kend, err := scanString(p, i)
		if err != nil {
			return 0, err
		}
		key, ok := knownKey(p[i+1 : kend-1])
		if !ok {
			if key, err = jsonString(p[i:kend]); err != nil {
				return 0, err
			}
		}
		i = skipWS(p, kend)
		if i >= len(p) || p[i] != ':' {
			return 0, errJSON
		}
		i = skipWS(p, i+1)
		vend, err := scanValue(p, i, depth+1)
		if err != nil {
			return 0, err
		}
		if err := fn(key, p[i:vend]); err != nil {
			return 0, err
		}
		i = skipWS(p, vend)
		if i >= len(p) {
			return 0, errJSON
		}
		if p[i] == '}' {
			return i + 1, nil
		}
		if p[i] != ',' {
			return 0, errJSON
		}
		i = skipWS(p, i+1)
	}
}

// objWalker lets the callback of eachRecordChecked walk the members of its
// element while they are checked.
type objWalker struct {
	p      []byte
	i, end int
	walked bool
}

// members checks the element, an object, calling fn for each member.
func (w *objWalker) members(fn func(key string, val []byte) error) error {
	end, err := walkObject(w.p, w.i, 1, fn)
	w.end, w.walked = end, err == nil
	return err
}

// eachRecordChecked walks a whole payload p holding an array, not yet
// checked, in one pass: for every element it points w at the element and
// calls fn with the element's first byte; fn may walk the members of an
// object element with w (which it shares with the caller rather than
// receives, so that it stays on the stack). An element fn does not walk is
// checked with scanValue. Syntax errors are as for eachElementChecked.
func eachRecordChecked(p []byte, w *objWalker, fn func(first byte) error) error {
	return walkArray(p, func(i int) (int, error) {
		*w = objWalker{p: p, i: i}
		if err := fn(p[i]); err != nil {
			return 0, err
		}
		if w.walked {
			return w.end, nil
		}
		return scanValue(p, i, 1)
	})
}

// elements walks the elements of raw with eachElement, or with
// eachElementChecked when raw is a whole payload not yet checked.
func elements(raw []byte, checked bool, fn func(val []byte) error) error {
	if checked {
		return eachElementChecked(raw, fn)
	}
	return eachElement(raw, fn)
}

// members walks the members of obj with eachMember, or with
// eachMemberChecked when obj is a whole payload not yet checked.
func members(obj []byte, checked bool, fn func(key string, val []byte) error) error {
	if checked {
		return eachMemberChecked(obj, fn)
	}
	return eachMember(obj, fn)
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
		vend := skipValue(raw, i)
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

// plainString returns the content of the raw string token raw (quotes
// checked by the caller) and whether it is plain: ASCII without escapes,
// so that the bytes are the decoded string.
func plainString(raw []byte) ([]byte, bool) {
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c == '\\' || c >= utf8.RuneSelf {
			return in, false
		}
	}
	return in, true
}

// jsonString decodes a raw JSON string token.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("want a string")
	}
	in, plain := plainString(raw)
	if plain {
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
	if v, ok := parseDecimal(raw); ok {
		return v, nil
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, errors.New("number out of range")
	}
	return v, nil
}

// exactPow10 holds the powers of ten that float64 represents exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseDecimal parses the common short form [-]digits[.digits] with at most
// 15 digits in all, the result strconv.ParseFloat gives for it: both the
// digits as an integer and the power of ten are exact in a float64, so their
// quotient is the correctly rounded value. It reports false for any other
// form (exponents, more digits, signs other than a leading '-', no digit),
// which the caller then hands to strconv.
func parseDecimal(b []byte) (float64, bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i = 1
	}
	var mant uint64
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		mant = mant*10 + uint64(b[i]-'0')
		i++
	}
	digits, frac := i-start, 0
	if i < len(b) && b[i] == '.' {
		i++
		start = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		frac = i - start
		digits += frac
	}
	if i != len(b) || digits == 0 || digits > 15 {
		return 0, false
	}
	v := float64(mant) / exactPow10[frac]
	if neg {
		v = -v
	}
	return v, true
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
		if t, ok := parseRFC3339(raw[1 : len(raw)-1]); ok {
			return t, nil
		}
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

// parseRFC3339 parses the plain form YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±hh:mm)
// to the UTC instant time.Parse(time.RFC3339Nano, ...) gives for it, without
// building a string. Anything else (and any out-of-range part) reports
// false, for the caller to hand to time.Parse and its error.
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	ok := true
	num := func(s []byte, lo, hi int) int {
		x := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				ok = false
				return lo
			}
			x = x*10 + int(c-'0')
		}
		if x < lo || x > hi {
			ok = false
			return lo
		}
		return x
	}
	year := num(b[0:4], 0, 9999)
	month := num(b[5:7], 1, 12)
	day := num(b[8:10], 1, daysIn(month, year))
	hour := num(b[11:13], 0, 23)
	minute := num(b[14:16], 0, 59)
	sec := num(b[17:19], 0, 59)
	if !ok {
		return time.Time{}, false
	}
	b = b[19:]
	nsec := 0
	if b[0] == '.' {
		n := 1
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			nsec = nsec*10 + int(b[n]-'0')
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, false
		}
		for k := n; k < 10; k++ {
			nsec *= 10
		}
		b = b[n:]
	}
	offset := 0
	switch {
	case len(b) == 1 && b[0] == 'Z':
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		hh, mm := num(b[1:3], 0, 23), num(b[4:6], 0, 59)
		if !ok {
			return time.Time{}, false
		}
		offset = (hh*60 + mm) * 60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysSinceEpoch returns the days from 1970-01-01 to a valid proleptic
// Gregorian date (H. Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// daysIn returns the number of days of month in year (proleptic Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
