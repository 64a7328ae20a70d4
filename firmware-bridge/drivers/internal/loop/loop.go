// Package loop runs a driver's continuous sensing: one goroutine that senses
// every interval and delivers each value on a channel until the driver halts
// it. Drivers embed a Loop and keep their own chip-specific Halt steps.
package loop

import (
	"errors"
	"sync"
	"time"
)

// ErrRunning is returned by Start while a loop is already running.
var ErrRunning = errors.New("already sensing continuously")

// Loop is one continuous-sensing goroutine at most.
type Loop[T any] struct {
	mu   sync.Mutex
	stop chan struct{}
	wg   sync.WaitGroup
}

// Start calls sense now and then every interval, sending each value on the
// returned channel (capacity 1), until Stop or until sense reports false
// (the stream then ends without that value). A slow reader delays the next
// sensing rather than losing values.
func (l *Loop[T]) Start(interval time.Duration, sense func() (T, bool)) (<-chan T, error) {
	if interval <= 0 {
		return nil, errors.New("interval must be positive")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop != nil {
		return nil, ErrRunning
	}
	stop := make(chan struct{})
	l.stop = stop
	out := make(chan T, 1)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(out)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			v, ok := sense()
			if !ok {
				return
			}
			select {
			case out <- v:
			case <-stop:
				return
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return out, nil
}

// Stop ends the running loop, if any, and waits for its goroutine.
func (l *Loop[T]) Stop() {
	l.mu.Lock()
	stop := l.stop
	l.stop = nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		l.wg.Wait()
	}
}
