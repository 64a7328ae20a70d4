package yard

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

// FuzzDetector feeds arbitrary read streams (any order, duplicates, unknown
// antennas, far-apart times) and checks that the detector never panics and
// accounts for every read: in a passage, dropped as noise, a duplicate or
// late.
func FuzzDetector(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 2, 1, 0, 3, 3, 9, 4, 3})
	f.Add([]byte{255, 0, 1, 255, 0, 1, 0, 0, 64, 7, 7, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDetector(DetectorOptions{})
		d.SetGate(Gate{Reader: "g", Yard: "y", Outside: []int{1, 2}, Inside: []int{3, 4}})
		var reads []revloop.RFIDRead
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for len(data) >= 4 {
			ms := int64(binary.BigEndian.Uint16(data[0:2])) * 37
			reads = append(reads, revloop.RFIDRead{Device: "g", Time: base.Add(time.Duration(ms) * time.Millisecond),
				EPC: string('A' + rune(data[2]%3)), Antenna: int(int8(data[3])) % 70, RSSIDbm: -float64(data[3])})
			data = data[4:]
		}
		var out []Passage
		for lo := 0; lo < len(reads); lo += 5 {
			out = d.Process(append([]revloop.RFIDRead(nil), reads[lo:min(lo+5, len(reads))]...), out)
		}
		out = d.Flush(out)
		n := 0
		for _, p := range out {
			n += p.Reads
			if p.LastSeen.Before(p.FirstSeen) || p.Reads < 1 {
				t.Fatalf("bad passage %+v", p)
			}
		}
		st := d.Stats()
		noiseReads := st.Reads - st.Duplicates - st.Late - int64(n)
		if noiseReads < 0 || noiseReads > st.Noise*int64(d.opts.MinReads) || st.Reads != int64(len(reads)) {
			t.Fatalf("reads %d: passages hold %d, stats %+v", len(reads), n, st)
		}
	})
}
