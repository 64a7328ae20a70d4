//go:build unix

package bridge

import (
	"runtime"
	"syscall"
	"time"
)

// cpuTime returns the process's user and system CPU time.
func cpuTime() (user, sys time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// peakRSSMB returns the process's peak resident set size in MB.
func peakRSSMB() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	kb := float64(ru.Maxrss) // kilobytes on Linux, bytes on Darwin
	if runtime.GOOS == "darwin" {
		kb /= 1024
	}
	return kb / 1024, nil
}
