package testenv

import (
	"testing"
)

// fakeTB records how a helper ended a test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = true
	f.msg = args[0].(string)
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = true }

func TestLookup(t *testing.T) {
	tests := []struct {
		name, value, require string
		wantURL              string
		wantSkip, wantFail   bool
	}{
		{"set", "tcp://127.0.0.1:18830", "", "tcp://127.0.0.1:18830", false, false},
		{"set and required", "tcp://127.0.0.1:18830", "1", "tcp://127.0.0.1:18830", false, false},
		{"unset skips", "", "", "", true, false},
		{"unset fails when required", "", "1", "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(MQTTURLEnv, tc.value)
			t.Setenv(RequireServicesEnv, tc.require)
			f := &fakeTB{TB: t}
			got := MQTTURL(f)
			if got != tc.wantURL || f.skipped != tc.wantSkip || f.failed != tc.wantFail {
				t.Fatalf("MQTTURL = %q skipped=%v failed=%v, want %q skipped=%v failed=%v",
					got, f.skipped, f.failed, tc.wantURL, tc.wantSkip, tc.wantFail)
			}
			if f.skipped && f.msg == "" {
				t.Error("skip without the start command")
			}
		})
	}
}
