package opt

import (
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	n, set := 0, 7
	Default(&n, 3)
	Default(&set, 3)
	d := time.Duration(0)
	Default(&d, time.Second)
	if n != 3 || set != 7 || d != time.Second {
		t.Fatalf("got %d %d %s; want 3 7 1s", n, set, d)
	}
}
