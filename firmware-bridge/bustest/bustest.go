// Package bustest stores bus transcripts as JSON files and replays them with
// periph's i2ctest.Playback and conntest.Playback, so that a transcript
// captured on a gateway by `revloop-bridge record` becomes a driver test.
//
// A transcript op may carry an error ("nack", "timeout" or any text) instead
// of data: replaying it returns that error without touching the playback,
// which is how tests put NACKs and dead lines into an otherwise real
// conversation.
package bustest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// Errors a replayed op can return.
var (
	ErrNACK    = errors.New("i2c: address not acknowledged (NACK)")
	ErrTimeout = errors.New("bus: timeout")
)

// Hex is a byte slice that marshals as a hex string.
type Hex []byte

// MarshalJSON implements json.Marshaler.
func (h Hex) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// UnmarshalJSON implements json.Unmarshaler.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("bustest: hex %q: %w", s, err)
	}
	*h = v
	return nil
}

// Op is one transaction: bytes written, bytes read, or an error.
type Op struct {
	Addr uint16 `json:"addr,omitempty"`
	W    Hex    `json:"w,omitempty"`
	R    Hex    `json:"r,omitempty"`
	Err  string `json:"err,omitempty"`
}

// Transcript is a recorded conversation with one device.
type Transcript struct {
	Bus    string `json:"bus"` // "i2c" or "uart"
	Device string `json:"device"`
	Note   string `json:"note,omitempty"`
	Ops    []Op   `json:"ops"`
}

// Load reads a transcript file.
func Load(path string) (Transcript, error) {
	var t Transcript
	b, err := os.ReadFile(path)
	if err != nil {
		return t, fmt.Errorf("bustest: load: %w", err)
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("bustest: load %s: %w", path, err)
	}
	return t, nil
}

// Save writes a transcript file.
func Save(path string, t Transcript) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("bustest: save: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bustest: save: %w", err)
	}
	return nil
}

// FromI2C converts recorded I2C ops.
func FromI2C(ops []i2ctest.IO) []Op {
	out := make([]Op, len(ops))
	for i, o := range ops {
		out[i] = Op{Addr: o.Addr, W: o.W, R: o.R}
	}
	return out
}

// FromConn converts recorded conn ops.
func FromConn(ops []conntest.IO) []Op {
	out := make([]Op, len(ops))
	for i, o := range ops {
		out[i] = Op{W: o.W, R: o.R}
	}
	return out
}

func opErr(s string) error {
	switch s {
	case "nack":
		return ErrNACK
	case "timeout":
		return ErrTimeout
	}
	return errors.New(s)
}

// split separates data ops (for the playback) from error ops (by index).
func split(ops []Op) (data []Op, errs map[int]error) {
	errs = map[int]error{}
	for i, o := range ops {
		if o.Err != "" {
			errs[i] = opErr(o.Err)
			continue
		}
		data = append(data, o)
	}
	return data, errs
}

// I2C returns a bus replaying t (never panicking on a mismatch).
func (t Transcript) I2C() *I2CBus {
	data, errs := split(t.Ops)
	p := &i2ctest.Playback{DontPanic: true}
	for _, o := range data {
		p.Ops = append(p.Ops, i2ctest.IO{Addr: o.Addr, W: o.W, R: o.R})
	}
	return &I2CBus{Playback: p, errs: errs}
}

// Conn returns a connection replaying t (never panicking on a mismatch).
func (t Transcript) Conn() *Conn {
	data, errs := split(t.Ops)
	p := &conntest.Playback{DontPanic: true}
	for _, o := range data {
		p.Ops = append(p.Ops, conntest.IO{W: o.W, R: o.R})
	}
	return &Conn{Playback: p, errs: errs}
}

// I2CBus is an i2c.BusCloser replaying a transcript with injected errors.
type I2CBus struct {
	*i2ctest.Playback
	mu   sync.Mutex
	n    int
	errs map[int]error
}

var _ i2c.BusCloser = (*I2CBus)(nil)

// Tx implements i2c.Bus.
func (b *I2CBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	i := b.n
	b.n++
	b.mu.Unlock()
	if err, ok := b.errs[i]; ok {
		return err
	}
	return b.Playback.Tx(addr, w, r)
}

// SetSpeed implements i2c.Bus.
func (b *I2CBus) SetSpeed(physic.Frequency) error { return nil }

// Conn is a conn.Conn replaying a transcript with injected errors.
type Conn struct {
	*conntest.Playback
	mu   sync.Mutex
	n    int
	errs map[int]error
}

var _ conn.Conn = (*Conn)(nil)

// Tx implements conn.Conn.
func (c *Conn) Tx(w, r []byte) error {
	c.mu.Lock()
	i := c.n
	c.n++
	c.mu.Unlock()
	if err, ok := c.errs[i]; ok {
		return err
	}
	return c.Playback.Tx(w, r)
}
