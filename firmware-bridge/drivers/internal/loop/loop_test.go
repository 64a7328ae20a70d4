package loop

import (
	"errors"
	"testing"
	"time"
)

func TestLoopDeliversUntilStopOrFailure(t *testing.T) {
	var l Loop[int]
	n := 0
	ch, err := l.Start(time.Millisecond, func() (int, bool) { n++; return n, n <= 3 })
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for v := range ch {
		got = append(got, v)
	}
	if len(got) != 3 || got[2] != 3 {
		t.Fatalf("got %v, want 1 2 3 then the end of the stream", got)
	}
	l.Stop()
	ch, err = l.Start(time.Hour, func() (int, bool) { return 7, true })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(time.Hour, func() (int, bool) { return 0, true }); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start: %v, want ErrRunning", err)
	}
	if v := <-ch; v != 7 {
		t.Fatalf("first value %d", v)
	}
	l.Stop()
	if _, open := <-ch; open {
		t.Fatal("channel still open after Stop")
	}
	l.Stop() // stopping twice is harmless
	if _, err := l.Start(0, func() (int, bool) { return 0, true }); err == nil {
		t.Fatal("zero interval accepted")
	}
}
