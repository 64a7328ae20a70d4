//go:build !unix

package bridge

import (
	"errors"
	"time"
)

func cpuTime() (time.Duration, time.Duration, error) {
	return 0, 0, errors.New("bridge: getrusage not available")
}

func peakRSSMB() (float64, error) { return 0, errors.New("bridge: getrusage not available") }
