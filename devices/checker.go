package devices

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
)

// Reasons the Checker gives ingest for refusing a device's message.
const (
	ReasonUnknownDevice  = "unknown_device"
	ReasonDeviceRevoked  = "device_revoked"
	ReasonDeviceDisabled = "device_disabled"
)

// Checker is ingest's re-check of the publishing device: unknown, revoked
// and disabled devices are refused with a reason, so their messages go to
// the dead-letter store even when a broker let them through. Verdicts are
// cached for TTL and dropped at once when the device changes through the
// registry.
type Checker struct {
	reg *Registry
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[revloop.DeviceID]verdict
}

type verdict struct {
	reason  string
	expires time.Time
}

var _ ingest.DeviceChecker = (*Checker)(nil)

// maxVerdicts bounds the cache; it is cleared when full (unknown ids
// flooding in cannot grow it without bound).
const maxVerdicts = 200_000

// NewChecker returns a checker over reg; ttl <= 0 means 10 s.
func NewChecker(reg *Registry, ttl time.Duration) *Checker {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	c := &Checker{reg: reg, ttl: ttl, now: time.Now, cache: map[revloop.DeviceID]verdict{}}
	reg.Subscribe(func(ch Change) {
		c.mu.Lock()
		delete(c.cache, ch.Device)
		c.mu.Unlock()
	})
	return c
}

// CheckDevice returns "" for an active device, otherwise ReasonUnknownDevice,
// ReasonDeviceRevoked or ReasonDeviceDisabled. An error means the registry
// could not be asked (the message should be retried, not dead-lettered).
func (c *Checker) CheckDevice(ctx context.Context, id revloop.DeviceID) (string, error) {
	now := c.now()
	c.mu.Lock()
	v, ok := c.cache[id]
	c.mu.Unlock()
	if ok && now.Before(v.expires) {
		return v.reason, nil
	}
	st, err := c.reg.status(ctx, id)
	var reason string
	switch {
	case errors.Is(err, ErrUnknownDevice):
		reason = ReasonUnknownDevice
	case err != nil:
		return "", err
	case st.State == StateRevoked:
		reason = ReasonDeviceRevoked
	case st.State == StateDisabled:
		reason = ReasonDeviceDisabled
	}
	c.mu.Lock()
	if len(c.cache) >= maxVerdicts {
		c.cache = map[revloop.DeviceID]verdict{}
	}
	c.cache[id] = verdict{reason: reason, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return reason, nil
}
