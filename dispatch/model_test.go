package dispatch

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/revloop/revloop"
)

func TestParseGeofence(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		field  string // "" means valid
		center [2]float64
	}{
		{"polygon feature", `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]},"properties":{"name":"x"}}`, "", [2]float64{1, 1}},
		{"bare polygon", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}`, "", [2]float64{1, 1}},
		{"circle", `{"type":"Feature","geometry":{"type":"Point","coordinates":[3.7,51.05]},"properties":{"radius_m":150}}`, "", [2]float64{3.7, 51.05}},
		{"open ring", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2]]]}`, "geofence.geometry.coordinates", [2]float64{}},
		{"too few positions", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[0,0]]]}`, "geofence.geometry.coordinates", [2]float64{}},
		{"longitude out of range", `{"type":"Polygon","coordinates":[[[0,0],[200,0],[2,2],[0,0]]]}`, "geofence.geometry.coordinates", [2]float64{}},
		{"latitude out of range", `{"type":"Feature","geometry":{"type":"Point","coordinates":[3,-95]},"properties":{"radius_m":10}}`, "geofence.geometry.coordinates", [2]float64{}},
		{"circle without radius", `{"type":"Feature","geometry":{"type":"Point","coordinates":[3,50]},"properties":{}}`, "geofence.properties.radius_m", [2]float64{}},
		{"circle negative radius", `{"type":"Feature","geometry":{"type":"Point","coordinates":[3,50]},"properties":{"radius_m":-5}}`, "geofence.properties.radius_m", [2]float64{}},
		{"line string", `{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}`, "geofence.geometry.type", [2]float64{}},
		{"no geometry", `{"type":"Feature","properties":{}}`, "geofence.geometry", [2]float64{}},
		{"feature collection", `{"type":"FeatureCollection","features":[]}`, "geofence.type", [2]float64{}},
		{"not json", `{`, "geofence", [2]float64{}},
		{"null", `null`, "geofence", [2]float64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, c, err := ParseGeofence(json.RawMessage(tc.in))
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c != tc.center {
					t.Fatalf("center %v, want %v", c, tc.center)
				}
				// The output parses again to the same thing.
				again, c2, err := ParseGeofence(out)
				if err != nil || string(again) != string(out) || c2 != c {
					t.Fatalf("not stable: %s vs %s (%v)", out, again, err)
				}
				return
			}
			var fe *revloop.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err %v, want field %s", err, tc.field)
			}
		})
	}
}

func TestNormalizeEWC(t *testing.T) {
	cases := []struct{ in, want string }{
		{"15 01 07", "15 01 07"},
		{"150107", "15 01 07"},
		{"16 06 01*", "16 06 01*"},
		{" 20 01 36 ", "20 01 36"},
		{"15-01-07", ""},
		{"00 01 01", ""},
		{"21 01 01", ""},
		{"15 01 0", ""},
		{"", ""},
		{"15 01 07**", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeEWC(tc.in)
			if tc.want == "" {
				if !errors.Is(err, revloop.ErrInvalid) {
					t.Fatalf("%q accepted as %q", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPickupTransitionsReachable(t *testing.T) {
	// Every state can be reached from requested, and terminal states have no
	// way out.
	seen := map[string]bool{PickupRequested: true}
	queue := []string{PickupRequested}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range pickupNext[s] {
			if !slices.Contains(PickupStates, n) {
				t.Fatalf("%s -> unknown state %s", s, n)
			}
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, s := range PickupStates {
		if !seen[s] {
			t.Errorf("state %s unreachable", s)
		}
	}
	for _, s := range []string{PickupDelivered, PickupCancelled, PickupMissed} {
		if len(AllowedPickupTransitions(s)) != 0 {
			t.Errorf("terminal state %s has transitions", s)
		}
	}
}

func FuzzParseGeofence(f *testing.F) {
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}}`))
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[3.7,51.05]},"properties":{"radius_m":150}}`))
	f.Add([]byte(`{"type":"Polygon","coordinates":[[[0,0],[1e400,0]]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, c, err := ParseGeofence(b)
		if err != nil {
			if !errors.Is(err, revloop.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if c[0] < -180 || c[0] > 180 || c[1] < -90 || c[1] > 90 {
			t.Fatalf("center %v out of range", c)
		}
		if _, _, err := ParseGeofence(out); err != nil {
			t.Fatalf("normalized fence %s rejected: %v", out, err)
		}
	})
}

func FuzzNormalizeEWC(f *testing.F) {
	for _, s := range []string{"15 01 07", "150107", "16 06 01*", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEWC(s)
		if err != nil {
			return
		}
		if again, err := NormalizeEWC(got); err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v", s, got, again, err)
		}
	})
}
