package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/internal/testenv"
	"github.com/revloop/revloop/store"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// revloopBinary builds the revloop command once per test run.
func revloopBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "revloop-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "revloop")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// influxd is an InfluxDB 1.8 server the test can stop and start.
type influxd struct {
	t    *testing.T
	bin  string
	conf string
	url  string
	cmd  *exec.Cmd
}

func findInfluxd(t *testing.T) string {
	t.Helper()
	cands := []string{"/root/go/bin/influxd"}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		cands = append([]string{filepath.Join(strings.TrimSpace(string(out)), "bin", "influxd")}, cands...)
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	if testenv.Required() {
		t.Fatalf("influxd not found in %v", cands)
	}
	t.Skipf("influxd not found in %v; install it with deploy/scripts/install-influxdb.sh", cands)
	return ""
}

func newInfluxd(t *testing.T) *influxd {
	t.Helper()
	bin := findInfluxd(t)
	dir := t.TempDir()
	port, rpc := freePort(t), freePort(t)
	conf := filepath.Join(dir, "influxdb.conf")
	body := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%s/meta"
[data]
  dir = "%s/data"
  wal-dir = "%s/wal"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true
  max-body-size = 0
[logging]
  level = "error"
  suppress-logo = true
[continuous_queries]
  enabled = false
`, rpc, dir, dir, dir, port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &influxd{t: t, bin: bin, conf: conf, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *influxd) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, "run", "-config", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = io.Discard, io.Discard
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start influxd: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("influxd did not answer /ping")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *influxd) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
}

func (d *influxd) query(q, db string) ([][]any, error) {
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	resp, err := http.PostForm(d.url+"/query", v)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	var rows [][]any
	for _, r := range out.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("influxql: %s", r.Error)
		}
		for _, s := range r.Series {
			rows = append(rows, s.Values...)
		}
	}
	return rows, nil
}

// childProc is a `revloop ingest` or `revloop serve` child.
type childProc struct {
	cmd      *exec.Cmd
	httpAddr string
}

// startChild runs `revloop <command> args...` and waits until it is healthy.
func startChild(t *testing.T, bin, command string, args []string) *childProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{command}, args...)...)
	cmd.Env = append(os.Environ(), "REVLOOP_LOG_LEVEL=ERROR")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &childProc{cmd: cmd}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "http "); ok {
			p.httpAddr = addr
			break
		}
	}
	go io.Copy(io.Discard, out)
	if p.httpAddr == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s exited before listening", command)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy", command)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *childProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func (p *childProc) terminate() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

// lossMessage is one publication of the loss test.
type lossMessage struct {
	topic   string
	payload []byte
	device  string
	tsMilli int64
	reason  string // dead-letter reason when malformed
}

func lossMessages(run string, n int, base time.Time) []lossMessage {
	out := make([]lossMessage, 0, n)
	for i := range n {
		dev := fmt.Sprintf("%s-%02d", run, i%50)
		ts := base.Add(time.Duration(i) * time.Millisecond)
		m := lossMessage{topic: "revloop/v1/" + dev + "/gps", device: dev, tsMilli: ts.UnixMilli()}
		lat := 51.0 + float64(i%1000)/10000
		switch i % 50 {
		case 7:
			m.reason = ingest.ReasonMalformed
			m.payload = fmt.Appendf(nil, `{"ts":%d,"lat":%v,"lo`, ts.UnixMilli(), lat)
		case 17:
			m.reason = ingest.ReasonOutOfRange
			m.payload = fmt.Appendf(nil, `{"ts":%d,"lat":123.4,"lon":3.7,"seq":%d}`, ts.UnixMilli(), i)
		case 27:
			m.reason = ingest.ReasonMissingTS
			m.payload = fmt.Appendf(nil, `{"lat":%v,"lon":3.7,"seq":%d}`, lat, i)
		case 37:
			m.reason = ingest.ReasonFutureTS
			m.payload = fmt.Appendf(nil, `{"ts":%d,"lat":%v,"lon":3.7,"seq":%d}`, time.Now().Add(48*time.Hour).UnixMilli()+int64(i), lat, i)
		case 47:
			m.reason = ingest.ReasonBadChecksum
			body := fmt.Sprintf("GPRMC,%s,A,5103.0000,N,00343.0000,E,10.0,90.0,%s,,,A", ts.UTC().Format("150405.00"), ts.UTC().Format("020106"))
			m.payload = fmt.Appendf(nil, "$%s*00\r\n", body) // deliberately wrong (checksum 00 never matches this body)
			if nmeaSum(body) == 0 {
				m.payload = fmt.Appendf(nil, "$%s*01\r\n", body)
			}
		default:
			m.payload = fmt.Appendf(nil, `{"ts":%d,"lat":%v,"lon":3.7,"speed_kmh":%d}`, ts.UnixMilli(), lat, i%90)
		}
		out = append(out, m)
	}
	return out
}

func nmeaSum(body string) byte {
	var cs byte
	for i := 0; i < len(body); i++ {
		cs ^= body[i]
	}
	return cs
}

// TestIngestLosesNothing publishes 50,000 QoS 1 messages through Mosquitto
// while the ingest process is killed with SIGKILL and restarted twice and
// InfluxDB is stopped and started once. Afterwards every valid (device, ts)
// is stored exactly once and the dead-letter store holds exactly the
// malformed messages, each with its reason.
func TestIngestLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("loss test runs processes for a minute or more")
	}
	mqttURL := testenv.MQTTURL(t)
	bin := revloopBinary(t)
	idb := newInfluxd(t)
	if _, err := idb.query(`CREATE DATABASE "loss"`, ""); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	// The test broker is shared: the run's devices carry a unique prefix,
	// and only their points and dead letters are checked.
	run := fmt.Sprintf("loss%04x", time.Now().UnixNano()&0xffff)
	ours := func(device string) bool { return strings.HasPrefix(device, run+"-") }
	clientID := fmt.Sprintf("revloop-loss-%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanSession(mqttURL, clientID) })
	args := []string{"--mqtt-url", mqttURL, "--mqtt-client-id", clientID, "--influx-url", idb.url,
		"--influx-bucket", "loss/autogen", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
		"--ingest-batch-points", "2000", "--ingest-batch-delay", "50ms"}
	// The devices are registered in the ingest's state store, so that its
	// device check admits them.
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%02d", run, i)
	}
	provisionDataDir(t, dataDir, "tracker", ids...)
	proc := startChild(t, bin, "ingest", args)
	defer func() { proc.terminate() }()
	time.Sleep(300 * time.Millisecond) // the subscription follows the connection

	const n = 50000
	msgs := lossMessages(run, n, time.Now().Add(-2*time.Hour).Truncate(time.Second))
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(mqttURL).
		SetClientID(clientID + "-pub").SetOrderMatters(false))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	var published atomic.Int64
	pubErr := make(chan error, 1)
	go func() {
		window := make(chan paho.Token, 256)
		for _, m := range msgs {
			if len(window) == cap(window) {
				if tok := <-window; !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					pubErr <- fmt.Errorf("publish: %v", tok.Error())
					return
				}
			}
			window <- pub.Publish(m.topic, 1, false, m.payload)
			published.Add(1)
			if published.Load()%100 == 0 {
				time.Sleep(5 * time.Millisecond) // keep the stream going across the faults
			}
		}
		for len(window) > 0 {
			if tok := <-window; !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				pubErr <- fmt.Errorf("publish: %v", tok.Error())
				return
			}
		}
		pubErr <- nil
	}()
	waitPublished := func(k int64) {
		for published.Load() < k {
			time.Sleep(5 * time.Millisecond)
		}
	}

	waitPublished(n / 5)
	proc.kill()
	t.Log("ingest killed (1)")
	time.Sleep(500 * time.Millisecond)
	proc = startChild(t, bin, "ingest", args)

	waitPublished(2 * n / 5)
	idb.stop()
	t.Log("influxd stopped")
	time.Sleep(2 * time.Second)
	idb.start()
	t.Log("influxd started")

	waitPublished(3 * n / 5)
	proc.kill()
	t.Log("ingest killed (2)")
	time.Sleep(500 * time.Millisecond)
	proc = startChild(t, bin, "ingest", args)

	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}

	want := map[string]bool{}
	wantDead := map[string]string{}
	for _, m := range msgs {
		if m.reason == "" {
			want[fmt.Sprintf("%s/%d", m.device, m.tsMilli)] = true
		} else {
			wantDead[m.topic+"\x00"+string(m.payload)] = m.reason
		}
	}
	db, err := store.Open(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dlq := ingest.NewDeadLetters(db)
	ourDeadLetters := func() []ingest.DeadLetter {
		var dls []ingest.DeadLetter
		for q := (ingest.DeadLetterQuery{Limit: 1000}); ; {
			page, err := dlq.List(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range page {
				if ours(dl.Device) {
					dls = append(dls, dl)
				}
			}
			if len(page) < q.Limit {
				return dls
			}
			q.BeforeID = page[len(page)-1].ID
		}
	}

	deadline := time.Now().Add(5 * time.Minute)
	var rows [][]any
	for {
		var all [][]any
		all, err = idb.query(`SELECT lat, device FROM position`, "loss")
		rows = rows[:0]
		for _, r := range all {
			if len(r) == 3 && ours(fmt.Sprint(r[2])) {
				rows = append(rows, r)
			}
		}
		dead := len(ourDeadLetters())
		if err == nil && len(rows) >= len(want) && dead >= len(wantDead) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 min: %d of %d points stored (err %v), %d of %d dead letters", len(rows), len(want), err, dead, len(wantDead))
		}
		time.Sleep(time.Second)
	}
	seen := map[string]int{}
	for _, r := range rows {
		ts, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(r[0]))
		seen[fmt.Sprintf("%v/%d", r[2], ts.UnixMilli())]++
	}
	for k, c := range seen {
		if !want[k] {
			t.Errorf("stored point %s was never published as valid", k)
		} else if c != 1 {
			t.Errorf("point %s stored %d times", k, c)
		}
	}
	for k := range want {
		if seen[k] == 0 {
			t.Errorf("valid point %s lost", k)
		}
	}
	dls := ourDeadLetters()
	if len(dls) != len(wantDead) {
		t.Errorf("dead letters: %d, want %d", len(dls), len(wantDead))
	}
	for _, dl := range dls {
		reason, ok := wantDead[dl.Topic+"\x00"+string(dl.Payload)]
		switch {
		case !ok:
			t.Errorf("unexpected dead letter %s %q (%s)", dl.Topic, dl.Payload, dl.Reason)
		case reason != dl.Reason:
			t.Errorf("dead letter %q: reason %s (%s), want %s", dl.Payload, dl.Reason, dl.Detail, reason)
		}
	}
}
