package ingest

import (
	"strings"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// ackStore is paho's in-memory store without the copies of inbound QoS 1
// publications. paho keeps each one until its acknowledgement is sent, but
// never uses them: on resume it discards inbound publications it finds in
// the store, and the broker delivers unacknowledged ones again. Skipping
// them saves a formatted key, a map insert and a delete per message.
// Everything else (outbound packets, inbound QoS 2 state) is stored as
// before.
type ackStore struct {
	paho.Store
	inbound atomic.Bool // an inbound packet was stored, so inbound deletes must reach it
}

var _ paho.Store = (*ackStore)(nil)

func newAckStore() *ackStore { return &ackStore{Store: paho.NewMemoryStore()} }

// Put stores m unless it is an inbound QoS 1 publication.
func (s *ackStore) Put(key string, m packets.ControlPacket) {
	if strings.HasPrefix(key, "i.") {
		if p, ok := m.(*packets.PublishPacket); ok && p.Qos == 1 {
			return
		}
		s.inbound.Store(true)
	}
	s.Store.Put(key, m)
}

// Del deletes key; inbound keys are looked up only once something inbound
// was stored.
func (s *ackStore) Del(key string) {
	if strings.HasPrefix(key, "i.") && !s.inbound.Load() {
		return
	}
	s.Store.Del(key)
}
