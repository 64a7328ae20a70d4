package broker

import (
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// backpressure slows publishers down while subscribers (ingest) fall
// behind. mochi has no flow control towards a slow QoS subscriber: past its
// in-flight limit it drops messages. This hook runs in the publisher's read
// loop (OnPublish), so holding it there delays the publisher's
// acknowledgement and, through TCP, the publisher itself, until the
// messages in flight to subscribers fall back below the low-water mark or
// MaxWait passes.
//
// Held publishers wait on a gate that the acknowledgement bringing the
// count below the low-water mark opens (OnQosComplete), so hundreds of
// held device connections cost nothing while they wait; a slow re-check
// covers counts that fall without an acknowledgement (a session dropped).
type backpressure struct {
	mqtt.HookBase
	srv       *mqtt.Server
	high, low int64
	maxWait   time.Duration
	waits     atomic.Int64

	held atomic.Bool // a gate is closed: completions must check the count
	mu   sync.Mutex
	gate chan struct{} // closed (and cleared) when publishers may go on
}

// recheck is how often a held publisher looks at the count by itself.
const recheck = 50 * time.Millisecond

func (h *backpressure) ID() string { return "revloop-backpressure" }

func (h *backpressure) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnQosComplete || b == mqtt.OnQosDropped
}

func (h *backpressure) inflight() int64 { return atomic.LoadInt64(&h.srv.Info.Inflight) }

func (h *backpressure) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 0 || cl.Net.Inline || h.inflight() < h.high {
		return pk, nil
	}
	h.waits.Add(1)
	deadline := time.NewTimer(h.maxWait)
	defer deadline.Stop()
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	for {
		h.mu.Lock()
		if h.gate == nil {
			h.gate = make(chan struct{})
		}
		gate := h.gate
		h.held.Store(true)
		h.mu.Unlock()
		// Checked after the gate is set: a completion that came before
		// found no gate to open, and this sees its count.
		if h.inflight() <= h.low {
			h.open()
			return pk, nil
		}
		select {
		case <-gate:
			if h.inflight() <= h.low {
				return pk, nil
			}
		case <-tick.C:
		case <-deadline.C:
			return pk, nil
		}
	}
}

// open lets every held publisher go on.
func (h *backpressure) open() {
	h.mu.Lock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
	h.held.Store(false)
	h.mu.Unlock()
}

// OnQosComplete opens the gate once the count is at the low-water mark.
func (h *backpressure) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if h.held.Load() && h.inflight() <= h.low {
		h.open()
	}
}

// OnQosDropped does the same for messages the broker gave up on.
func (h *backpressure) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	h.OnQosComplete(cl, pk)
}
