package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/internal/mqttpub"
	"github.com/revloop/revloop/sim"
)

func init() {
	registerBench(&benchmark{name: "ingest", summary: "end-to-end MQTT ingest: msgs/s, publish→stored latency, peak RSS of the ingest process", run: benchIngest})
}

type benchIngestFlags struct {
	configs      string
	n            int
	rate         float64
	publishers   int
	window       int
	sharedConns  int
	mqttURL      string
	influxURL    string
	influxToken  string
	influxBucket string
	bin          string
	seed         int64
	childArgs    string
	mix          string
	telegrafBin  string
}

// benchIngest publishes a realistic mix of messages at QoS 1 through a real
// broker to a revloop child process and measures until all are stored
// (acknowledged after the durable write).
//
// Latency: publication i is matched with the i-th acknowledgement (the
// ingest's acked counter is sampled every scrapeEvery), the usual FIFO
// estimate of per-message latency when the order within the pipeline is
// not kept. A message counts as stored at the first sample that covers it,
// so latencies are overstated by up to scrapeEvery, never understated. Near
// the end the counter is sampled every scrapeFine, for msgs/s.
func benchIngest(ctx context.Context, e *env, args []string) error {
	// The benchmark takes plain flags: its --config names configurations,
	// not a settings file.
	set := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	set.SetOutput(e.stderr)
	var f benchIngestFlags
	set.StringVar(&f.configs, "config", "embedded", "comma-separated configurations: embedded (revloop serve child: embedded broker and stores), mosquitto-influx (revloop ingest child against --mqtt-url and --influx-url), mosquitto-sub (the broker's ceiling: a bare mosquitto_sub -q 1 receiving the same messages from --mqtt-url), telegraf (the reference: Telegraf mqtt_consumer with json_v2 to influxdb_v2 against --mqtt-url and --influx-url; needs --mix gps-json)")
	set.IntVar(&f.n, "n", 200000, "messages to publish")
	set.Float64Var(&f.rate, "rate", 0, "publish rate in msgs/s (0: as fast as the broker takes them)")
	set.IntVar(&f.publishers, "publishers", 8, "publishing goroutines (the devices, one connection each, are spread over them)")
	set.IntVar(&f.window, "window", 512, "unacknowledged publications per connection")
	set.IntVar(&f.sharedConns, "shared-conns", 0, "0: one connection per device, with its credentials (as devices connect); N: N anonymous connections carrying all devices' messages, like gateways (needs a broker without per-device ACL, e.g. the test Mosquitto)")
	set.StringVar(&f.mqttURL, "mqtt-url", "", "external broker for mosquitto-influx, e.g. tcp://127.0.0.1:18830")
	set.StringVar(&f.influxURL, "influx-url", "", "InfluxDB for mosquitto-influx, e.g. http://127.0.0.1:18086")
	set.StringVar(&f.influxToken, "influx-token", os.Getenv("REVLOOP_INFLUX_TOKEN"), "InfluxDB token or user:password (default: env REVLOOP_INFLUX_TOKEN)")
	set.StringVar(&f.influxBucket, "influx-bucket", "", "bucket (db/rp for 1.8); empty creates a scratch database on InfluxDB 1.8 and drops it afterwards")
	set.StringVar(&f.bin, "bin", "", "revloop binary to run as the child (default: this executable)")
	set.Int64Var(&f.seed, "seed", 1, "seed of the simulated mix")
	set.StringVar(&f.mix, "mix", "all", "all: the simulator's mix of every channel and format; gps-json: its GPS messages in the JSON object form with RFC 3339 times only (what the telegraf configuration parses)")
	set.StringVar(&f.telegrafBin, "telegraf-bin", "telegraf", "Telegraf binary for the telegraf configuration (deploy/scripts/install-telegraf.sh builds one)")
	set.StringVar(&f.childArgs, "child-args", "--memory-limit-mb=150", "extra flags for the child, space-separated (e.g. --ingest-batch-points=10000)")
	if err := set.Parse(args); err != nil {
		return err
	}
	if f.n <= 0 || f.publishers <= 0 || f.window <= 0 || f.sharedConns < 0 {
		return errors.New("bench ingest: --n, --publishers and --window must be positive, --shared-conns not negative")
	}
	if f.bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench ingest: %w", err)
		}
		f.bin = exe
	}
	if path := os.Getenv("REVLOOP_BENCH_CPU_PROFILE"); path != "" {
		// The publishing side shares the cores with the measured pipeline;
		// profile it like the child (REVLOOP_CPU_PROFILE).
		pf, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("bench ingest: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("bench ingest: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var keep func(sim.Message) bool
	switch f.mix {
	case "all":
	case "gps-json":
		keep = isGPSObject
	default:
		return fmt.Errorf("bench ingest: --mix %q: want all or gps-json", f.mix)
	}
	fmt.Fprintf(e.stderr, "generating %d messages (sim mix %s, seed %d)...\n", f.n, f.mix, f.seed)
	msgs := renameDevices(sim.MessagesWhere(f.seed, f.n, 0, keep), fmt.Sprintf("b%04x-", time.Now().UnixNano()&0xffff))
	rates := map[string]float64{}
	for _, c := range strings.Split(f.configs, ",") {
		c = strings.TrimSpace(c)
		var (
			res benchResult
			err error
		)
		switch c {
		case "mosquitto-sub":
			res, err = asBenchResult(runCeilingBench(ctx, e, f, msgs))
		case "telegraf":
			res, err = asBenchResult(runTelegrafBench(ctx, e, f, msgs))
		default:
			res, err = asBenchResult(runIngestBench(ctx, e, f, c, msgs))
		}
		if err != nil {
			return fmt.Errorf("bench ingest %s: %w", c, err)
		}
		fmt.Fprintln(e.stdout, res)
		rates[c] = res.msgsPerSec()
	}
	if r, ok := rates["mosquitto-influx"]; ok {
		if c, ok := rates["mosquitto-sub"]; ok {
			fmt.Fprintf(e.stdout, "ingest mosquitto-influx/mosquitto-sub=%.2f (share of the broker's ceiling)\n", r/c)
		}
		if t, ok := rates["telegraf"]; ok {
			fmt.Fprintf(e.stdout, "ingest mosquitto-influx/telegraf=%.2f\n", r/t)
		}
	}
	return nil
}

// benchResult is one configuration's line of output and its rate.
type benchResult interface {
	fmt.Stringer
	msgsPerSec() float64
}

func asBenchResult[T benchResult](r T, err error) (benchResult, error) { return r, err }

// isGPSObject tells a GPS fix in the JSON object form with an RFC 3339
// time (the contract also allows epoch milliseconds, which one json_v2
// timestamp format cannot parse alongside).
func isGPSObject(m sim.Message) bool {
	return m.Channel == revloop.ChannelGPS && bytes.HasPrefix(m.Payload, []byte(`{"ts":"`))
}

// scrapeEvery is how often the child's counters are read. Each scrape
// gathers every metric (the process collector reads several /proc files):
// at 25 ms that was 5 % of the measured process's CPU.
const scrapeEvery = 100 * time.Millisecond

// scrapeFine is how often the counters are read once the run's end is
// expected within scrapeEvery.
const scrapeFine = 5 * time.Millisecond

type ingestBenchResult struct {
	config     string
	n          int
	elapsed    time.Duration
	p50, p99   time.Duration
	rssKB      int64
	rejected   int64
	rate       float64
	publishPer float64
	cpu        time.Duration // user+system CPU of the child
	selfCPU    time.Duration // user+system CPU of this process (the publishers) over the run
	childArgs  string
}

func (r ingestBenchResult) msgsPerSec() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r ingestBenchResult) String() string {
	rate := "max"
	if r.rate > 0 {
		rate = fmt.Sprintf("%.0f/s", r.rate)
	}
	return fmt.Sprintf("ingest config=%s child_args=%q n=%d rate=%s msgs/s=%.0f publish_msgs/s=%.0f p50=%s p99=%s peak_rss_mb=%.1f child_cpu_us/msg=%.1f publisher_cpu_us/msg=%.1f dead_lettered=%d",
		r.config, r.childArgs, r.n, rate, r.msgsPerSec(), r.publishPer,
		r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), float64(r.rssKB)/1024,
		float64(r.cpu.Microseconds())/float64(r.n), float64(r.selfCPU.Microseconds())/float64(r.n), r.rejected)
}

// ceilingResult is what a bare mosquitto_sub -q 1 receives of the same
// publications through the same broker: the broker's ceiling on this
// machine, against which mosquitto-influx is read.
type ceilingResult struct {
	n          int
	elapsed    time.Duration
	publishPer float64
	subCPU     time.Duration
	selfCPU    time.Duration
}

func (r ceilingResult) msgsPerSec() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r ceilingResult) String() string {
	return fmt.Sprintf("ingest config=mosquitto-sub n=%d rate=max msgs/s=%.0f publish_msgs/s=%.0f subscriber_cpu_us/msg=%.1f publisher_cpu_us/msg=%.1f",
		r.n, r.msgsPerSec(), r.publishPer,
		float64(r.subCPU.Microseconds())/float64(r.n), float64(r.selfCPU.Microseconds())/float64(r.n))
}

// runCeilingBench publishes msgs as runIngestBench does, to a mosquitto_sub
// -q 1 subscribed to every device topic of --mqtt-url, and measures until
// it has received them all.
func runCeilingBench(ctx context.Context, e *env, f benchIngestFlags, msgs []sim.Message) (ceilingResult, error) {
	res := ceilingResult{n: len(msgs)}
	if f.mqttURL == "" {
		return res, errors.New("needs --mqtt-url")
	}
	uri, err := url.Parse(f.mqttURL)
	if err != nil {
		return res, err
	}
	if uri.Scheme != "tcp" && uri.Scheme != "mqtt" {
		return res, fmt.Errorf("--mqtt-url %s: want tcp://", f.mqttURL)
	}
	bin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		return res, errors.New("mosquitto_sub not found (Debian package mosquitto-clients; deploy/scripts/install-mosquitto.sh installs it)")
	}
	clientID := fmt.Sprintf("revloop-bench-ceiling-%d-%d", os.Getpid(), time.Now().UnixNano())
	// The subscriber counts every message on revloop/v1/+/+: the broker
	// must carry nothing else.
	fc, err := countForeign(f.mqttURL, clientID+"-watch", msgs[0].Device)
	if err != nil {
		return res, err
	}
	time.Sleep(foreignProbe)
	fc.close()
	if n := fc.n.Load(); n > 0 {
		return res, fmt.Errorf("broker carries other traffic (%d messages in %s); the ceiling needs a quiet broker", n, foreignProbe)
	}
	dir, creds, err := benchDevices(ctx, e, "ceiling", msgs)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	// -R: retained messages left by others are not counted; -C: exit
	// after the run's messages. The messages go to /dev/null.
	sub := exec.CommandContext(ctx, bin, "-h", uri.Hostname(), "-p", uri.Port(), "-q", "1", "-i", clientID,
		"-t", revloop.TopicPrefix+"+/+", "-R", "-C", strconv.Itoa(len(msgs)))
	sub.Stderr = e.stderr
	if err := sub.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() { exited <- sub.Wait() }()
	waited := false
	defer func() {
		if !waited {
			sub.Process.Kill()
			<-exited
		}
	}()
	// The subscription follows the connection.
	select {
	case err := <-exited:
		waited = true
		return res, fmt.Errorf("mosquitto_sub exited before the run: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	pubs, err := openPublishers(f, uri, clientID, true, msgs, creds)
	if err != nil {
		return res, err
	}
	defer pubs.close(msgs)
	self0 := pidCPU(os.Getpid())
	start := time.Now()
	pubDone := pubs.run(f, msgs, start, make([]time.Time, len(msgs)))
	var stall <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-pubDone:
			if err != nil {
				return res, fmt.Errorf("publish: %w", err)
			}
			res.publishPer = float64(len(msgs)) / time.Since(start).Seconds()
			pubDone, stall = nil, time.After(60*time.Second)
		case <-stall:
			return res, fmt.Errorf("mosquitto_sub had not received all %d messages 60 s after the last was acknowledged", len(msgs))
		case err := <-exited:
			res.elapsed, waited = time.Since(start), true
			if err != nil {
				return res, fmt.Errorf("mosquitto_sub: %w", err)
			}
			if res.publishPer == 0 {
				res.publishPer = res.msgsPerSec()
			}
			res.selfCPU = pidCPU(os.Getpid()) - self0
			res.subCPU = sub.ProcessState.UserTime() + sub.ProcessState.SystemTime()
			return res, nil
		}
	}
}

// benchChild is a revloop serve or ingest child process.
type benchChild struct {
	cmd      *exec.Cmd
	mqttAddr string
	httpAddr string
	dir      string
}

func startBenchChild(ctx context.Context, e *env, bin, dir string, args []string, wantMQTT bool) (*benchChild, error) {
	args = append(args, "--data-dir", dir, "--http-addr", "127.0.0.1:0")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "REVLOOP_LOG_LEVEL=WARN")
	cmd.Stderr = e.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &benchChild{cmd: cmd, dir: dir}
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "mqtt":
			c.mqttAddr = v
		case "http":
			c.httpAddr = v
		}
		if c.httpAddr != "" && (!wantMQTT || c.mqttAddr != "") {
			go io.Copy(io.Discard, out)
			return c, nil
		}
	}
	c.stop()
	return nil, errors.New("child exited before announcing its listeners")
}

func (c *benchChild) stop() {
	if c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(c.dir)
}

// peakRSS reads VmHWM of the child in kB.
func (c *benchChild) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// cpuTime reads the child's user and system CPU time.
func (c *benchChild) cpuTime() time.Duration { return pidCPU(c.cmd.Process.Pid) }

// pidCPU reads the user and system CPU time of process pid.
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	fs := strings.Fields(s)
	if len(fs) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fs[11], 10, 64)
	st, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// counters scrapes the child's acknowledged and rejected message counts.
func (c *benchChild) counters(hc *http.Client) (acked, rejected int64, err error) {
	// Only the two counters: encoding every metric 40 times a second
	// would cost the measured process a few per cent of its CPU.
	const ackedName, rejectedName = "revloop_ingest_messages_acked_total", "revloop_ingest_messages_rejected_total"
	m, err := scrapeMetrics(hc, c.httpAddr, ackedName, rejectedName)
	return int64(m[ackedName]), int64(m[rejectedName]), err
}

// scrapeMetrics reads the named metrics from the /metrics of the process
// at httpAddr, each the sum of its labelled series.
func scrapeMetrics(hc *http.Client, httpAddr string, names ...string) (map[string]float64, error) {
	q := url.Values{"name[]": names}
	resp, err := hc.Get("http://" + httpAddr + "/metrics?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		if !slices.Contains(names, name) {
			continue
		}
		fs := strings.Fields(line)
		v, err := strconv.ParseFloat(fs[len(fs)-1], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		out[name] += v
	}
	return out, sc.Err()
}

// benchBucket returns --influx-bucket or, when it is empty, a scratch
// database on InfluxDB 1.8 and the function that drops it.
func benchBucket(f benchIngestFlags) (bucket string, drop func(), err error) {
	if f.influxBucket != "" {
		return f.influxBucket, func() {}, nil
	}
	db := fmt.Sprintf("revloop_bench_%d", time.Now().UnixNano())
	if err := influxQL(f.influxURL, fmt.Sprintf("CREATE DATABASE %q", db)); err != nil {
		return "", nil, err
	}
	return db + "/autogen", func() { influxQL(f.influxURL, fmt.Sprintf("DROP DATABASE %q", db)) }, nil
}

func influxQL(base, q string) error {
	resp, err := http.PostForm(strings.TrimSuffix(base, "/")+"/query", url.Values{"q": {q}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 || strings.Contains(string(body), `"error"`) {
		return fmt.Errorf("influxql %q: %s %s", q, resp.Status, body)
	}
	return nil
}

func runIngestBench(ctx context.Context, e *env, f benchIngestFlags, cfg string, msgs []sim.Message) (ingestBenchResult, error) {
	res := ingestBenchResult{config: cfg, n: len(msgs), rate: f.rate, childArgs: f.childArgs}
	clientID := fmt.Sprintf("revloop-bench-ingest-%d-%d", os.Getpid(), time.Now().UnixNano())
	var args []string
	wantMQTT := false
	brokerURL := ""
	switch cfg {
	case "embedded":
		args = []string{"serve", "--mqtt-addr", "127.0.0.1:0", "--mqtt-client-id", clientID}
		wantMQTT = true
	case "mosquitto-influx":
		if f.mqttURL == "" || f.influxURL == "" {
			return res, errors.New("needs --mqtt-url and --influx-url")
		}
		bucket, drop, err := benchBucket(f)
		if err != nil {
			return res, err
		}
		defer drop()
		args = []string{"ingest", "--mqtt-url", f.mqttURL, "--mqtt-client-id", clientID,
			"--influx-url", f.influxURL, "--influx-bucket", bucket}
		if f.influxToken != "" {
			args = append(args, "--influx-token", f.influxToken)
		}
		brokerURL = f.mqttURL
		defer cleanSession(f.mqttURL, clientID)
	default:
		return res, fmt.Errorf("unknown configuration %q (want embedded or mosquitto-influx)", cfg)
	}
	if f.childArgs != "" {
		args = append(args, strings.Fields(f.childArgs)...)
	}
	// The devices are registered in the child's state store: its device
	// check admits only those, and the embedded broker authenticates them.
	dir, creds, err := benchDevices(ctx, e, "ingest", msgs)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	child, err := startBenchChild(ctx, e, f.bin, dir, args, wantMQTT)
	if err != nil {
		return res, err
	}
	defer child.stop()
	var foreign *foreignCounter
	if brokerURL == "" {
		brokerURL = "tcp://" + child.mqttAddr
	} else {
		// A shared broker may carry other traffic on revloop/v1/+/+, which
		// the child ingests too; count it so that it is not taken for ours.
		fc, err := countForeign(brokerURL, clientID+"-watch", msgs[0].Device)
		if err != nil {
			return res, err
		}
		defer fc.close()
		foreign = fc
	}
	// The acked counter is scraped every scrapeEvery: uncompressed, so that
	// the child does not spend its CPU on gzip for the benchmark's sake.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	// Wait until the ingest client is connected and subscribed.
	for i := 0; ; i++ {
		resp, err := hc.Get("http://" + child.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 300 {
			return res, errors.New("child did not become healthy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the subscription follows the connection
	if foreign != nil {
		// Watching every message costs the broker a second delivery and
		// this process a paho receive per message, on the cores the
		// measured pipeline needs: keep watching only when the broker
		// carried other traffic during a probe of foreignProbe.
		if d := foreignProbe - time.Since(foreign.since); d > 0 {
			time.Sleep(d)
		}
		if n := foreign.n.Load(); n == 0 {
			foreign.close()
			foreign = nil
		} else {
			fmt.Fprintf(e.stderr, "broker carries other traffic (%d messages in %s); counting it during the run\n", n, foreignProbe)
		}
	}

	uri, err := url.Parse(brokerURL)
	if err != nil {
		return res, err
	}
	pubs, err := openPublishers(f, uri, clientID, cfg != "embedded", msgs, creds)
	if err != nil {
		return res, err
	}
	defer pubs.close(msgs)
	acked0, _, err := child.counters(hc)
	if err != nil {
		return res, err
	}
	// The run's messages stored: the acknowledged count since the start,
	// less what other publishers sent meanwhile.
	stored := func() (int64, error) {
		acked, rejected, err := child.counters(hc)
		if err != nil {
			return 0, err
		}
		res.rejected = rejected
		acked -= acked0
		if foreign != nil {
			acked -= foreign.n.Load()
		}
		return acked, nil
	}
	err = measureRun(ctx, f, pubs, msgs, child, stored, &res)
	return res, err
}

// measureRun publishes msgs and samples stored, the count of the run's
// messages stored so far, every scrapeEvery (every scrapeFine once the end
// is near) until it reaches len(msgs). It fills res with the elapsed time,
// the publishing rate, latencies and the child's peak RSS and CPU time. A
// message counts as stored at the first sample that covers it.
func measureRun(ctx context.Context, f benchIngestFlags, pubs *benchPublishers, msgs []sim.Message, child *benchChild,
	stored func() (int64, error), res *ingestBenchResult) error {
	n := int64(len(msgs))
	sent := make([]time.Time, len(msgs))
	var storedAt []time.Time // when the count first reached k (index k-1)
	cpu0, self0 := child.cpuTime(), pidCPU(os.Getpid())
	start := time.Now()
	pubDone := pubs.run(f, msgs, start, sent)
	var pubElapsed time.Duration
	tick := time.NewTicker(scrapeEvery)
	defer tick.Stop()
	lastProgress, last := time.Now(), int64(0)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-pubDone:
			if err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			pubElapsed, pubDone = time.Since(start), nil
		case now := <-tick.C:
			c, err := stored()
			if err != nil {
				continue
			}
			for int64(len(storedAt)) < c && int64(len(storedAt)) < n {
				storedAt = append(storedAt, now)
			}
			if c < n {
				if c+(c-last) >= n {
					// The end is likely within the next interval: sample
					// finely, so that it is known to a few milliseconds.
					tick.Reset(scrapeFine)
				}
			} else {
				res.elapsed = storedAt[n-1].Sub(start)
				if pubElapsed == 0 {
					pubElapsed = res.elapsed
				}
				res.publishPer = float64(n) / pubElapsed.Seconds()
				res.rssKB = child.peakRSS()
				res.cpu = child.cpuTime() - cpu0
				res.selfCPU = pidCPU(os.Getpid()) - self0
				res.p50, res.p99 = fifoLatency(start, sent, storedAt)
				return nil
			}
			if c > last {
				last, lastProgress = c, now
			}
			if now.Sub(lastProgress) > 60*time.Second {
				return fmt.Errorf("stalled at %d of %d stored", c, n)
			}
		}
	}
}

// fifoLatency matches the i-th publication with the i-th stored message
// (stored[k] is when the count of stored messages reached k+1) and returns
// the median and 99th percentile of the differences. sent holds the zero
// time for a publication not yet handed over, taken as start.
func fifoLatency(start time.Time, sent, stored []time.Time) (p50, p99 time.Duration) {
	lat := make([]time.Duration, len(sent))
	sorted := append([]time.Time(nil), sent...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	for i := range lat {
		if sorted[i].IsZero() {
			sorted[i] = start
		}
		lat[i] = max(stored[i].Sub(sorted[i]), 0)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// benchPublishers is the publishing side of the benchmark: one connection
// per device (the broker lets a device publish only under its own id)
// unless --shared-conns, the devices spread over --publishers goroutines.
type benchPublishers struct {
	conns    []*mqttpub.Conn
	connOf   []int // device index → index in conns
	devIndex map[revloop.DeviceID]int
}

// openPublishers connects the publishers to uri; external says the broker
// is not the embedded one.
func openPublishers(f benchIngestFlags, uri *url.URL, clientID string, external bool, msgs []sim.Message, creds map[revloop.DeviceID]string) (*benchPublishers, error) {
	p := &benchPublishers{devIndex: map[revloop.DeviceID]int{}}
	var devList []revloop.DeviceID
	for _, m := range msgs {
		if _, ok := p.devIndex[m.Device]; !ok {
			p.devIndex[m.Device] = len(devList)
			devList = append(devList, m.Device)
		}
	}
	nConns := len(devList)
	if f.sharedConns > 0 {
		nConns = f.sharedConns
	}
	p.connOf = make([]int, len(devList))
	for i := range p.connOf {
		p.connOf[i] = i % nConns
	}
	p.conns = make([]*mqttpub.Conn, nConns)
	var wg sync.WaitGroup
	errs := make(chan error, nConns)
	sem := make(chan struct{}, 16)
	for i := range nConns {
		o := mqttpub.Options{ClientID: fmt.Sprintf("%s-pub-%d", clientID, i), Window: f.window}
		if external {
			// An external broker (Mosquitto) sends each PUBACK on its
			// own: read them every 10 ms, or waking for each one on
			// hundreds of connections costs the publishing side, which
			// shares the cores with what it measures, more than
			// publishing. The embedded broker coalesces them already;
			// pausing there costs more than it saves.
			o.AckPause = 10 * time.Millisecond
		}
		if f.sharedConns == 0 {
			dev := string(devList[i])
			o.ClientID, o.Username, o.Password = dev, dev, creds[devList[i]]
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			nc, err := ingest.DialMQTT(uri, nil, 30*time.Second)
			if err != nil {
				errs <- fmt.Errorf("publisher %s: %w", o.ClientID, err)
				return
			}
			c, err := mqttpub.Connect(nc, o)
			if err != nil {
				errs <- err
				return
			}
			p.conns[i] = c
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		for _, c := range p.conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, err
	default:
	}
	return p, nil
}

// run publishes msgs from start (at --rate, if set), recording when each
// was handed to its connection in sent, and reports when all are
// acknowledged by the broker.
func (p *benchPublishers) run(f benchIngestFlags, msgs []sim.Message, start time.Time, sent []time.Time) <-chan error {
	done := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		var firstErr error
		var errMu sync.Mutex
		for w := range f.publishers {
			wg.Go(func() {
				for i := range msgs {
					di := p.devIndex[msgs[i].Device]
					if di%f.publishers != w {
						continue
					}
					if f.rate > 0 {
						due := start.Add(time.Duration(float64(i) / f.rate * float64(time.Second)))
						if d := time.Until(due); d > 0 {
							time.Sleep(d)
						}
					}
					m := msgs[i]
					sent[i] = time.Now()
					if err := p.conns[p.connOf[di]].Publish(m.Topic, m.Payload, m.Retained); err != nil {
						errMu.Lock()
						firstErr = err
						errMu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		for _, c := range p.conns {
			if err := c.Drain(60 * time.Second); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		done <- firstErr
	}()
	return done
}

// close clears the retained messages of msgs and closes the connections.
// Retained status messages would stay on the broker after the run and
// reach every later subscriber (later runs dead-letter them as unknown
// devices).
func (p *benchPublishers) close(msgs []sim.Message) {
	cleared := map[string]bool{}
	for _, m := range msgs {
		if m.Retained && !cleared[m.Topic] {
			cleared[m.Topic] = true
			p.conns[p.connOf[p.devIndex[m.Device]]].Publish(m.Topic, nil, true)
		}
	}
	for _, c := range p.conns {
		c.Drain(5 * time.Second)
		c.Close()
	}
}

// cleanSession removes the persistent session the ingest child left in an
// external broker.
func cleanSession(brokerURL, clientID string) {
	o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID(clientID).SetCleanSession(true)
	c := paho.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		c.Disconnect(100)
	}
}

// renameDevices prefixes every device id of msgs (topic and SenML base
// names), so that the run's messages are told apart from other traffic.
func renameDevices(msgs []sim.Message, prefix string) []sim.Message {
	for i, m := range msgs {
		dev := string(m.Device)
		nd := prefix + dev
		m.Topic = strings.Replace(m.Topic, "/"+dev+"/", "/"+nd+"/", 1)
		m.Payload = bytes.ReplaceAll(m.Payload, []byte("urn:dev:id:"+dev+":"), []byte("urn:dev:id:"+nd+":"))
		m.Device = revloop.DeviceID(nd)
		msgs[i] = m
	}
	return msgs
}

// foreignCounter counts messages on revloop/v1/+/+ that the run did not
// publish.
type foreignCounter struct {
	c     paho.Client
	n     atomic.Int64
	since time.Time // when the watch began
	once  sync.Once
}

// foreignProbe is how long the broker is watched for other traffic before
// the run.
const foreignProbe = 2 * time.Second

func countForeign(brokerURL, clientID string, ourDevice revloop.DeviceID) (*foreignCounter, error) {
	prefix, _, _ := strings.Cut(string(ourDevice), "-")
	ours := revloop.TopicPrefix + prefix + "-"
	fc := &foreignCounter{since: time.Now()}
	fc.c = paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID(clientID).SetCleanSession(true))
	if tok := fc.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("watch connect: %v", tok.Error())
	}
	tok := fc.c.Subscribe(revloop.TopicPrefix+"+/+", 0, func(_ paho.Client, m paho.Message) {
		if !strings.HasPrefix(m.Topic(), ours) && !strings.HasSuffix(m.Topic(), "/config") && !m.Retained() {
			fc.n.Add(1)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		fc.c.Disconnect(50)
		return nil, fmt.Errorf("watch subscribe: %v", tok.Error())
	}
	return fc, nil
}

func (fc *foreignCounter) close() { fc.once.Do(func() { fc.c.Disconnect(50) }) }

// benchDevices makes a scratch data directory, named for the
// configuration, with every device of msgs registered in its state store,
// and returns it with the devices' secrets.
func benchDevices(ctx context.Context, e *env, config string, msgs []sim.Message) (dir string, creds map[revloop.DeviceID]string, err error) {
	dir, err = os.MkdirTemp("", "revloop-bench-"+config+"-")
	if err != nil {
		return "", nil, err
	}
	creds, err = provisionBenchDevices(ctx, e, dir, msgs)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, creds, nil
}

// provisionBenchDevices registers every device of msgs in the state store
// under dir and returns their secrets.
func provisionBenchDevices(ctx context.Context, e *env, dir string, msgs []sim.Message) (map[revloop.DeviceID]string, error) {
	kinds := map[revloop.DeviceID]string{}
	var order []revloop.DeviceID
	for _, m := range msgs {
		kind := ""
		switch m.Channel {
		case revloop.ChannelGPS:
			kind = "tracker"
		case revloop.ChannelFill:
			kind = "bin_sensor"
		case revloop.ChannelRFID:
			kind = "gate_reader"
		case revloop.ChannelWeight:
			kind = "scale"
		}
		k, seen := kinds[m.Device]
		if !seen {
			order = append(order, m.Device)
		}
		if k == "" {
			kinds[m.Device] = kind
		}
	}
	db, done, err := benchDB(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	defer done()
	rows := make([]devices.Row, len(order))
	for i, id := range order {
		kind := kinds[id]
		if kind == "" {
			kind = "gateway"
		}
		rows[i] = devices.Row{Line: i + 2, Spec: devices.Spec{ID: string(id), Kind: kind}}
	}
	reg := devices.NewRegistry(db, e.log, devices.Options{NoMosquittoHash: true})
	creds, err := reg.Import(ctx, rows, nil)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	out := make(map[revloop.DeviceID]string, len(creds))
	for _, c := range creds {
		out[c.Device] = c.Secret
	}
	return out, nil
}
