package influx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

// DefaultTimeout bounds one HTTP request to InfluxDB unless Config says
// otherwise.
const DefaultTimeout = 30 * time.Second

// DefaultRetryAfter is the RetryAfter of a retryable write error when the
// server did not send a Retry-After header.
const DefaultRetryAfter = time.Second

// Config selects the InfluxDB server and bucket.
type Config struct {
	// URL of the server, e.g. http://127.0.0.1:8086. Required.
	URL string
	// Token is an API token (2.x, Cloud), "user:password" (1.8 with
	// authentication) or empty (1.8 without). Never logged.
	Token string
	// Org is the organisation (2.x, Cloud); 1.8 ignores it.
	Org string
	// Bucket is the bucket (2.x) or "database/retention-policy" (1.8; the
	// retention policy may be left out for the default one). Required.
	Bucket string
	// Timeout bounds each HTTP request (default 30s).
	Timeout time.Duration
	// Retention is applied by Prune with delete requests, besides whatever
	// retention the bucket or retention policy enforces by itself.
	Retention timeseries.Retention
	// Logger receives prune messages; nil discards them.
	Logger *slog.Logger
}

// Validate reports a missing or malformed setting.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("influx: url is required")
	case err != nil:
		return fmt.Errorf("influx: url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("influx: url %q: want http(s)://host:port", c.URL)
	case c.Bucket == "":
		return errors.New("influx: bucket is required")
	case c.Timeout < 0:
		return errors.New("influx: negative timeout")
	}
	for m, d := range c.Retention {
		if d < 0 {
			return fmt.Errorf("influx: negative retention for %s", m)
		}
	}
	return nil
}

// Store writes to and reads from InfluxDB through influxdb-client-go/v2:
// blocking writes of the caller's batches, Flux queries for reads.
type Store struct {
	timeseries.Typed // Positions, FillHistory, RFIDReads, Weights, Statuses

	cfg    Config
	log    *slog.Logger
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI
	http   *http.Client
	// v1 is set once a delete request showed that the server is InfluxDB
	// 1.x, which prunes with InfluxQL instead.
	v1 atomic.Bool
}

var _ timeseries.Store = (*Store)(nil)

// New returns a store for cfg. It does not contact the server.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hc := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}}
	opts := influxdb2.DefaultOptions().
		SetHTTPClient(hc).
		SetPrecision(time.Nanosecond).
		SetMaxRetries(0). // the caller owns retries
		SetApplicationName("revloop")
	client := influxdb2.NewClientWithOptions(strings.TrimRight(cfg.URL, "/"), cfg.Token, opts)
	s := &Store{
		cfg:    cfg,
		log:    log,
		client: client,
		write:  client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		query:  client.QueryAPI(cfg.Org),
		http:   hc,
	}
	s.Typed = timeseries.Typed{P: s}
	return s, nil
}

// Write sends points as one line-protocol request. When it returns nil
// InfluxDB has accepted the whole batch. Invalid points reject the batch
// before anything is sent; see Classify for server errors.
func (s *Store) Write(ctx context.Context, points []timeseries.Point) error {
	if len(points) == 0 {
		return nil
	}
	if err := timeseries.ValidateBatch(points); err != nil {
		return err
	}
	b := make([]byte, 0, len(points)*160)
	for i := range points {
		b = appendLine(b, &points[i])
	}
	if err := s.write.WriteRecord(ctx, string(b[:len(b)-1])); err != nil {
		return Classify(err)
	}
	return nil
}

// Classify turns an error of the InfluxDB client into a
// *timeseries.WriteError:
//   - network failures, timeouts, 429 and 5xx are retryable, after the
//     Retry-After the server sent (DefaultRetryAfter when it sent none);
//   - 401, 403 and 404 are retryable too: they say the token or the bucket
//     is wrong, not the data, and the data must survive until an operator
//     fixes the configuration;
//   - 400, 413, 422 and the other 4xx reject the batch's content (a field
//     type conflict, a malformed line, a batch too large): sending it again
//     cannot succeed.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var we *timeseries.WriteError
	if errors.As(err, &we) {
		return err
	}
	var he *influxhttp.Error
	if !errors.As(err, &he) || he.StatusCode == 0 {
		// No HTTP status: the request did not complete.
		return &timeseries.WriteError{Err: fmt.Errorf("influx write: %w", err), Retryable: true, RetryAfter: DefaultRetryAfter}
	}
	msg := fmt.Errorf("influx write: HTTP %d: %w", he.StatusCode, err)
	switch code := he.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500,
		code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound:
		after := DefaultRetryAfter
		if he.RetryAfter > 0 {
			after = time.Duration(he.RetryAfter) * time.Second
		} else if v := he.Header.Get("Retry-After"); v != "" {
			if t, err := http.ParseTime(v); err == nil {
				after = max(time.Until(t), 0)
			}
		}
		return &timeseries.WriteError{Err: msg, Retryable: true, RetryAfter: after}
	default:
		return &timeseries.WriteError{Err: msg}
	}
}

// fluxString quotes s as a Flux string literal.
func fluxString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`).Replace(s) + `"`
}

func fluxTime(t time.Time) string {
	switch {
	case t.Before(timeseries.MinTime):
		t = timeseries.MinTime
	case t.After(timeseries.MaxTime):
		t = timeseries.MaxTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// metaColumns are the columns of a pivoted Flux row that are neither tags
// nor fields.
var metaColumns = map[string]bool{"result": true, "table": true, "_start": true, "_stop": true,
	"_time": true, "_measurement": true, "device": true}

// run executes a Flux query whose rows are pivoted points and returns them.
// Tag columns are those in the group key.
func (s *Store) run(ctx context.Context, measurement, flux string) ([]timeseries.Point, error) {
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx query %s: %w", measurement, err)
	}
	defer res.Close()
	var out []timeseries.Point
	var tagCols map[string]bool
	for res.Next() {
		if res.TableChanged() || tagCols == nil {
			tagCols = make(map[string]bool)
			for _, c := range res.TableMetadata().Columns() {
				if c.IsGroup() && !metaColumns[c.Name()] {
					tagCols[c.Name()] = true
				}
			}
		}
		rec := res.Record()
		dev, _ := rec.ValueByKey("device").(string)
		p := timeseries.Point{Measurement: measurement, Device: revloop.DeviceID(dev), Time: rec.Time().UTC()}
		for k, v := range rec.Values() {
			if metaColumns[k] || v == nil {
				continue
			}
			if tagCols[k] {
				if sv, ok := v.(string); ok && sv != "" {
					p.Tags = append(p.Tags, timeseries.Tag{Key: k, Value: sv})
				}
				continue
			}
			switch x := v.(type) {
			case uint64:
				v = int64(x)
			case float64, int64, bool, string:
			default:
				continue
			}
			p.Fields = append(p.Fields, timeseries.Field{Key: k, Value: v})
		}
		if len(p.Fields) == 0 {
			continue
		}
		timeseries.SortTags(p.Tags)
		sort.Slice(p.Fields, func(i, j int) bool { return p.Fields[i].Key < p.Fields[j].Key })
		out = append(out, p)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx query %s: %w", measurement, err)
	}
	return out, nil
}

func tagKey(tags []timeseries.Tag) string {
	var b strings.Builder
	for _, t := range tags {
		b.WriteString(t.Key)
		b.WriteByte(0)
		b.WriteString(t.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// Points returns a device's points of one measurement with from <= ts < to,
// oldest first; points of one instant with different tag sets are ordered
// by tag set.
func (s *Store) Points(ctx context.Context, measurement string, device revloop.DeviceID, from, to time.Time) ([]timeseries.Point, error) {
	if !to.After(from) {
		return nil, nil
	}
	// The filter on _time keeps stop exclusive on InfluxDB 1.8, whose range
	// includes points at stop.
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %s and r.device == %s and r._time < %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		fluxString(s.cfg.Bucket), fluxTime(from), fluxTime(to), fluxString(measurement), fluxString(string(device)), fluxTime(to))
	ps, err := s.run(ctx, measurement, flux)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if !ps[i].Time.Equal(ps[j].Time) {
			return ps[i].Time.Before(ps[j].Time)
		}
		return tagKey(ps[i].Tags) < tagKey(ps[j].Tags)
	})
	return ps, nil
}

// LatestPositions returns the newest fix of every device, or of the named
// ones, sorted by device. It asks for the last value of every field of every
// series and keeps, per device, the row of the newest instant.
func (s *Store) LatestPositions(ctx context.Context, devices ...revloop.DeviceID) ([]revloop.Position, error) {
	filter := `r._measurement == "position"`
	if len(devices) > 0 {
		ors := make([]string, len(devices))
		for i, d := range devices {
			ors[i] = "r.device == " + fluxString(string(d))
		}
		filter += " and (" + strings.Join(ors, " or ") + ")"
	}
	flux := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		fluxString(s.cfg.Bucket), fluxTime(timeseries.MinTime), fluxTime(timeseries.MaxTime), filter)
	ps, err := s.run(ctx, revloop.MeasurementPosition, flux)
	if err != nil {
		return nil, err
	}
	best := make(map[revloop.DeviceID]timeseries.Point)
	for _, p := range ps {
		cur, ok := best[p.Device]
		if !ok || p.Time.After(cur.Time) || p.Time.Equal(cur.Time) && tagKey(p.Tags) > tagKey(cur.Tags) {
			best[p.Device] = p
		}
	}
	out := make([]revloop.Position, 0, len(best))
	for _, p := range best {
		out = append(out, timeseries.PointPosition(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out, nil
}

// Prune deletes, for every measurement with a retention, the points older
// than now minus that retention: with the v2 delete API on InfluxDB 2.x and
// Cloud, with an InfluxQL DELETE on 1.x (which has no delete API; the DELETE
// covers every retention policy of the database). Production setups usually
// let the bucket or retention policy expire data instead and leave
// Retention empty; see deploy/influxdb.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	ms := make([]string, 0, len(s.cfg.Retention))
	for m, d := range s.cfg.Retention {
		if d > 0 {
			ms = append(ms, m)
		}
	}
	sort.Strings(ms)
	for _, m := range ms {
		cutoff := now.Add(-s.cfg.Retention[m])
		if err := s.deleteBefore(ctx, m, cutoff); err != nil {
			return fmt.Errorf("influx prune %s: %w", m, err)
		}
		s.log.Info("pruned time series", "measurement", m, "before", cutoff)
	}
	return nil
}

func (s *Store) deleteBefore(ctx context.Context, measurement string, cutoff time.Time) error {
	if !s.v1.Load() {
		// The delete API's stop is inclusive; points at the cutoff stay.
		body, err := json.Marshal(map[string]string{
			"start":     fluxTime(timeseries.MinTime),
			"stop":      fluxTime(cutoff.Add(-time.Nanosecond)),
			"predicate": `_measurement="` + measurement + `"`,
		})
		if err != nil {
			return err
		}
		q := url.Values{"bucket": {s.cfg.Bucket}}
		if s.cfg.Org != "" {
			q.Set("org", s.cfg.Org)
		}
		status, msg, err := s.post(ctx, "/api/v2/delete?"+q.Encode(), "application/json", body)
		switch {
		case err != nil:
			return err
		case status/100 == 2:
			return nil
		case status != http.StatusNotFound:
			return fmt.Errorf("delete: HTTP %d: %s", status, msg)
		}
		// InfluxDB 1.x has no delete API.
		s.v1.Store(true)
	}
	db, _, _ := strings.Cut(s.cfg.Bucket, "/")
	return s.influxQL(ctx, db, fmt.Sprintf(`DELETE FROM %q WHERE time < '%s'`, measurement, cutoff.UTC().Format(time.RFC3339Nano)))
}

// post sends an authorised request and returns the status and the start of
// the body.
func (s *Store) post(ctx context.Context, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.cfg.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+s.cfg.Token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, bytes.TrimSpace(msg), nil
}

// influxQL runs a statement through the 1.x /query endpoint.
func (s *Store) influxQL(ctx context.Context, db, q string) error {
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	status, body, err := s.post(ctx, "/query", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("InfluxQL %q: HTTP %d: %s", q, status, body)
	}
	// InfluxQL reports statement errors inside a 200 response.
	if i := bytes.Index(body, []byte(`"error":`)); i >= 0 {
		return fmt.Errorf("InfluxQL %q: %s", q, body[i:])
	}
	return nil
}

// Close releases the client's connections.
func (s *Store) Close() error {
	s.client.Close()
	return nil
}
