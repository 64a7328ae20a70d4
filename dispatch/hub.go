package dispatch

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Message is one item of the live stream: Type is "position" or "event",
// Data its JSON encoding.
type Message struct {
	Type string
	Data []byte
}

// Sub is one subscriber of a Hub. C is closed when the subscriber is
// dropped for being too slow or unsubscribed.
type Sub struct {
	C     <-chan Message
	c     chan Message
	types []string
}

// Hub fans live messages out to subscribers without ever blocking the
// publisher: a subscriber whose buffer is full is dropped (its channel is
// closed) and has to reconnect.
type Hub struct {
	buf     int
	mu      sync.Mutex
	subs    map[*Sub]struct{}
	n       atomic.Int64
	dropped atomic.Int64
}

// NewHub returns a hub whose subscribers buffer buf messages (default 256).
func NewHub(buf int) *Hub {
	if buf <= 0 {
		buf = 256
	}
	return &Hub{buf: buf, subs: map[*Sub]struct{}{}}
}

// Subscribe registers a subscriber for the given message types (all when
// none are given).
func (h *Hub) Subscribe(types ...string) *Sub {
	c := make(chan Message, h.buf)
	s := &Sub{C: c, c: c, types: types}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	h.n.Add(1)
	return s
}

// Unsubscribe removes s; it is safe to call after s was dropped.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
		h.n.Add(-1)
	}
}

// Subscribers returns how many subscribers are connected.
func (h *Hub) Subscribers() int { return int(h.n.Load()) }

// Dropped returns how many subscribers were dropped for being too slow.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Publish hands m to every subscriber of its type without blocking.
func (h *Hub) Publish(m Message) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if len(s.types) > 0 && !slices.Contains(s.types, m.Type) {
			continue
		}
		select {
		case s.c <- m:
		default:
			delete(h.subs, s)
			close(s.c)
			h.n.Add(-1)
			h.dropped.Add(1)
		}
	}
}
