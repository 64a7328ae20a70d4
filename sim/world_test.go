package sim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/geo"
)

func TestWorldJSON(t *testing.T) {
	w := NewWorld(9, 12, 150)
	var buf bytes.Buffer
	if err := w.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Sites []struct {
			ID    string          `json:"id"`
			Kind  string          `json:"kind"`
			Fence json.RawMessage `json:"fence"`
		} `json:"sites"`
		Bins     []Bin     `json:"bins"`
		Vehicles []Vehicle `json:"vehicles"`
		Gates    []Gate    `json:"gates"`
		Devices  []Device  `json:"devices"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, s := range back.Sites {
		kinds[s.Kind]++
		f, err := geo.ParseFence(s.Fence, "")
		if err != nil {
			t.Fatalf("site %s: fence does not parse: %v", s.ID, err)
		}
		if f.ID != s.ID {
			t.Errorf("site %s: fence id %s", s.ID, f.ID)
		}
	}
	for _, k := range []string{SiteYard, SiteDepot, SiteDropPoint, SiteCustomerSite} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the world", k)
		}
	}
	if len(back.Bins) != 150 || len(back.Vehicles) != 12 || len(back.Devices) != 150+12+2 {
		t.Fatalf("%d bins %d vehicles %d devices", len(back.Bins), len(back.Vehicles), len(back.Devices))
	}
	seen := map[string]bool{}
	for _, d := range back.Devices {
		if _, err := revloop.ParseDeviceID(string(d.ID)); err != nil || seen[string(d.ID)] {
			t.Errorf("device id %q invalid or repeated", d.ID)
		}
		seen[string(d.ID)] = true
	}
	epcs := map[string]bool{}
	for _, v := range back.Vehicles {
		if _, err := hex.DecodeString(v.EPC); err != nil || len(v.EPC) != 24 || epcs[v.EPC] {
			t.Errorf("vehicle %s EPC %q", v.ID, v.EPC)
		}
		epcs[v.EPC] = true
		if v.Plate == "" || v.CapacityKg <= 0 || v.TareKg <= 0 || v.FuelType == "" {
			t.Errorf("vehicle %s incomplete: %+v", v.ID, v)
		}
	}
	if len(back.Gates) != 1 || len(back.Gates[0].Antennas) != 2 || back.Gates[0].Antennas[0].Side != SideOutside || back.Gates[0].Antennas[1].Side != SideInside {
		t.Errorf("gates: %+v", back.Gates)
	}
	for _, b := range w.Bins {
		if w.Site(b.Site) == nil {
			t.Errorf("bin %s on unknown site %s", b.ID, b.Site)
		}
	}
}

func TestBinTrace(t *testing.T) {
	w := NewWorld(3, 1, 5)
	start := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	for _, b := range w.Bins {
		trace, empties := w.BinTrace(b, start, start.Add(21*24*time.Hour), 85)
		if want := int(21 * 24 * time.Hour / time.Duration(b.ReportEvery)); len(trace) < want*9/10 || len(trace) > want*11/10 {
			t.Errorf("%s: %d readings in 3 weeks at %s", b.ID, len(trace), time.Duration(b.ReportEvery))
		}
		near, outliers := 0, 0
		for _, p := range trace {
			if p.TrueLevelPct > 85.01 {
				t.Fatalf("%s: true level %.2f above the emptying level", b.ID, p.TrueLevelPct)
			}
			if d := p.Reading.LevelPct - p.TrueLevelPct; d > -5 && d < 5 {
				near++
			} else {
				outliers++
			}
			if p.Reading.Bin != b.ID || p.Reading.Device != b.Sensor {
				t.Fatalf("reading not labelled with its bin: %+v", p.Reading)
			}
		}
		if outliers == 0 || float64(outliers)/float64(len(trace)) > 0.05 {
			t.Errorf("%s: %d of %d readings off by 5 points or more, want a few percent", b.ID, outliers, len(trace))
		}
		for _, e := range empties {
			if e.LevelPct < 84.9 || e.LevelPct > 85.1 {
				t.Errorf("%s emptied at %.2f%%, want 85", b.ID, e.LevelPct)
			}
		}
	}
}
