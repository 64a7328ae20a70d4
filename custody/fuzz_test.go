package custody

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCanonical checks that canonical JSON is valid, stable and the same
// for any spelling of the same document.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1,2,{"z":null,"y":"x"}]}`, ` [ 1.50 , -0 , 1e3 ] `, `"\u00e9<&>"`, `{"a":{"a":{"a":{}}}}`, `{`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Canonical(json.RawMessage(in))
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("Canonical(%q) = %q is not JSON", in, c)
		}
		again, err := Canonical(json.RawMessage(c))
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("Canonical is not stable: %q -> %q -> %q (%v)", in, c, again, err)
		}
	})
}
