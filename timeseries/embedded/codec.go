package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/revloop/revloop/timeseries"
)

// ErrCorrupt is returned when a stored tag or field blob cannot be decoded.
var ErrCorrupt = errors.New("embedded: corrupt stored value")

// Field value type codes of the stored encoding.
const (
	typeFloat  = 'f'
	typeInt    = 'i'
	typeBool   = 'b'
	typeString = 's'
)

// appendTags encodes sorted tags as a sequence of (uvarint length, bytes)
// pairs: key, value, key, value... The encoding of a given tag set is unique,
// so it can be part of the primary key.
func appendTags(b []byte, tags []timeseries.Tag) []byte {
	for _, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t.Key)))
		b = append(b, t.Key...)
		b = binary.AppendUvarint(b, uint64(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b
}

func decodeTags(b []byte) ([]timeseries.Tag, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var tags []timeseries.Tag
	for len(b) > 0 {
		k, rest, err := readString(b)
		if err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		v, rest, err := readString(rest)
		if err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		tags = append(tags, timeseries.Tag{Key: k, Value: v})
		b = rest
	}
	return tags, nil
}

// appendFields encodes fields as (key, type byte, value) triples. Floats are
// 8 bytes little endian, ints zigzag varints, bools one byte, strings
// length-prefixed.
func appendFields(b []byte, fields []timeseries.Field) []byte {
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f.Key)))
		b = append(b, f.Key...)
		switch v := f.Value.(type) {
		case float64:
			b = append(b, typeFloat)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case int64:
			b = append(b, typeInt)
			b = binary.AppendVarint(b, v)
		case bool:
			b = append(b, typeBool)
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case string:
			b = append(b, typeString)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

func decodeFields(b []byte) ([]timeseries.Field, error) {
	fields := make([]timeseries.Field, 0, 8)
	for len(b) > 0 {
		k, rest, err := readString(b)
		if err != nil {
			return nil, fmt.Errorf("fields: %w", err)
		}
		if len(rest) == 0 {
			return nil, fmt.Errorf("fields: %w: missing type of %q", ErrCorrupt, k)
		}
		typ := rest[0]
		rest = rest[1:]
		var v any
		switch typ {
		case typeFloat:
			if len(rest) < 8 {
				return nil, fmt.Errorf("fields: %w: short float %q", ErrCorrupt, k)
			}
			v = math.Float64frombits(binary.LittleEndian.Uint64(rest))
			rest = rest[8:]
		case typeInt:
			n, m := binary.Varint(rest)
			if m <= 0 {
				return nil, fmt.Errorf("fields: %w: bad int %q", ErrCorrupt, k)
			}
			v = n
			rest = rest[m:]
		case typeBool:
			if len(rest) < 1 {
				return nil, fmt.Errorf("fields: %w: short bool %q", ErrCorrupt, k)
			}
			v = rest[0] != 0
			rest = rest[1:]
		case typeString:
			s, r, err := readString(rest)
			if err != nil {
				return nil, fmt.Errorf("fields: %w", err)
			}
			v = s
			rest = r
		default:
			return nil, fmt.Errorf("fields: %w: type %q of %q", ErrCorrupt, typ, k)
		}
		fields = append(fields, timeseries.Field{Key: k, Value: v})
		b = rest
	}
	return fields, nil
}

func readString(b []byte) (string, []byte, error) {
	n, m := binary.Uvarint(b)
	if m <= 0 || n > uint64(len(b)-m) {
		return "", nil, fmt.Errorf("%w: bad length", ErrCorrupt)
	}
	return string(b[m : m+int(n)]), b[m+int(n):], nil
}

// mergeFields returns old's fields overwritten and extended by newer's, the
// way InfluxDB merges two writes of one point.
func mergeFields(old, newer []timeseries.Field) []timeseries.Field {
	out := make([]timeseries.Field, 0, len(old)+len(newer))
	for _, f := range old {
		replaced := false
		for _, g := range newer {
			if g.Key == f.Key {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, f)
		}
	}
	return append(out, newer...)
}

// A block is the stored form of one device's points of one measurement that
// fall in one bucket and were written by one batch. Each point is
// uvarint(ts - block min ts), uvarint(len tags), tags, uvarint(len fields),
// fields.
func appendBlockPoint(b []byte, delta uint64, tags, fields []byte) []byte {
	b = binary.AppendUvarint(b, delta)
	b = binary.AppendUvarint(b, uint64(len(tags)))
	b = append(b, tags...)
	b = binary.AppendUvarint(b, uint64(len(fields)))
	return append(b, fields...)
}

// entry is one decoded block point whose tags and fields still point into
// the block.
type entry struct {
	ts     int64
	tags   []byte
	fields []byte
}

// decodeBlock calls fn for every point of a block whose smallest timestamp
// is minTS.
func decodeBlock(b []byte, minTS int64, fn func(entry)) error {
	for len(b) > 0 {
		d, m := binary.Uvarint(b)
		if m <= 0 {
			return fmt.Errorf("block: %w: bad timestamp", ErrCorrupt)
		}
		b = b[m:]
		tl, m := binary.Uvarint(b)
		if m <= 0 || tl > uint64(len(b)-m) {
			return fmt.Errorf("block: %w: bad tags length", ErrCorrupt)
		}
		tags := b[m : m+int(tl)]
		b = b[m+int(tl):]
		fl, m := binary.Uvarint(b)
		if m <= 0 || fl > uint64(len(b)-m) {
			return fmt.Errorf("block: %w: bad fields length", ErrCorrupt)
		}
		fields := b[m : m+int(fl)]
		b = b[m+int(fl):]
		fn(entry{ts: minTS + int64(d), tags: tags, fields: fields})
	}
	return nil
}
