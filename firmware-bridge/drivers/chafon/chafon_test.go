package chafon

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/revloop/revloop/firmware-bridge/bustest"
)

var update = flag.Bool("update", false, "rewrite testdata transcripts")

// respOps are the transcript ops of the reader sending frame f: the length
// byte, then the rest.
func respOps(f []byte) []bustest.Op {
	return []bustest.Op{{R: f[:1]}, {R: f[1:]}}
}

func infoOps() []bustest.Op {
	ops := []bustest.Op{{W: EncodeCommand(0xFF, CmdReaderInfo, nil)}}
	// Version 3.1, type 0x20 (UHFReader288MP), 6C protocol, EU band, 26 dBm, scan 1 s.
	return append(ops, respOps(EncodeResponse(0x00, CmdReaderInfo, StatusOK,
		[]byte{0x03, 0x01, 0x20, 0x02, 0x4E, 0x00, 0x1A, 0x0A, 0x01, 0x00, 0x00, 0x00}))...)
}

var invCmd = EncodeCommand(0xFF, CmdInventory, []byte{4, 0, 1, 0, 0, 0, 0, 0x80, 10})

var (
	epc1 = []byte{0xE2, 0x00, 0x00, 0x17, 0x22, 0x0B, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB}
	epc2 = []byte{0x30, 0x08, 0x33, 0xB2, 0xDD, 0xD9, 0x01, 0x40, 0x00, 0x00, 0x00, 0x01}
)

func tagData(ant byte, tags ...[]byte) []byte {
	d := []byte{ant, byte(len(tags))}
	for i, t := range tags {
		d = append(d, byte(len(t)))
		d = append(d, t...)
		d = append(d, byte(0x40+i)) // RSSI 64, 65 ... dBm magnitude
	}
	return d
}

func inventoryTranscript() bustest.Transcript {
	ops := infoOps()
	ops = append(ops, bustest.Op{W: invCmd})
	ops = append(ops, respOps(EncodeResponse(0x00, CmdInventory, StatusMoreFrames, tagData(0x01, epc1)))...)
	ops = append(ops, respOps(EncodeResponse(0x00, CmdInventory, StatusDone, tagData(0x01, epc2)))...)
	ops = append(ops, bustest.Op{W: invCmd})
	ops = append(ops, respOps(EncodeResponse(0x00, CmdInventory, StatusNoTag, nil))...)
	return bustest.Transcript{Bus: "uart", Device: "chafon", Note: "probe, a two-frame round, an empty round", Ops: ops}
}

func TestReplayInventory(t *testing.T) {
	const path = "testdata/inventory.json"
	if *update {
		if err := bustest.Save(path, inventoryTranscript()); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := bustest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Conn()
	d, err := New(c, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if d.Info().Type != 0x20 || d.Info().PowerDbm != 26 {
		t.Errorf("info = %+v", d.Info())
	}
	tags, err := d.Sense()
	if err != nil {
		t.Fatalf("Sense: %v", err)
	}
	if len(tags) != 2 || tags[0].EPCHex() != "E2000017220B0123456789AB" || tags[1].EPCHex() != "300833B2DDD9014000000001" ||
		tags[0].RSSIDbm != -64 || tags[0].Antenna != 1 {
		t.Fatalf("tags = %+v", tags)
	}
	tags, err = d.Sense()
	if err != nil || len(tags) != 0 {
		t.Fatalf("empty round: %v, %v", tags, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("transcript not fully replayed: %v", err)
	}
}

func TestErrors(t *testing.T) {
	badCRC := EncodeResponse(0x00, CmdInventory, StatusDone, tagData(0x01, epc1))
	badCRC[len(badCRC)-1] ^= 0xFF
	tests := []struct {
		name    string
		ops     []bustest.Op
		sense   bool
		wantErr error
		wantMsg string
	}{
		{"probe gets no answer", []bustest.Op{{W: EncodeCommand(0xFF, CmdReaderInfo, nil)}, {Err: "timeout"}}, false, bustest.ErrTimeout, "chafon: probe"},
		{"probe answered by another command", append([]bustest.Op{{W: EncodeCommand(0xFF, CmdReaderInfo, nil)}},
			respOps(EncodeResponse(0, 0x22, 0, make([]byte, 8)))...), false, ErrResponse, "chafon: probe"},
		{"probe reader without EPC C1G2", append([]bustest.Op{{W: EncodeCommand(0xFF, CmdReaderInfo, nil)}},
			respOps(EncodeResponse(0, CmdReaderInfo, 0, []byte{1, 0, 0x09, 0x01, 0, 0, 20, 10}))...), false, ErrResponse, "does not support"},
		{"probe short information", append([]bustest.Op{{W: EncodeCommand(0xFF, CmdReaderInfo, nil)}},
			respOps(EncodeResponse(0, CmdReaderInfo, 0, []byte{1, 0}))...), false, ErrResponse, "chafon: probe"},
		{"length byte too small", []bustest.Op{{W: EncodeCommand(0xFF, CmdReaderInfo, nil)}, {R: []byte{3}}}, false, ErrFrame, "length byte 3"},
		{"inventory CRC failure", append(append(infoOps(), bustest.Op{W: invCmd}), respOps(badCRC)...), true, ErrCRC, "chafon: inventory"},
		{"inventory truncated tag list", append(append(infoOps(), bustest.Op{W: invCmd}),
			respOps(EncodeResponse(0, CmdInventory, StatusDone, tagData(0x01, epc1, epc2)[:20]))...), true, ErrFrame, "tag 2 of 2"},
		{"inventory antenna error", append(append(infoOps(), bustest.Op{W: invCmd}),
			respOps(EncodeResponse(0, CmdInventory, StatusAntenna, nil))...), true, nil, "antenna error"},
		{"inventory bad antenna mask", append(append(infoOps(), bustest.Op{W: invCmd}),
			respOps(EncodeResponse(0, CmdInventory, StatusDone, tagData(0x03, epc1)))...), true, ErrFrame, "antenna mask"},
		{"inventory line dies mid-round", append(append(append(infoOps(), bustest.Op{W: invCmd}),
			respOps(EncodeResponse(0, CmdInventory, StatusMoreFrames, tagData(0x01, epc1)))...), bustest.Op{Err: "timeout"}), true, bustest.ErrTimeout, "read length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bustest.Transcript{Ops: tc.ops}.Conn()
			d, err := New(c, nil)
			if tc.sense {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				_, err = d.Sense()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "chafon: ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q: want prefix chafon: and %q", err, tc.wantMsg)
			}
		})
	}
	var se *StatusError
	c := bustest.Transcript{Ops: append(append(infoOps(), bustest.Op{W: invCmd}), respOps(EncodeResponse(0, CmdInventory, 0xFE, nil))...)}.Conn()
	d, _ := New(c, nil)
	if _, err := d.Sense(); !errors.As(err, &se) || se.Status != 0xFE {
		t.Errorf("status error = %v", err)
	}
}

func TestCRC16(t *testing.T) {
	// CRC-16/MCRF4XX check value of "123456789" is 0x6F91.
	if got := CRC16([]byte("123456789")); got != 0x6F91 {
		t.Fatalf("CRC16 = %04X, want 6F91", got)
	}
	// The Get Reader Information command of the manual: 04 FF 21 19 95.
	if got := EncodeCommand(0xFF, CmdReaderInfo, nil); string(got) != "\x04\xff\x21\x19\x95" {
		t.Fatalf("EncodeCommand = % X", got)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(EncodeResponse(0, CmdInventory, StatusDone, tagData(0x01, epc1, epc2)))
	f.Add(EncodeResponse(0, CmdInventory, StatusNoTag, nil))
	f.Add([]byte{5, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			return
		}
		tags, err := ParseInventory(r.Data, 0)
		if err != nil {
			return
		}
		for _, tg := range tags {
			if len(tg.EPC) == 0 || tg.Antenna < 1 || tg.Antenna > 4 {
				t.Fatalf("bad tag %+v", tg)
			}
		}
	})
}

// FuzzParseInventory skips the CRC so the fuzzer reaches the tag list.
func FuzzParseInventory(f *testing.F) {
	f.Add(tagData(0x01, epc1, epc2))
	f.Add([]byte{0x08, 3, 1, 0xAA, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := ParseInventory(b, 0)
		if err == nil && len(tags) != int(b[1]) {
			t.Fatalf("%d tags for count %d", len(tags), b[1])
		}
	})
}
