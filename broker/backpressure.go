package broker

import (
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
type backpressure struct {
	mqtt.HookBase
	srv       *mqtt.Server
	high, low int64
	maxWait   time.Duration
	waits     atomic.Int64
}

func (h *backpressure) ID() string { return "revloop-backpressure" }

func (h *backpressure) Provides(b byte) bool { return b == mqtt.OnPublish }

func (h *backpressure) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 0 || cl.Net.Inline || atomic.LoadInt64(&h.srv.Info.Inflight) < h.high {
		return pk, nil
	}
	h.waits.Add(1)
	deadline := time.Now().Add(h.maxWait)
	for atomic.LoadInt64(&h.srv.Info.Inflight) > h.low && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	return pk, nil
}
