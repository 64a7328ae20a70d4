package vrp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSolRecomputesToStatedCost checks every .sol in testdata against its
// instance with the checker's own distance code.
func TestSolRecomputesToStatedCost(t *testing.T) {
	sols, _ := filepath.Glob("testdata/*.sol")
	if len(sols) == 0 {
		t.Fatal("no .sol files in testdata")
	}
	for _, path := range sols {
		name := strings.TrimSuffix(filepath.Base(path), ".sol")
		t.Run(name, func(t *testing.T) {
			p, err := LoadInstance(strings.TrimSuffix(path, ".sol") + ".vrp")
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := ParseSol(f)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Check(p, s, CheckOptions{RequireAll: true})
			if err != nil {
				t.Fatalf("best-known solution rejected: %v", err)
			}
			if rep.Cost != s.Cost {
				t.Errorf("recomputed cost %v, stated %v", rep.Cost, s.Cost)
			}
			// the matrix agrees with the coordinate distances
			var mc float64
			for _, r := range s.Routes {
				prev := 0
				for _, c := range r.Stops {
					mc += p.Matrix.D(prev, c)
					prev = c
				}
				mc += p.Matrix.D(prev, 0)
			}
			if mc != s.Cost {
				t.Errorf("matrix cost %v, stated %v", mc, s.Cost)
			}
		})
	}
}

func TestWriteSolRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		sol  Solution
		want string
	}{
		{"integral", Solution{Routes: []Route{{Stops: []int{1, 2}}, {}, {Stops: []int{3}}}, Cost: 42},
			"Route #1: 1 2\nRoute #2: 3\nCost 42\n"},
		{"fractional", Solution{Routes: []Route{{Stops: []int{5}}}, Cost: 828.9368},
			"Route #1: 5\nCost 828.94\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSol(&buf, &tc.sol); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("got %q, want %q", buf.String(), tc.want)
			}
			back, err := ParseSol(&buf)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			for _, r := range tc.sol.Routes {
				if len(r.Stops) > 0 {
					n++
				}
			}
			if len(back.Routes) != n {
				t.Errorf("read back %d routes, want %d", len(back.Routes), n)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	vrpHead := "NAME : t\nTYPE : CVRP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 10\n"
	tests := []struct {
		name  string
		parse func(string) error
		in    string
	}{
		{"vrp empty", parseVRPString, ""},
		{"vrp huge dimension", parseVRPString, "DIMENSION : 999999999\n"},
		{"vrp missing demand", parseVRPString, vrpHead + "NODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nDEPOT_SECTION\n1\n-1\nEOF\n"},
		{"vrp node out of range", parseVRPString, vrpHead + "NODE_COORD_SECTION\n4 0 0\n"},
		{"vrp negative demand", parseVRPString, vrpHead + "NODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nDEMAND_SECTION\n1 0\n2 -1\n3 1\n"},
		{"vrp wrong weight type", parseVRPString, strings.Replace(vrpHead, "EUC_2D", "GEO", 1) +
			"NODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nDEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\nEOF\n"},
		{"solomon empty", parseSolomonString, ""},
		{"solomon no vehicles", parseSolomonString, "X\nCUSTOMER\n0 0 0 0 0 100 0\n1 1 1 1 0 100 10\n"},
		{"solomon bad window", parseSolomonString, "X\nNUMBER CAPACITY\n2 10\n0 0 0 0 0 100 0\n1 1 1 1 50 10 10\n"},
		{"sol no cost", parseSolString, "Route #1: 1 2\n"},
		{"sol bad stop", parseSolString, "Route #1: 1 x\nCost 3\n"},
		{"sol depot in route", parseSolString, "Route #1: 0 1\nCost 3\n"},
		{"sol junk", parseSolString, "hello\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
		})
	}
}

func parseVRPString(s string) error {
	_, err := ParseVRP(strings.NewReader(s))
	return err
}

func parseSolomonString(s string) error {
	_, err := ParseSolomon(strings.NewReader(s))
	return err
}

func parseSolString(s string) error {
	_, err := ParseSol(strings.NewReader(s))
	return err
}

func TestParseSolomon(t *testing.T) {
	p, err := LoadInstance("testdata/C101.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Nodes) != 101 || len(p.Vehicles) != 25 {
		t.Fatalf("got %d nodes and %d vehicles, want 101 and 25", len(p.Nodes), len(p.Vehicles))
	}
	c1 := p.Nodes[1]
	if c1.Demand[0] != 10 || c1.Service != 90 || len(c1.Windows) != 1 || c1.Windows[0] != (Window{912, 967}) {
		t.Errorf("customer 1 = %+v", c1)
	}
	if p.Vehicles[0].Capacity[0] != 200 || p.Vehicles[0].Shift != (Window{0, 1236}) {
		t.Errorf("vehicle = %+v", p.Vehicles[0])
	}
	if p.Matrix.D(0, 1) != float64(float32(EuclidDistance(40, 50, 45, 68, false))) {
		t.Errorf("distance 0-1 = %v", p.Matrix.D(0, 1))
	}
}

func FuzzParseVRP(f *testing.F) {
	b, _ := os.ReadFile("testdata/X-n101-k25.vrp")
	f.Add(b)
	f.Add([]byte("DIMENSION : 2\nCAPACITY : 1\nNODE_COORD_SECTION\n1 0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseVRP(bytes.NewReader(data))
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("parsed problem invalid: %v", verr)
			}
		}
	})
}

func FuzzParseSolomon(f *testing.F) {
	b, _ := os.ReadFile("testdata/C101.txt")
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseSolomon(bytes.NewReader(data))
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("parsed problem invalid: %v", verr)
			}
		}
	})
}

func FuzzParseSol(f *testing.F) {
	b, _ := os.ReadFile("testdata/X-n101-k25.sol")
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSol(bytes.NewReader(data))
		if err == nil {
			var buf bytes.Buffer
			if werr := WriteSol(&buf, s); werr != nil {
				t.Fatal(werr)
			}
		}
	})
}
