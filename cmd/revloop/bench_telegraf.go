package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/revloop/revloop/sim"
)

// telegrafConfig is the reference pipeline the ingest targets are read
// against: Telegraf's mqtt_consumer parsing GPS fixes with json_v2 and
// writing them with influxdb_v2, at QoS 1 on a persistent session, in
// batches of 5,000 flushed every second. max_undelivered_messages matches
// the test Mosquitto's in-flight window: at Telegraf's default of 1,000 a
// batch of 5,000 never fills and it writes once a second. Its own write
// counter goes to stdout every 100 ms, for the benchmark to read.
var telegrafConfig = template.Must(template.New("telegraf").Parse(`[agent]
  interval = "1s"
  flush_interval = "1s"
  flush_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = 100000
  omit_hostname = true
  quiet = true

[[inputs.mqtt_consumer]]
  servers = ["{{.Broker}}"]
  topics = ["revloop/v1/+/gps"]
  qos = 1
  persistent_session = true
  client_id = "{{.ClientID}}"
  max_undelivered_messages = 10000
  topic_tag = ""
  data_format = "json_v2"
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "revloop/v1/+/gps"
    tags = "_/_/device/_"
  [[inputs.mqtt_consumer.json_v2]]
    measurement_name = "gps"
    timestamp_path = "ts"
    timestamp_format = "2006-01-02T15:04:05Z07:00"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "lat"
      type = "float"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "lon"
      type = "float"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "speed_kmh"
      type = "float"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "heading_deg"
      type = "float"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "hdop"
      type = "float"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "sats"
      type = "int"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "odometer_km"
      type = "float"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "ignition"
      type = "bool"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "seq"
      type = "int"

[[inputs.internal]]
  interval = "100ms"
  collect_memstats = false

[[outputs.influxdb_v2]]
  urls = ["{{.Influx}}"]
  token = "{{.Token}}"
  organization = "revloop"
  bucket = "{{.Bucket}}"
  namedrop = ["internal*"]

[[outputs.file]]
  files = ["stdout"]
  data_format = "influx"
  flush_interval = "100ms"
  namepass = ["internal_write"]
  [outputs.file.tagpass]
    output = ["influxdb_v2"]
`))

// metricsWritten reads the influxdb_v2 output's write counter off a line
// of Telegraf's internal_write measurement.
var metricsWritten = regexp.MustCompile(`[ ,]metrics_written=(\d+)i`)

// runTelegrafBench publishes msgs as runIngestBench does, to a Telegraf
// child storing them in InfluxDB, and measures until Telegraf reports them
// all written.
func runTelegrafBench(ctx context.Context, e *env, f benchIngestFlags, msgs []sim.Message) (ingestBenchResult, error) {
	res := ingestBenchResult{config: "telegraf", n: len(msgs), rate: f.rate}
	if f.mqttURL == "" || f.influxURL == "" {
		return res, errors.New("needs --mqtt-url and --influx-url")
	}
	for _, m := range msgs {
		if !isGPSObject(m) {
			return res, errors.New("the reference configuration parses GPS fixes as JSON objects with RFC 3339 times only: run it with --mix gps-json")
		}
	}
	bin, err := exec.LookPath(f.telegrafBin)
	if err != nil {
		return res, fmt.Errorf("telegraf not found (%v); deploy/scripts/install-telegraf.sh builds one", err)
	}
	uri, err := url.Parse(f.mqttURL)
	if err != nil {
		return res, err
	}
	bucket, drop, err := benchBucket(f)
	if err != nil {
		return res, err
	}
	defer drop()
	dir, creds, err := benchDevices(ctx, e, "telegraf", msgs)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	clientID := fmt.Sprintf("revloop-bench-telegraf-%d-%d", os.Getpid(), time.Now().UnixNano())
	defer cleanSession(f.mqttURL, clientID)
	conf := filepath.Join(dir, "telegraf.conf")
	cf, err := os.Create(conf)
	if err != nil {
		return res, err
	}
	err = telegrafConfig.Execute(cf, map[string]string{"Broker": f.mqttURL, "ClientID": clientID,
		"Influx": f.influxURL, "Token": f.influxToken, "Bucket": bucket})
	if cerr := cf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}

	cmd := exec.CommandContext(ctx, bin, "--config", conf)
	cmd.Stderr = e.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	child := &benchChild{cmd: cmd, dir: dir}
	defer child.stop()
	var written atomic.Int64
	first := make(chan struct{})
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := metricsWritten.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				written.Store(n)
				once.Do(func() { close(first) })
			}
		}
		io.Copy(io.Discard, out)
	}()
	// Telegraf reports its counters once connected and subscribed.
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		return res, errors.New("telegraf reported nothing within 30 s")
	}
	time.Sleep(300 * time.Millisecond)
	if n := written.Load(); n > 0 {
		return res, fmt.Errorf("telegraf wrote %d points before the run: the broker carries other GPS traffic", n)
	}

	pubs, err := openPublishers(f, uri, clientID, true, msgs, creds)
	if err != nil {
		return res, err
	}
	defer pubs.close(msgs)
	// Telegraf reports its count every 100 ms: its end is known to that.
	stored := func() (int64, error) { return written.Load(), nil }
	err = measureRun(ctx, f, pubs, msgs, child, stored, &res)
	return res, err
}
