package ingest

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// The fast paths of the JSON scanner must give exactly what the standard
// library gives for the inputs they accept, and leave every other input to it.

func checkRFC3339(t *testing.T, s string) {
	t.Helper()
	got, ok := parseRFC3339([]byte(s))
	want, err := time.Parse(time.RFC3339Nano, s)
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("parseRFC3339(%q) accepted what time.Parse rejects: %v", s, err)
	}
	if want = want.UTC(); got != want {
		t.Fatalf("parseRFC3339(%q) = %v, time.Parse gives %v", s, got, want)
	}
}

func TestParseRFC3339(t *testing.T) {
	cases := []struct {
		in     string
		accept bool
	}{
		{"2026-03-03T07:30:00Z", true},
		{"2026-03-03T07:30:00.123Z", true},
		{"2026-03-03T07:30:00.123456789Z", true},
		{"2026-03-03T07:30:00+01:00", true},
		{"2026-03-03T07:30:00.5-11:30", true},
		{"2024-02-29T00:00:00Z", true},
		{"0000-01-01T00:00:00Z", true},
		{"9999-12-31T23:59:59.999999999+23:59", true},
		{"2026-02-29T00:00:00Z", false},            // no such day
		{"2026-04-31T00:00:00Z", false},            // no such day
		{"2026-03-03T07:30:60Z", false},            // leap second: left to time.Parse
		{"2026-03-03T07:30:00.1234567891Z", false}, // more than 9 digits
		{"2026-03-03T07:30:00.Z", false},
		{"2026-03-03t07:30:00Z", false},
		{"2026-03-03T07:30:00z", false},
		{"2026-03-03T07:30:00+24:00", false},
		{"2026-03-03T07:30:00+0100", false},
		{"2026-03-03T07:30:00", false},
		{"+026-03-03T07:30:00Z", false},
		{"2026-03-03T07:30:00\\u005a", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if _, ok := parseRFC3339([]byte(c.in)); ok != c.accept {
				t.Fatalf("parseRFC3339(%q) ok = %v, want %v", c.in, ok, c.accept)
			}
			checkRFC3339(t, c.in)
		})
	}
}

func checkDecimal(t *testing.T, s string) {
	t.Helper()
	got, ok := parseDecimal([]byte(s))
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("parseDecimal(%q) accepted what strconv rejects: %v", s, err)
	}
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("parseDecimal(%q) = %v, strconv gives %v", s, got, want)
	}
}

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in     string
		accept bool
	}{
		{"0", true}, {"-0", true}, {"-0.0", true}, {"51.0811", true}, {"3.729829", true},
		{"0.30000000000000", true}, {"123456789012345", true}, {"1.", true}, {".5", true}, {"-.5", true},
		{"1234567890123456", false}, {"1e5", false}, {"+1", false}, {"-", false}, {"", false},
		{"1.2.3", false}, {"NaN", false}, {"0x10", false}, {"1_0", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if _, ok := parseDecimal([]byte(c.in)); ok != c.accept {
				t.Fatalf("parseDecimal(%q) ok = %v, want %v", c.in, ok, c.accept)
			}
			checkDecimal(t, c.in)
		})
	}
}

func FuzzParseRFC3339(f *testing.F) {
	f.Add("2026-03-03T07:30:00.123Z")
	f.Add("2024-02-29T23:59:59-00:30")
	f.Fuzz(checkRFC3339)
}

func FuzzParseDecimal(f *testing.F) {
	f.Add("51.0811")
	f.Add("-0.000000000000001")
	f.Fuzz(checkDecimal)
}

func TestPlain8(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := true
			for _, x := range b {
				want = want && plainByte[x]
			}
			if got := plain8(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		x := rng.Uint64()
		want := true
		for _, c := range binary.LittleEndian.AppendUint64(nil, x) {
			want = want && plainByte[c]
		}
		if got := plain8(x); got != want {
			t.Fatalf("plain8(%#x) = %v, want %v", x, got, want)
		}
	}
}
