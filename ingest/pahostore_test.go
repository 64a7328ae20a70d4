package ingest

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestAckStore(t *testing.T) {
	publish := func(qos byte, id uint16) packets.ControlPacket {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.Qos, p.MessageID, p.TopicName = qos, id, "revloop/v1/d/gps"
		return p
	}
	cases := []struct {
		name   string
		key    string
		packet packets.ControlPacket
		kept   bool
	}{
		{"inbound qos 1 publish is not kept", "i.7", publish(1, 7), false},
		{"inbound qos 2 publish is kept", "i.8", publish(2, 8), true},
		{"outbound publish is kept", "o.9", publish(1, 9), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newAckStore()
			s.Open()
			defer s.Close()
			s.Put(c.key, c.packet)
			if got := s.Get(c.key) != nil; got != c.kept {
				t.Fatalf("kept = %v, want %v", got, c.kept)
			}
			s.Del(c.key)
			if s.Get(c.key) != nil {
				t.Fatal("still stored after Del")
			}
		})
	}
}

func TestBufferedConnPuback(t *testing.T) {
	cases := []struct {
		name string
		id   uint16
		want []byte
	}{
		{"small id", 7, []byte{0x40, 2, 0, 7}},
		{"two-byte id", 0x1234, []byte{0x40, 2, 0x12, 0x34}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			bc := newBufferedConn(a, 0)
			if !bc.puback(c.id) {
				t.Fatal("puback on an open connection failed")
			}
			got := make([]byte, len(c.want))
			if _, err := io.ReadFull(b, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("wrote % x, want % x", got, c.want)
			}
			go io.Copy(io.Discard, b)
			bc.Close()
			if bc.puback(c.id) {
				t.Fatal("puback on a closed connection reported success")
			}
		})
	}
}
