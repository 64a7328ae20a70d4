package chafon

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/revloop/revloop/firmware-bridge/drivers/internal/loop"
	"periph.io/x/conn/v3"
)

// Command codes.
const (
	CmdInventory  = 0x01
	CmdReaderInfo = 0x21
)

// Inventory statuses.
const (
	StatusOK          = 0x00
	StatusDone        = 0x01
	StatusScanTimeout = 0x02
	StatusMoreFrames  = 0x03
	StatusMemoryFull  = 0x04
	StatusAntenna     = 0xF8
	StatusNoTag       = 0xFB
)

// Sentinel errors.
var (
	ErrCRC      = errors.New("chafon: CRC mismatch")
	ErrFrame    = errors.New("chafon: malformed frame")
	ErrResponse = errors.New("chafon: unexpected response")
)

// StatusError is a response status the driver cannot act on.
type StatusError struct {
	Cmd, Status byte
}

func (e *StatusError) Error() string {
	what := "unknown status"
	switch e.Status {
	case StatusAntenna:
		what = "antenna error"
	case 0xFA:
		what = "tag operation failed"
	case 0xFC:
		what = "tag returned an error"
	case 0xFE:
		what = "illegal command"
	case 0xFF:
		what = "parameter error"
	}
	return fmt.Sprintf("chafon: command 0x%02X: status 0x%02X (%s)", e.Cmd, e.Status, what)
}

// CRC16 is CRC-16/MCRF4XX: reflected polynomial 0x8408, preset 0xFFFF.
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// EncodeCommand frames a command.
func EncodeCommand(addr, cmd byte, data []byte) []byte {
	f := make([]byte, 0, 5+len(data))
	f = append(f, byte(4+len(data)), addr, cmd)
	f = append(f, data...)
	c := CRC16(f)
	return append(f, byte(c), byte(c>>8))
}

// EncodeResponse frames a response (used by tests and the simulator).
func EncodeResponse(addr, cmd, status byte, data []byte) []byte {
	f := make([]byte, 0, 6+len(data))
	f = append(f, byte(5+len(data)), addr, cmd, status)
	f = append(f, data...)
	c := CRC16(f)
	return append(f, byte(c), byte(c>>8))
}

// Response is a decoded response frame.
type Response struct {
	Addr, Cmd, Status byte
	Data              []byte
}

// DecodeResponse checks and decodes one complete response frame.
func DecodeResponse(f []byte) (Response, error) {
	if len(f) < 6 {
		return Response{}, fmt.Errorf("%w: %d bytes, want at least 6", ErrFrame, len(f))
	}
	if int(f[0])+1 != len(f) {
		return Response{}, fmt.Errorf("%w: length byte %d for a %d-byte frame", ErrFrame, f[0], len(f))
	}
	n := len(f) - 2
	if got, want := CRC16(f[:n]), uint16(f[n])|uint16(f[n+1])<<8; got != want {
		return Response{}, fmt.Errorf("%w: computed %04X, frame says %04X", ErrCRC, got, want)
	}
	return Response{Addr: f[1], Cmd: f[2], Status: f[3], Data: f[4:n]}, nil
}

// Tag is one tag seen in an inventory round.
type Tag struct {
	EPC     []byte
	Antenna int // 1..4
	RSSIDbm float64
}

// EPCHex returns the EPC as upper-case hex, as the MQTT contract carries it.
func (t Tag) EPCHex() string { return strings.ToUpper(hex.EncodeToString(t.EPC)) }

// ParseInventory decodes the data of one inventory response frame.
func ParseInventory(data []byte, rssiOffsetDb float64) ([]Tag, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: inventory data of %d bytes", ErrFrame, len(data))
	}
	ant := 0
	switch data[0] {
	case 0x01:
		ant = 1
	case 0x02:
		ant = 2
	case 0x04:
		ant = 3
	case 0x08:
		ant = 4
	default:
		return nil, fmt.Errorf("%w: antenna mask 0x%02X", ErrFrame, data[0])
	}
	num := int(data[1])
	p := data[2:]
	tags := make([]Tag, 0, num)
	for i := 0; i < num; i++ {
		if len(p) < 1 {
			return nil, fmt.Errorf("%w: tag %d of %d missing", ErrFrame, i+1, num)
		}
		l := int(p[0])
		if l == 0 || l > 62 || len(p) < 1+l+1 {
			return nil, fmt.Errorf("%w: tag %d of %d: EPC length %d with %d bytes left", ErrFrame, i+1, num, l, len(p)-1)
		}
		tags = append(tags, Tag{
			EPC:     append([]byte(nil), p[1:1+l]...),
			Antenna: ant,
			RSSIDbm: -float64(p[1+l]) + rssiOffsetDb,
		})
		p = p[2+l:]
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d stray bytes after %d tags", ErrFrame, len(p), num)
	}
	return tags, nil
}

// Opts configure a Dev.
type Opts struct {
	// Addr is the reader address; 0xFF (default) is broadcast.
	Addr byte
	// QValue is the initial Gen2 Q (0..15); default 4.
	QValue byte
	// Session is the Gen2 session (0..3); default 0.
	Session byte
	// Antenna selects the antenna: 0x80 + n-1 for antenna n; default 0x80.
	Antenna byte
	// ScanTime bounds one round, in units of 100 ms; default 10 (1 s).
	ScanTime byte
	// RSSIOffsetDb is added to the negated RSSI byte; default 0.
	RSSIOffsetDb float64
	// MaxFrames bounds the "more frames" responses of one round; default 64.
	MaxFrames int
}

// DefaultOpts are the recommended options.
var DefaultOpts = Opts{Addr: 0xFF, QValue: 4, Antenna: 0x80, ScanTime: 10, MaxFrames: 64}

// Info is what the reader reports about itself.
type Info struct {
	Version  uint16
	Type     byte
	Protocol byte // bit 1: ISO 18000-6C (EPC C1G2); bit 0: 18000-6B
	PowerDbm byte
	ScanTime byte
}

// Dev is a reader module on a UART.
type Dev struct {
	c    conn.Conn
	opts Opts
	info Info

	loop loop.Loop[Round]
}

// New probes the reader with Get Reader Information and returns a Dev.
func New(c conn.Conn, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		o.MaxFrames = cmp.Or(o.MaxFrames, DefaultOpts.MaxFrames)
		o.Antenna = cmp.Or(o.Antenna, DefaultOpts.Antenna)
	}
	if o.QValue > 15 || o.Session > 3 || o.Antenna < 0x80 || o.Antenna > 0x83 {
		return nil, fmt.Errorf("chafon: options: q %d session %d antenna 0x%02X out of range", o.QValue, o.Session, o.Antenna)
	}
	d := &Dev{c: c, opts: o}
	r, err := d.do(CmdReaderInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("chafon: probe: %w", err)
	}
	if r.Status != StatusOK {
		return nil, fmt.Errorf("chafon: probe: %w", &StatusError{Cmd: CmdReaderInfo, Status: r.Status})
	}
	if len(r.Data) < 8 {
		return nil, fmt.Errorf("chafon: probe: %w: reader information of %d bytes, want 8", ErrResponse, len(r.Data))
	}
	d.info = Info{Version: uint16(r.Data[0])<<8 | uint16(r.Data[1]), Type: r.Data[2], Protocol: r.Data[3], PowerDbm: r.Data[6], ScanTime: r.Data[7]}
	if d.info.Protocol&0x02 == 0 {
		return nil, fmt.Errorf("chafon: probe: %w: reader type 0x%02X does not support EPC C1G2", ErrResponse, d.info.Type)
	}
	return d, nil
}

// Info returns what the probe read.
func (d *Dev) Info() Info { return d.info }

// String implements conn.Resource.
func (d *Dev) String() string { return fmt.Sprintf("chafon(type 0x%02X)", d.info.Type) }

// do sends a command and reads its first response.
func (d *Dev) do(cmd byte, data []byte) (Response, error) {
	if err := d.c.Tx(EncodeCommand(d.opts.Addr, cmd, data), nil); err != nil {
		return Response{}, fmt.Errorf("write command 0x%02X: %w", cmd, err)
	}
	return d.readResponse(cmd)
}

func (d *Dev) readResponse(cmd byte) (Response, error) {
	var l [1]byte
	if err := d.c.Tx(nil, l[:]); err != nil {
		return Response{}, fmt.Errorf("read length: %w", err)
	}
	if l[0] < 5 {
		return Response{}, fmt.Errorf("%w: length byte %d", ErrFrame, l[0])
	}
	f := make([]byte, 1+int(l[0]))
	f[0] = l[0]
	if err := d.c.Tx(nil, f[1:]); err != nil {
		return Response{}, fmt.Errorf("read %d-byte frame: %w", l[0], err)
	}
	r, err := DecodeResponse(f)
	if err != nil {
		return Response{}, err
	}
	if r.Cmd != cmd {
		return Response{}, fmt.Errorf("%w: answer to command 0x%02X, want 0x%02X", ErrResponse, r.Cmd, cmd)
	}
	if d.opts.Addr != 0xFF && r.Addr != d.opts.Addr {
		return Response{}, fmt.Errorf("%w: reader address 0x%02X, want 0x%02X", ErrResponse, r.Addr, d.opts.Addr)
	}
	return r, nil
}

// Sense runs one inventory round and returns the tags seen (none is not an
// error).
func (d *Dev) Sense() ([]Tag, error) {
	o := d.opts
	data := []byte{o.QValue, o.Session, 0x01, 0, 0, 0, 0x00, o.Antenna, o.ScanTime}
	r, err := d.do(CmdInventory, data)
	if err != nil {
		return nil, fmt.Errorf("chafon: inventory: %w", err)
	}
	var tags []Tag
	for frames := 1; ; frames++ {
		switch r.Status {
		case StatusNoTag:
			return tags, nil
		case StatusDone, StatusScanTimeout, StatusMoreFrames, StatusMemoryFull:
			t, err := ParseInventory(r.Data, o.RSSIOffsetDb)
			if err != nil {
				return nil, fmt.Errorf("chafon: inventory: %w", err)
			}
			tags = append(tags, t...)
		default:
			return nil, fmt.Errorf("chafon: inventory: %w", &StatusError{Cmd: CmdInventory, Status: r.Status})
		}
		if r.Status != StatusMoreFrames {
			return tags, nil
		}
		if frames >= o.MaxFrames {
			return nil, fmt.Errorf("chafon: inventory: %w: more than %d frames in one round", ErrFrame, o.MaxFrames)
		}
		if r, err = d.readResponse(CmdInventory); err != nil {
			return nil, fmt.Errorf("chafon: inventory: %w", err)
		}
	}
}

// Round is the result of one inventory round in SenseContinuous.
type Round struct {
	Time time.Time
	Tags []Tag
	Err  error
}

// SenseContinuous runs a round every interval until Halt. A failed round is
// delivered with Err set and the rounds go on.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan Round, error) {
	ch, err := d.loop.Start(interval, func() (Round, bool) {
		tags, err := d.Sense()
		return Round{Time: time.Now(), Tags: tags, Err: err}, true
	})
	switch {
	case errors.Is(err, loop.ErrRunning):
		return nil, errors.New("chafon: already sensing continuously")
	case err != nil:
		return nil, fmt.Errorf("chafon: interval %v: %w", interval, err)
	}
	return ch, nil
}

// Halt stops continuous sensing.
func (d *Dev) Halt() error {
	d.loop.Stop()
	return nil
}
