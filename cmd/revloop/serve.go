package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/broker"
	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/embedded"
	"github.com/revloop/revloop/timeseries/influx"
	"github.com/revloop/revloop/web"
	"github.com/revloop/revloop/yard"
)

func init() {
	register(&command{name: "serve", summary: "run everything: embedded MQTT broker (or --mqtt-url), ingest, stores and the HTTP API", run: runServe})
}

// role says which parts of the system one process runs.
type role string

const (
	roleServe  role = "serve"  // broker (unless --mqtt-url), ingest, API
	roleIngest role = "ingest" // ingest only, with /healthz and /metrics
)

// appConfig is every setting of serve and ingest.
type appConfig struct {
	store      storeFlags
	httpAddr   string
	mqttAddr   string // serve only: the embedded broker's listener
	mqttURL    string
	mqttUser   string
	mqttPass   string
	clientID   string
	shareGroup string

	influxURL, influxToken, influxOrg, influxBucket string

	batchPoints   int
	batchDelay    time.Duration
	maxPayload    int
	maxSkew       time.Duration
	writers       int
	decodeWorkers int
	queueLen      int
	drainTimeout  time.Duration
	gcPercent     int
	memLimitMB    int
	mqttJournal   bool // serve only: the embedded broker journals what it acknowledged until ingest has it

	compliance complianceFlags // serve only
	routing    routingFlags    // serve only
	tileURL    string          // serve only: the web console's map tiles
	// The embedded broker's optional TLS listener (serve only).
	mqttTLSAddr, mqttTLSCert, mqttTLSKey, mqttTLSClientCA string
	yard                                                  yard.Options // gate passages and weighbridge tickets
}

func (c *appConfig) register(s *config.Set, r role) {
	c.store.register(s)
	s.String(&c.httpAddr, "http-addr", ":8080", "HTTP listener for the API, /healthz and /metrics (empty disables it)")
	if r == roleServe {
		s.String(&c.mqttAddr, "mqtt-addr", ":1883", "embedded MQTT broker's listener (unused with --mqtt-url)")
		s.String(&c.mqttURL, "mqtt-url", "", "external MQTT broker, e.g. tcp://host:1883; empty runs the embedded broker")
		s.Bool(&c.mqttJournal, "mqtt-journal", true, "embedded broker: keep every QoS 1/2 message it acknowledges in the data dir until ingest has stored it, and deliver it again after a crash")
	} else {
		s.String(&c.mqttURL, "mqtt-url", "tcp://127.0.0.1:1883", "MQTT broker to ingest from, e.g. tcp://host:1883")
	}
	s.String(&c.mqttUser, "mqtt-username", "", "MQTT username of the ingest client")
	s.Secret(&c.mqttPass, "mqtt-password", "MQTT password of the ingest client")
	host, _ := os.Hostname()
	s.String(&c.clientID, "mqtt-client-id", "revloop-ingest-"+host, "MQTT client id of the ingest client; stable across restarts, unique per replica")
	s.String(&c.shareGroup, "share-group", "", "MQTT shared-subscription group ($share/<group>/...) so replicas split the stream; empty subscribes alone")
	s.String(&c.influxURL, "influx-url", "", "InfluxDB URL (http://host:8086) instead of the embedded time-series store")
	s.Secret(&c.influxToken, "influx-token", "InfluxDB token (2.x) or user:password (1.8)")
	s.String(&c.influxOrg, "influx-org", "", "InfluxDB organisation (2.x; ignored by 1.8)")
	s.String(&c.influxBucket, "influx-bucket", "revloop", "InfluxDB bucket (2.x) or database/retention-policy (1.8)")
	s.Int(&c.batchPoints, "ingest-batch-points", 5000, "flush a write batch at this many points")
	s.Duration(&c.batchDelay, "ingest-batch-delay", 200*time.Millisecond, "flush a write batch this long after its first message at the latest (a batch of an eighth of --ingest-batch-points goes as soon as a writer is idle)")
	s.Int(&c.maxPayload, "ingest-max-payload", 256<<10, "dead-letter payloads larger than this many bytes as oversized")
	s.Duration(&c.maxSkew, "ingest-max-skew", 5*time.Minute, "dead-letter readings dated further ahead of arrival as future_ts")
	s.Int(&c.writers, "ingest-writers", 2, "batches written concurrently")
	s.Int(&c.decodeWorkers, "ingest-decoders", 0, "decoding goroutines (0: one per CPU)")
	s.Int(&c.queueLen, "ingest-queue", 1024, "capacity of each queue between ingest stages")
	s.Duration(&c.drainTimeout, "ingest-drain-timeout", 15*time.Second, "how long shutdown keeps flushing received messages")
	s.Int(&c.gcPercent, "gc-percent", 200, "Go garbage collector target (GOGC), unless GOGC is set; higher trades memory for CPU")
	s.Int(&c.memLimitMB, "memory-limit-mb", 0, "soft memory limit in MiB (GOMEMLIMIT), unless GOMEMLIMIT is set; 0 for none")
	c.yard.Register(s)
	if r == roleServe {
		c.compliance.register(s)
		c.routing.register(s)
		s.String(&c.mqttTLSAddr, "mqtt-tls-addr", "", "embedded broker's MQTT over TLS listener, e.g. :8883 (needs --mqtt-tls-cert and --mqtt-tls-key)")
		s.String(&c.mqttTLSCert, "mqtt-tls-cert", "", "PEM certificate of the TLS listener")
		s.String(&c.mqttTLSKey, "mqtt-tls-key", "", "PEM private key of the TLS listener")
		s.String(&c.mqttTLSClientCA, "mqtt-tls-client-ca", "", "PEM CA of device client certificates; a device presenting one is identified by its certificate's common name")
		s.String(&c.tileURL, "tile-url", web.DefaultTileURL, "map tiles of the web console ({z}/{x}/{y} template); empty draws sites, tracks and bins without tiles")
	}
}

// Validate reports settings that cannot work.
func (c *appConfig) Validate() error {
	switch {
	case c.batchPoints <= 0:
		return errors.New("--ingest-batch-points must be positive")
	case c.batchDelay <= 0:
		return errors.New("--ingest-batch-delay must be positive")
	case c.maxPayload <= 0:
		return errors.New("--ingest-max-payload must be positive")
	case c.maxSkew < 0:
		return errors.New("--ingest-max-skew must not be negative")
	case c.writers <= 0 || c.queueLen <= 0 || c.decodeWorkers < 0:
		return errors.New("--ingest-writers and --ingest-queue must be positive")
	case c.clientID == "":
		return errors.New("--mqtt-client-id is required")
	case c.influxURL == "" && c.influxToken != "":
		return errors.New("--influx-token given without --influx-url")
	}
	return nil
}

// app is one revloop process: the stores, the broker, the ingest pipeline
// and the HTTP API, built from config by newApp and run by Run.
//
// Other parts plug in through wirings (registerWiring): each runs after the
// stores are open and before the broker, pipeline and API are built, and may
// add to BrokerHooks (device authentication and ACL), set Ingest.Devices (a
// DeviceChecker) or Ingest.Enricher, append Ingest.Observers (device
// health, geofences, passages, tickets), fill the API's Deps and add
// Closers.
type app struct {
	log  *slog.Logger
	cfg  appConfig
	role role

	DB         *store.DB
	TimeSeries timeseries.Store
	Registry   *prometheus.Registry

	// Plug-in points, filled by wirings.
	BrokerHooks []broker.Hook
	BrokerTLS   *tls.Config // for --mqtt-tls-addr
	Ingest      ingest.Deps
	API         api.Deps
	Closers     []func() error
	// Runners run beside the broker, ingest and HTTP server until the
	// process stops (e.g. a health sweeper); they must return when ctx ends.
	Runners []func(ctx context.Context) error

	broker   *broker.Broker
	source   *ingest.MQTTSource
	pipeline *ingest.Pipeline
	http     *api.Server
	httpLn   net.Listener
}

// wiring attaches one part of the system to an app.
type wiring struct {
	name string
	fn   func(ctx context.Context, a *app) error
}

var wirings []wiring

// registerWiring adds a wiring; wirings run in name order.
func registerWiring(name string, fn func(ctx context.Context, a *app) error) {
	wirings = append(wirings, wiring{name, fn})
	sort.Slice(wirings, func(i, j int) bool { return wirings[i].name < wirings[j].name })
}

// newApp opens the stores, runs the wirings and builds the broker (serve
// without --mqtt-url), the ingest pipeline and the HTTP server.
func newApp(ctx context.Context, log *slog.Logger, cfg appConfig, r role) (a *app, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	a = &app{log: log, cfg: cfg, role: r, Registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	db, _, err := cfg.store.open(ctx, nil)
	if err != nil {
		return a, err
	}
	a.DB = db
	a.Closers = append(a.Closers, db.Close)

	if cfg.influxURL != "" {
		ts, err := influx.New(influx.Config{URL: cfg.influxURL, Token: cfg.influxToken, Org: cfg.influxOrg,
			Bucket: cfg.influxBucket, Logger: log.With("component", "influx")})
		if err != nil {
			return a, err
		}
		a.TimeSeries = ts
	} else {
		ts, err := embedded.Open(ctx, filepath.Join(cfg.store.dataDir, "timeseries"),
			embedded.Options{Logger: log.With("component", "timeseries")})
		if err != nil {
			return a, err
		}
		a.TimeSeries = ts
	}
	a.Closers = append(a.Closers, a.TimeSeries.Close)

	deadLetters := ingest.NewDeadLetters(db)
	a.Ingest.Store = a.TimeSeries
	a.Ingest.DeadLetters = deadLetters
	a.Ingest.Metrics = ingest.NewMetrics(a.Registry)
	a.API.Telemetry.Metrics = promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{Registry: a.Registry})
	if r == roleServe {
		a.API.Telemetry.Positions = a.TimeSeries
		a.API.Telemetry.DeadLetters = deadLetters
	}

	for _, w := range wirings {
		if err := w.fn(ctx, a); err != nil {
			return a, fmt.Errorf("%s: wiring %s: %w", r, w.name, err)
		}
	}

	mqttURL := cfg.mqttURL
	if r == roleServe && mqttURL == "" {
		b, err := broker.New(log.With("component", "broker"), broker.Options{
			Addr:      cfg.mqttAddr,
			DataDir:   filepath.Join(cfg.store.dataDir, "mqtt"),
			TLSAddr:   cfg.mqttTLSAddr,
			TLSConfig: a.BrokerTLS,
			Hooks:     a.BrokerHooks,
			AllowAll:  len(a.BrokerHooks) == 0,
			Journal:   cfg.mqttJournal,
		})
		if err != nil {
			return a, err
		}
		if len(a.BrokerHooks) == 0 {
			log.Warn("embedded MQTT broker admits every client: no device authentication hook is configured")
		}
		a.broker = b
		mqttURL = b.URL()
		if cfg.mqttJournal {
			a.Registry.MustRegister(journalCollector{b})
		}
	}

	src, err := ingest.NewMQTTSource(log.With("component", "ingest-mqtt"), ingest.MQTTConfig{
		URL: mqttURL, ClientID: a.cfg.clientID, Username: a.cfg.mqttUser, Password: a.cfg.mqttPass, ShareGroup: cfg.shareGroup})
	if err != nil {
		return a, err
	}
	a.source = src
	a.Ingest.Source = src
	a.pipeline, err = ingest.New(log.With("component", "ingest"), ingest.Options{
		BatchPoints: cfg.batchPoints, BatchDelay: cfg.batchDelay, MaxPayloadBytes: cfg.maxPayload,
		Limits: ingest.Limits{MaxSkew: cfg.maxSkew}, Writers: cfg.writers, DecodeWorkers: cfg.decodeWorkers,
		QueueLen: cfg.queueLen, DrainTimeout: cfg.drainTimeout,
	}, a.Ingest)
	if err != nil {
		return a, err
	}

	a.API.Telemetry.Health = append(a.API.Telemetry.Health,
		api.HealthCheck{Name: "mqtt", Check: a.checkMQTT},
		api.HealthCheck{Name: "timeseries", Check: func(context.Context) error { return a.pipeline.StoreError() }},
		api.HealthCheck{Name: "state_store", Check: func(ctx context.Context) error { return db.SQL().PingContext(ctx) }},
	)
	if cfg.httpAddr != "" {
		ln, err := net.Listen("tcp", cfg.httpAddr)
		if err != nil {
			return a, fmt.Errorf("%s: http listen: %w", r, err)
		}
		a.httpLn = ln
		var opts api.Options
		if r == roleServe {
			opts.Console = web.Handler(web.Config{TileURL: cfg.tileURL, TileAttribution: "© OpenStreetMap contributors"})
		}
		a.http = api.New(log.With("component", "api"), opts, a.API)
	}
	return a, nil
}

func (a *app) checkMQTT(context.Context) error {
	if a.broker != nil {
		if err := a.broker.Healthy(); err != nil {
			return err
		}
	}
	if !a.source.Connected() {
		return errors.New("ingest client not connected to the broker")
	}
	return nil
}

// HTTPAddr returns the HTTP listener's address, or "".
func (a *app) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// MQTTAddr returns the embedded broker's address, or "".
func (a *app) MQTTAddr() string {
	if a.broker == nil {
		return ""
	}
	return a.broker.Addr()
}

// Run runs until ctx ends, then shuts down in order: the HTTP server and
// the pipeline stop taking work, the pipeline flushes and acknowledges what
// it holds, then the broker and the stores close.
func (a *app) Run(ctx context.Context) error {
	defer a.close()
	brokerCtx, stopBroker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBroker()
	var wg sync.WaitGroup
	errs := make(chan error, 4+len(a.Runners))
	fail, failed := context.WithCancel(ctx)
	defer failed()
	run := func(name string, c context.Context, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(c); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				failed()
			}
		})
	}
	var brokerWG sync.WaitGroup
	if a.broker != nil {
		brokerWG.Go(func() {
			if err := a.broker.Run(brokerCtx); err != nil {
				errs <- err
				failed()
			}
		})
	}
	if a.http != nil {
		run("http", fail, func(c context.Context) error { return a.http.Serve(c, a.httpLn) })
		a.log.Info("http listening", "addr", a.HTTPAddr())
	}
	run("ingest", fail, a.pipeline.Run)
	for i, r := range a.Runners {
		run(fmt.Sprintf("runner %d", i), fail, r)
	}
	wg.Wait()
	stopBroker()
	brokerWG.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

func (a *app) close() {
	for i := len(a.Closers) - 1; i >= 0; i-- {
		if err := a.Closers[i](); err != nil {
			a.log.Warn("close", "err", err)
		}
	}
	a.Closers = nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	return runApp(ctx, e, args, roleServe)
}

func runApp(ctx context.Context, e *env, args []string, r role) error {
	set := config.NewSet(string(r), e.stderr)
	var cfg appConfig
	cfg.register(set, r)
	if err := set.Parse(args); err != nil {
		return err
	}
	if set.FlagSet().NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", r, set.FlagSet().Arg(0))
	}
	desc := set.Describe()
	keys := make([]string, 0, len(desc))
	for k := range desc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	settings := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		settings = append(settings, k, desc[k])
	}
	e.log.Info("revloop "+string(r)+" starting", settings...)
	if _, set := os.LookupEnv("GOGC"); !set && cfg.gcPercent != 0 {
		debug.SetGCPercent(cfg.gcPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.memLimitMB > 0 {
		debug.SetMemoryLimit(int64(cfg.memLimitMB) << 20)
	}
	if path := os.Getenv("REVLOOP_CPU_PROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	a, err := newApp(ctx, e.log, cfg, r)
	if err != nil {
		return err
	}
	if a.broker != nil {
		fmt.Fprintf(e.stdout, "mqtt %s\n", a.MQTTAddr())
	}
	if a.http != nil {
		fmt.Fprintf(e.stdout, "http %s\n", a.HTTPAddr())
	}
	err = a.Run(ctx)
	e.log.Info("revloop " + string(r) + " stopped")
	return err
}

// startCPUProfile writes a CPU profile of the whole run to path (set
// REVLOOP_CPU_PROFILE to tune ingest with `go tool pprof`).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// journalCollector exports the state of the embedded broker's journal,
// read once per scrape: messages it holds for a subscriber that has not
// acknowledged them (ingest falling behind or away), its files, and failed
// writes (publications refused).
type journalCollector struct{ b *broker.Broker }

var (
	journalPendingDesc = prometheus.NewDesc("revloop_broker_journal_pending_messages",
		"Messages the embedded broker acknowledged and keeps in its journal until every subscriber has acknowledged them.", nil, nil)
	journalSegmentsDesc = prometheus.NewDesc("revloop_broker_journal_segments",
		"Segment files of the embedded broker's journal.", nil, nil)
	journalBytesDesc = prometheus.NewDesc("revloop_broker_journal_bytes",
		"Bytes in the segment files of the embedded broker's journal.", nil, nil)
	journalErrorsDesc = prometheus.NewDesc("revloop_broker_journal_write_errors_total",
		"Failed writes of the embedded broker's journal; the publications they held were refused and are sent again by their clients.", nil, nil)
)

func (journalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- journalPendingDesc
	ch <- journalSegmentsDesc
	ch <- journalBytesDesc
	ch <- journalErrorsDesc
}

func (c journalCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.JournalStats()
	ch <- prometheus.MustNewConstMetric(journalPendingDesc, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(journalSegmentsDesc, prometheus.GaugeValue, float64(st.Segments))
	ch <- prometheus.MustNewConstMetric(journalBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(journalErrorsDesc, prometheus.CounterValue, float64(st.WriteErrors))
}
