package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/revloop/revloop"
)

// The write-ahead log is a series of segment files, wal-<16 hex digits>.log,
// numbered upwards. Each Write appends one record and fsyncs before it is
// acknowledged:
//
//	uint32 little endian payload length
//	uint32 little endian CRC-32C of the payload
//	payload: repeated (uvarint len, measurement) (uvarint len, device)
//	         (varint ts) (uvarint len, tags) (uvarint len, fields)
//
// A flush moves the points of closed segments into the tables and records the
// number of the last flushed segment in the meta table in the same
// transaction; the segment files are deleted afterwards. Open replays the
// segments above that number, so a crash at any moment loses nothing that
// was acknowledged and applies nothing twice.

const (
	walPrefix = "wal-"
	walSuffix = ".log"
	recHeader = 8
	// maxRecord bounds one record so that a corrupt length cannot make
	// replay allocate without limit.
	maxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func walName(dir string, n uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%016x%s", walPrefix, n, walSuffix))
}

// walSegments lists the segment numbers under dir, ascending.
func walSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, walPrefix) || !strings.HasSuffix(name, walSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, walPrefix), walSuffix), 16, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// segment is the open segment the writer appends to.
type segment struct {
	n    uint64
	f    *os.File
	size int64
}

func createSegment(dir string, n uint64) (*segment, error) {
	f, err := os.OpenFile(walName(dir, n), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &segment{n: n, f: f}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes one record and fsyncs it. On failure it cuts the file back
// to its previous size so that a later record never follows a torn one.
func (s *segment) append(rec []byte) error {
	_, err := s.f.WriteAt(rec, s.size)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			return fmt.Errorf("%w: %w (truncate: %w)", errLogBroken, err, terr)
		}
		return err
	}
	s.size += int64(len(rec))
	return nil
}

// frame turns payload (which starts after recHeader reserved bytes) into a
// record.
func frame(rec []byte) []byte {
	payload := rec[recHeader:]
	binary.LittleEndian.PutUint32(rec[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Checksum(payload, castagnoli))
	return rec
}

func appendWALPoint(b []byte, measurement string, device revloop.DeviceID, ts int64, tags, fields []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(measurement)))
	b = append(b, measurement...)
	b = binary.AppendUvarint(b, uint64(len(device)))
	b = append(b, device...)
	b = binary.AppendVarint(b, ts)
	b = binary.AppendUvarint(b, uint64(len(tags)))
	b = append(b, tags...)
	b = binary.AppendUvarint(b, uint64(len(fields)))
	return append(b, fields...)
}

// errLogBroken says a failed append left a partial record that could not be
// cut off; no later record may be appended behind it.
var errLogBroken = errors.New("log segment left with a partial record")

// errTorn marks the end of the readable records of a segment.
var errTorn = errors.New("torn or corrupt record")

// readSegment calls fn for every point of every intact record of segment n
// and returns the offset after the last intact record; err wraps errTorn
// when the segment ends with a damaged record.
func readSegment(dir string, n uint64, fn func(measurement string, device revloop.DeviceID, ts int64, tags, fields []byte) error) (int64, error) {
	data, err := os.ReadFile(walName(dir, n))
	if err != nil {
		return 0, err
	}
	var off int64
	for len(data) > 0 {
		if len(data) < recHeader {
			return off, fmt.Errorf("%w: short header at %d", errTorn, off)
		}
		ln := binary.LittleEndian.Uint32(data[0:4])
		sum := binary.LittleEndian.Uint32(data[4:8])
		if ln > maxRecord || int64(ln) > int64(len(data)-recHeader) {
			return off, fmt.Errorf("%w: length %d at %d", errTorn, ln, off)
		}
		payload := data[recHeader : recHeader+int(ln)]
		if crc32.Checksum(payload, castagnoli) != sum {
			return off, fmt.Errorf("%w: checksum at %d", errTorn, off)
		}
		if err := decodeWALPayload(payload, fn); err != nil {
			return off, fmt.Errorf("%w: at %d: %w", errTorn, off, err)
		}
		off += recHeader + int64(ln)
		data = data[recHeader+int(ln):]
	}
	return off, nil
}

func decodeWALPayload(b []byte, fn func(measurement string, device revloop.DeviceID, ts int64, tags, fields []byte) error) error {
	for len(b) > 0 {
		m, rest, err := readString(b)
		if err != nil {
			return err
		}
		d, rest, err := readString(rest)
		if err != nil {
			return err
		}
		ts, k := binary.Varint(rest)
		if k <= 0 {
			return fmt.Errorf("%w: bad timestamp", ErrCorrupt)
		}
		rest = rest[k:]
		tags, rest, err := readBytes(rest)
		if err != nil {
			return err
		}
		fields, rest, err := readBytes(rest)
		if err != nil {
			return err
		}
		if err := fn(m, revloop.DeviceID(d), ts, tags, fields); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, m := binary.Uvarint(b)
	if m <= 0 || n > uint64(len(b)-m) {
		return nil, nil, fmt.Errorf("%w: bad length", ErrCorrupt)
	}
	return b[m : m+int(n)], b[m+int(n):], nil
}

// truncateSegment cuts segment n at off (dropping a torn tail) and syncs it.
func truncateSegment(dir string, n uint64, off int64) error {
	f, err := os.OpenFile(walName(dir, n), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(off); err != nil {
		return err
	}
	return f.Sync()
}
