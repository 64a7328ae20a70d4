package yard

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

var testGate = Gate{Reader: "gate-1", Yard: "y1", Outside: []int{1, 2}, Inside: []int{3, 4}}

const (
	truck1 = "E28011700000020A1B2C0001"
	truck2 = "E28011700000020A1B2C0002"
	truck3 = "E28011700000020A1B2C0003"
	cont1  = "E2003412B802011826000C01"
	cont2  = "E2003412B802011826000C02"
)

func loadReads(t testing.TB, name string) []revloop.RFIDRead {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []revloop.RFIDRead
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r revloop.RFIDRead
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, r)
	}
	return out
}

// batches cuts reads into batches of n and shuffles each, as a reader
// publishing from several antenna buffers delivers them.
func batches(reads []revloop.RFIDRead, n int, seed uint64) [][]revloop.RFIDRead {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out [][]revloop.RFIDRead
	for lo := 0; lo < len(reads); lo += n {
		b := slices.Clone(reads[lo:min(lo+n, len(reads))])
		rng.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		out = append(out, b)
	}
	return out
}

type wantPassage struct {
	epc string
	dir Direction
}

func TestGatePassages(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		want  []wantPassage // ordered by first read
		noise int64
	}{
		{"truck in with containers", "gate_truck_in.jsonl",
			[]wantPassage{{truck1, DirIn}, {cont1, DirIn}, {cont2, DirIn}}, 1},
		{"truck waiting at the gate", "gate_waiting.jsonl", []wantPassage{{truck1, DirIn}}, 0},
		{"truck backing out", "gate_backing_out.jsonl", []wantPassage{{truck1, DirTurned}}, 0},
		{"two trucks close together", "gate_two_trucks.jsonl",
			[]wantPassage{{truck1, DirIn}, {truck3, DirOut}, {truck2, DirIn}}, 0},
		{"tag read by one antenna", "gate_one_antenna.jsonl",
			[]wantPassage{{truck1, DirUnknown}, {truck1, DirOut}}, 0},
	}
	for _, c := range cases {
		for _, size := range []int{1, 37, 1000} {
			t.Run(c.name+"/batch"+itoa(size), func(t *testing.T) {
				reads := loadReads(t, c.file)
				d := NewDetector(DetectorOptions{})
				d.SetGate(testGate)
				var got []Passage
				for _, b := range batches(reads, size, 6) {
					got = d.Process(b, got)
				}
				got = d.Flush(got)
				slices.SortFunc(got, func(a, b Passage) int { return a.FirstSeen.Compare(b.FirstSeen) })
				if len(got) != len(c.want) {
					t.Fatalf("got %d passages, want %d:\n%v", len(got), len(c.want), got)
				}
				total := 0
				for i, w := range c.want {
					p := got[i]
					if p.EPC != w.epc || p.Direction != w.dir {
						t.Errorf("passage %d = %s %s, want %s %s", i, p.EPC, p.Direction, w.epc, w.dir)
					}
					if p.ID != PassageID("gate-1", p.EPC, p.FirstSeen) || p.Yard != "y1" {
						t.Errorf("passage %d: id %q yard %q", i, p.ID, p.Yard)
					}
					total += p.Reads
				}
				if st := d.Stats(); st.Noise != c.noise || int64(total)+st.Noise != int64(len(reads)) {
					t.Errorf("stats %+v: %d reads in passages, %d in the stream", st, total, len(reads))
				}
			})
		}
	}
}

func TestGatePassageSummary(t *testing.T) {
	reads := loadReads(t, "gate_waiting.jsonl")
	d := NewDetector(DetectorOptions{})
	d.SetGate(testGate)
	got := d.Flush(d.Process(slices.Clone(reads), nil))
	if len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	p := got[0]
	peak := -1000.0
	for _, r := range reads {
		peak = max(peak, r.RSSIDbm)
	}
	if !p.FirstSeen.Equal(reads[0].Time) || !p.LastSeen.Equal(reads[len(reads)-1].Time) ||
		p.Reads != len(reads) || p.PeakRSSIDbm != peak || !slices.Equal(p.Antennas, []int{1, 2, 3, 4}) {
		t.Fatalf("summary %+v does not match the raw reads (first %v last %v n %d peak %v)",
			p, reads[0].Time, reads[len(reads)-1].Time, len(reads), peak)
	}
	if p.LastSeen.Sub(p.FirstSeen) < 90*time.Second {
		t.Fatalf("waiting truck dwell %v, want at least 90 s", p.LastSeen.Sub(p.FirstSeen))
	}
}

func TestGateRedeliveryAndLateReads(t *testing.T) {
	reads := loadReads(t, "gate_truck_in.jsonl")
	d := NewDetector(DetectorOptions{})
	d.SetGate(testGate)
	half := len(reads) / 2
	out := d.Process(slices.Clone(reads[:half]), nil)
	out = d.Process(slices.Clone(reads[:half]), out) // the same batch again
	out = d.Process(slices.Clone(reads[half:]), out)
	late := revloop.RFIDRead{Device: "gate-1", Time: reads[0].Time, EPC: "E2000000000000000000BEEF", Antenna: 1}
	out = d.Process([]revloop.RFIDRead{late}, out)
	out = d.Flush(out)
	st := d.Stats()
	if st.Duplicates != int64(half) {
		t.Errorf("duplicates %d, want %d", st.Duplicates, half)
	}
	if st.Late != 1 {
		t.Errorf("late %d, want 1", st.Late)
	}
	if len(out) != 3 {
		t.Fatalf("passages %v", out)
	}
}

func TestGateUnknownReader(t *testing.T) {
	d := NewDetector(DetectorOptions{})
	d.SetGate(testGate)
	rs := []revloop.RFIDRead{{Device: "gate-9", Time: time.Unix(1, 0), EPC: "AA", Antenna: 1}, {Device: "gate-9", Time: time.Unix(2, 0), EPC: "AA", Antenna: 1}}
	if out := d.Flush(d.Process(rs, nil)); len(out) != 0 || d.Stats().Unknown != 2 {
		t.Fatalf("out %v stats %+v", out, d.Stats())
	}
}

func TestGateExpireByWallClock(t *testing.T) {
	reads := loadReads(t, "gate_backing_out.jsonl")
	d := NewDetector(DetectorOptions{})
	d.SetGate(testGate)
	if out := d.Process(reads, nil); len(out) != 0 {
		t.Fatalf("closed before the departure window: %v", out)
	}
	last := reads[len(reads)-1].Time
	if out := d.Expire(last.Add(time.Second), nil); len(out) != 0 {
		t.Fatalf("expired too early: %v", out)
	}
	if out := d.Expire(last.Add(4*time.Second), nil); len(out) != 1 {
		t.Fatalf("not expired: %v", out)
	}
}

func TestGateValidate(t *testing.T) {
	cases := []struct {
		name string
		g    Gate
		ok   bool
	}{
		{"good", testGate, true},
		{"bad reader", Gate{Reader: "Gate 1", Yard: "y"}, false},
		{"no yard", Gate{Reader: "g"}, false},
		{"antenna twice", Gate{Reader: "g", Yard: "y", Outside: []int{1}, Inside: []int{1}}, false},
		{"antenna range", Gate{Reader: "g", Yard: "y", Outside: []int{64}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.g.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func itoa(n int) string {
	return string(rune('0'+n/1000%10)) + string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

// BenchmarkDetector measures passage detection over the recorded streams,
// fed in batches of 100; the figure is reads/s on one goroutine.
func BenchmarkDetector(b *testing.B) {
	var all []revloop.RFIDRead
	for _, f := range []string{"gate_truck_in.jsonl", "gate_waiting.jsonl", "gate_two_trucks.jsonl"} {
		all = append(all, loadReads(b, f)...)
	}
	bs := batches(all, 100, 1)
	buf := make([]revloop.RFIDRead, 100)
	var out []Passage
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		d := NewDetector(DetectorOptions{})
		d.SetGate(testGate)
		for _, batch := range bs {
			buf = append(buf[:0], batch...)
			out = d.Process(buf, out[:0])
			n += len(batch)
		}
		out = d.Flush(out[:0])
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "reads/s")
}
