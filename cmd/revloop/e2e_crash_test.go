package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/timeseries/embedded"
)

// TestServeLosesNothingOnSIGKILL: 20 devices publish 1,000 fixes each at
// QoS 1 to the embedded broker of `revloop serve` while serve is killed
// with SIGKILL twice. Every fix the broker acknowledged is stored: the
// broker's journal delivers again what ingest had not stored when the
// process died.
func TestServeLosesNothingOnSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs revloop serve three times")
	}
	bin := revloopBinary(t)
	dataDir := t.TempDir()
	const devs, perDev = 20, 1000
	ids := make([]string, devs)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash-%02d", i)
	}
	creds := provisionDataDir(t, dataDir, "tracker", ids...)
	mqttAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	args := []string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", mqttAddr}
	proc := startChild(t, bin, "serve", args)
	defer func() { proc.terminate() }()

	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var acked atomic.Int64
	ackedTS := make([][]int64, devs) // per device, the fixes the broker acknowledged
	var wg sync.WaitGroup
	errs := make(chan error, devs)
	for d, id := range ids {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID(id).
			SetUsername(id).SetPassword(creds[id]).SetCleanSession(false).SetOrderMatters(false).
			SetAutoReconnect(true).SetConnectRetry(true).SetMaxReconnectInterval(200 * time.Millisecond))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s connect: %v", id, tok.Error())
		}
		defer c.Disconnect(50)
		wg.Go(func() {
			type sent struct {
				tok     paho.Token
				ts      int64
				payload string
			}
			topic := revloop.TopicPrefix + id + "/gps"
			window := make(chan sent, 32)
			// settle waits for the broker's acknowledgement of s; a
			// publication the connection's loss cut off is sent again, as
			// a device does.
			settle := func(s sent) bool {
				for try := 0; ; try++ {
					if !s.tok.WaitTimeout(60 * time.Second) {
						errs <- fmt.Errorf("%s fix %d: no acknowledgement in 60 s", id, s.ts)
						return false
					}
					if s.tok.Error() == nil {
						break
					}
					if try == 100 {
						errs <- fmt.Errorf("%s fix %d: %v", id, s.ts, s.tok.Error())
						return false
					}
					time.Sleep(50 * time.Millisecond)
					s.tok = c.Publish(topic, 1, false, s.payload)
				}
				ackedTS[d] = append(ackedTS[d], s.ts)
				acked.Add(1)
				return true
			}
			for i := range perDev {
				ts := base.Add(time.Duration(i) * time.Second).UnixMilli()
				if len(window) == cap(window) && !settle(<-window) {
					return
				}
				payload := fmt.Sprintf(`{"ts":%d,"lat":%.5f,"lon":3.7,"speed_kmh":%d}`, ts, 51+float64(i)/1e4, i%90)
				window <- sent{c.Publish(topic, 1, false, payload), ts, payload}
				if i%50 == 49 {
					time.Sleep(10 * time.Millisecond) // keep the stream going across the kills
				}
			}
			for len(window) > 0 {
				if !settle(<-window) {
					return
				}
			}
		})
	}
	waitAcked := func(k int64) {
		for acked.Load() < k {
			select {
			case err := <-errs:
				t.Fatal(err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	for _, at := range []int64{devs * perDev / 3, 2 * devs * perDev / 3} {
		waitAcked(at)
		proc.kill()
		t.Logf("serve killed with %d of %d fixes acknowledged", acked.Load(), devs*perDev)
		proc = startChild(t, bin, "serve", args)
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	// Ingest has stored everything once its count of stored messages has
	// stopped moving (its batches wait at most 200 ms); then serve stops,
	// so that its store can be read.
	hc := &http.Client{Timeout: 5 * time.Second}
	last, since := int64(-1), time.Now()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		m, err := scrapeMetrics(hc, proc.httpAddr, "revloop_ingest_messages_acked_total")
		n := int64(m["revloop_ingest_messages_acked_total"])
		if err == nil && n != last {
			last, since = n, time.Now()
		}
		if last > 0 && time.Since(since) > time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest still storing after 2 min (%d since the last start, %v)", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Everything stored, the journal holds nothing more.
	const pending = "revloop_broker_journal_pending_messages"
	if m, err := scrapeMetrics(hc, proc.httpAddr, pending); err != nil {
		t.Fatal(err)
	} else if p, ok := m[pending]; !ok || p != 0 {
		t.Errorf("journal holds %v messages (metric present: %v) after ingest stored everything", p, ok)
	}
	proc.terminate()

	ts, err := embedded.Open(context.Background(), filepath.Join(dataDir, "timeseries"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	lost := 0
	for d, id := range ids {
		ps, err := ts.Positions(context.Background(), revloop.DeviceID(id), base, base.Add(perDev*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		stored := map[int64]bool{}
		for _, p := range ps {
			stored[p.Time.UnixMilli()] = true
		}
		for _, ms := range ackedTS[d] {
			if !stored[ms] {
				lost++
				if lost <= 5 {
					t.Errorf("%s: fix %s acknowledged by the broker and lost", id, time.UnixMilli(ms).UTC().Format(time.RFC3339))
				}
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged fixes lost", lost, acked.Load())
	}
	// Nothing valid was taken for bad input on the way.
	db, err := store.Open(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dls, err := ingest.NewDeadLetters(db).List(context.Background(), ingest.DeadLetterQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, dl := range dls {
		t.Errorf("dead letter %s %s: %s (%s)", dl.Topic, dl.Payload, dl.Reason, dl.Detail)
	}
}
