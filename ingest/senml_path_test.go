package ingest

import "testing"

func TestLwM2MPath(t *testing.T) {
	cases := []struct {
		name, path string
		obj, res   string
		ok         bool
	}{
		{"object instance resource", "/3330/0/5700", "3330", "5700", true},
		{"empty parts kept", "//0/", "", "", true},
		{"no leading slash", "3330/0/5700", "", "", false},
		{"two parts", "/3330/5700", "", "", false},
		{"four parts", "/3330/0/5700/1", "", "", false},
		{"slash only", "/", "", "", false},
		{"empty", "", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj, res, ok := lwm2mPath(c.path)
			if obj != c.obj || res != c.res || ok != c.ok {
				t.Fatalf("lwm2mPath(%q) = %q, %q, %v; want %q, %q, %v", c.path, obj, res, ok, c.obj, c.res, c.ok)
			}
		})
	}
}
