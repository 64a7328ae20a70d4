package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/revloop/revloop"
)

func TestReadCredentials(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[revloop.DeviceID]string
		wantErr bool
	}{
		{name: "header and rows", in: "device_id,secret\ntrk-01,s3cret\nfill-0001, abc \n", want: map[revloop.DeviceID]string{"trk-01": "s3cret", "fill-0001": "abc"}},
		{name: "comments and no header", in: "# devices\ntrk-01,x\n\n", want: map[revloop.DeviceID]string{"trk-01": "x"}},
		{name: "bad device id", in: "TRK 01,x\n", wantErr: true},
		{name: "missing secret", in: "trk-01,\n", wantErr: true},
		{name: "three fields", in: "trk-01,x,y\n", wantErr: true},
		{name: "duplicate", in: "trk-01,x\ntrk-01,y\n", wantErr: true},
		{name: "broken quote", in: "\"trk-01,x\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadCredentials(strings.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrBadCredentials) {
					t.Fatalf("err = %v, want ErrBadCredentials", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzReadCredentials(f *testing.F) {
	f.Add("device_id,secret\ntrk-01,s3cret\n")
	f.Add("\"a\",\"b\"\n#c\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadCredentials(strings.NewReader(in))
		if err != nil {
			return
		}
		for id, s := range got {
			if _, err := revloop.ParseDeviceID(string(id)); err != nil || s == "" {
				t.Fatalf("accepted %q -> %q", id, s)
			}
		}
	})
}

// startBroker starts an embedded MQTT broker on a loopback port; users, when
// set, are the only accepted username/password pairs and may publish only
// under their own device topic.
func startBroker(t *testing.T, users map[string]string) (string, *mochi.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if users == nil {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			t.Fatal(err)
		}
	} else {
		ledger := &auth.Ledger{Users: auth.Users{}}
		for u, p := range users {
			ledger.Users[u] = auth.UserRule{Username: auth.RString(u), Password: auth.RString(p),
				ACL: auth.Filters{auth.RString("revloop/v1/" + u + "/#"): auth.WriteOnly}}
		}
		if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + addr, srv
}

type received struct {
	mu     sync.Mutex
	topics map[string]int
	n      int
}

func (r *received) count() int { r.mu.Lock(); defer r.mu.Unlock(); return r.n }

func subscribeAll(t *testing.T, srv *mochi.Server) *received {
	r := &received{topics: map[string]int{}}
	err := srv.Subscribe("revloop/v1/#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		r.mu.Lock()
		r.topics[pk.TopicName]++
		r.n++
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMQTTPublisherSharedConnection(t *testing.T) {
	url, srv := startBroker(t, nil)
	rec := subscribeAll(t, srv)
	ctx := context.Background()
	pub, err := NewMQTTPublisher(ctx, MQTTConfig{URL: url, MaxInflight: 8})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(ctx, Config{Seed: 2, Vehicles: 2, Bins: 10, Start: t0, Speedup: -1, MaxMessages: 400}, pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Sent != 400 || st.Failed != 0 {
		t.Fatalf("sent %d failed %d, want 400 and 0", st.Sent, st.Failed)
	}
	waitFor(t, "400 messages at the broker", func() bool { return rec.count() >= 400 })
}

func TestMQTTPublisherPerDeviceCredentials(t *testing.T) {
	w := NewWorld(2, 2, 6)
	users := map[string]string{}
	creds := map[revloop.DeviceID]string{}
	for i, d := range w.Devices {
		if i == 0 {
			continue // one device without credentials: its messages fail
		}
		users[string(d.ID)] = "pw-" + string(d.ID)
		creds[d.ID] = "pw-" + string(d.ID)
	}
	skipped := w.Devices[0].ID
	url, srv := startBroker(t, users)
	rec := subscribeAll(t, srv)
	ctx := context.Background()
	pub, err := NewMQTTPublisher(ctx, MQTTConfig{URL: url, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(ctx, Config{World: w, Start: t0, Speedup: -1, MaxMessages: 300}, pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Failed == 0 {
		t.Errorf("messages of %s without credentials did not fail", skipped)
	}
	waitFor(t, "messages at the broker", func() bool { return int64(rec.count()) >= st.Sent })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for topic := range rec.topics {
		if strings.Contains(topic, "/"+string(skipped)+"/") {
			t.Errorf("broker got %s from a device without credentials", topic)
		}
	}
	if len(pub.clients) < 2 {
		t.Errorf("%d per-device connections, want one per publishing device", len(pub.clients))
	}
}
