package nmea

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func sentence(body string) string { return fmt.Sprintf("$%s*%02X", body, Checksum(body)) }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantErr error
		check   func(t *testing.T, v any)
	}{
		{"rmc", sentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), nil, func(t *testing.T, v any) {
			r := v.(*RMC)
			if !r.Valid || r.Time != time.Date(1994, 3, 23, 12, 35, 19, 0, time.UTC) {
				t.Errorf("rmc time/valid = %v %v", r.Time, r.Valid)
			}
			if math.Abs(r.Lat-48.1173) > 1e-4 || math.Abs(r.Lon-11.516667) > 1e-4 || r.SpeedKnots != 22.4 || r.CourseDeg != 84.4 {
				t.Errorf("rmc = %+v", r)
			}
		}},
		{"gga", sentence("GNGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,"), nil, func(t *testing.T, v any) {
			g := v.(*GGA)
			if g.Quality != 1 || g.Sats != 8 || g.HDOP != 1.03 || g.AltitudeM != 61.7 || g.Lon > -6.5 {
				t.Errorf("gga = %+v", g)
			}
		}},
		{"gsa", sentence("GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1"), nil, func(t *testing.T, v any) {
			g := v.(*GSA)
			if g.FixType != 3 || g.Sats != 5 || g.HDOP != 1.3 {
				t.Errorf("gsa = %+v", g)
			}
		}},
		{"vtg knots only", sentence("GPVTG,054.7,T,034.4,M,005.5,N,,K"), nil, func(t *testing.T, v any) {
			g := v.(*VTG)
			if g.CourseDeg != 54.7 || math.Abs(g.SpeedKmh-10.186) > 1e-3 {
				t.Errorf("vtg = %+v", g)
			}
		}},
		{"bad checksum", strings.Replace(sentence("GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1"), "2.5", "2.6", 1), ErrChecksum, nil},
		{"no checksum", "$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1", ErrMalformed, nil},
		{"no dollar", "GPGSA,A,3*00", ErrMalformed, nil},
		{"truncated fields", sentence("GPRMC,123519,A,4807.038"), ErrMalformed, nil},
		{"latitude over 90", sentence("GPRMC,123519,A,9107.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), ErrMalformed, nil},
		{"minutes over 60", sentence("GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), ErrMalformed, nil},
		{"bad hemisphere", sentence("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), ErrMalformed, nil},
		{"bad time", sentence("GPGGA,993519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"), ErrMalformed, nil},
		{"bad date", sentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,003.1,W"), ErrMalformed, nil},
		{"nan speed", sentence("GPRMC,123519,A,4807.038,N,01131.000,E,NaN,084.4,230394,003.1,W"), ErrMalformed, nil},
		{"overlong", sentence("GPGSV," + strings.Repeat("9", 130)), ErrMalformed, nil},
		{"unsupported", sentence("GPGSV,1,1,01,04,40,083,46"), ErrUnsupported, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse(tc.line + "\r\n")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "nmea: ") {
				t.Errorf("error %q lacks the nmea: prefix", err)
			}
			if tc.check != nil {
				tc.check(t, v)
			}
		})
	}
}

// TestReplayTranscript replays a receiver transcript with noise, a checksum
// failure, a truncated sentence, a no-fix epoch and unsupported sentences.
func TestReplayTranscript(t *testing.T) {
	b, err := os.ReadFile("testdata/ublox-m8.nmea")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var fixes []Fix
	for {
		var f Fix
		err := d.Sense(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Sense: %v", err)
		}
		fixes = append(fixes, f)
	}
	if len(fixes) != 3 {
		t.Fatalf("got %d fixes, want 3 (epoch with a broken RMC must not produce one): %+v", len(fixes), fixes)
	}
	f := fixes[0]
	if !f.Valid || f.Time != time.Date(2026, 11, 26, 12, 35, 19, 0, time.UTC) ||
		math.Abs(f.Lat-48.1173) > 1e-4 || math.Abs(f.Lon-11.516667) > 1e-4 ||
		f.SpeedKmh != 41.5 || f.HeadingDeg != 84.4 || f.HDOP != 0.9 || f.Sats != 8 || f.Quality != 1 {
		t.Errorf("first fix = %+v", f)
	}
	f = fixes[1]
	if !f.Valid || f.Lat > -33 || f.Lon > -151 || f.Quality != 2 || !math.IsNaN(f.HeadingDeg) || f.Sats != 11 || f.FixType != 3 {
		t.Errorf("second fix = %+v", f)
	}
	if fixes[2].Valid {
		t.Errorf("no-fix epoch reported valid: %+v", fixes[2])
	}
	want := Stats{Sentences: 11, BadChecksum: 1, Malformed: 2, Unsupported: 2, Fixes: 3}
	if got := d.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestNewErrors(t *testing.T) {
	ioErr := errors.New("uart unplugged")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"only noise", strings.NewReader(strings.Repeat("\x55\xaa garbage\r\n", 400)), ErrNoSentence},
		{"only bad checksums", strings.NewReader(strings.Repeat("$GPGSV,1,1,01*00\r\n", 200)), ErrNoSentence},
		{"read error", errReader{ioErr}, ioErr},
		{"empty", strings.NewReader(""), io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.r, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSenseContinuousAndHalt(t *testing.T) {
	b, _ := os.ReadFile("testdata/ublox-m8.nmea")
	d, err := New(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.SenseContinuous(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SenseContinuous(0); err == nil {
		t.Error("second SenseContinuous succeeded")
	}
	n := 0
	for range c {
		n++
	}
	if n != 3 {
		t.Errorf("continuous fixes = %d, want 3", n)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"))
	f.Add(sentence("GNGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,"))
	f.Add(sentence("GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1"))
	f.Add(sentence("GPVTG,054.7,T,034.4,M,005.5,N,,K"))
	f.Add("$*00")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			if v != nil {
				t.Fatalf("value %v with error %v", v, err)
			}
			return
		}
		switch x := v.(type) {
		case *RMC:
			if x.Valid && (math.Abs(x.Lat) > 90 || math.Abs(x.Lon) > 180) {
				t.Fatalf("out of range: %+v", x)
			}
		case *GGA:
			if math.Abs(x.Lat) > 90 || math.Abs(x.Lon) > 180 {
				t.Fatalf("out of range: %+v", x)
			}
		}
	})
}

// FuzzStream feeds arbitrary bytes to the device: it must never panic and
// every fix it returns must be in range.
func FuzzStream(f *testing.F) {
	b, _ := os.ReadFile("testdata/ublox-m8.nmea")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := New(bytes.NewReader(b), &Opts{ProbeBytes: 4096, RequireGGA: true})
		if err != nil {
			return
		}
		for i := 0; i < 100; i++ {
			var fx Fix
			if err := d.Sense(&fx); err != nil {
				return
			}
			if math.Abs(fx.Lat) > 90 || math.Abs(fx.Lon) > 180 {
				t.Fatalf("out of range: %+v", fx)
			}
		}
	})
}
