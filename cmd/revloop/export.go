package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop/compliance"
	"github.com/revloop/revloop/compliance/emissions"
	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/timeseries"
	"github.com/revloop/revloop/timeseries/embedded"
	"github.com/revloop/revloop/timeseries/influx"
	"github.com/revloop/revloop/yard"
)

func init() {
	register(&command{name: "export", summary: "write a compliance export or customer report (period, transfer-notes, receipts, emissions, service, ranking)", run: runExport})
}

// complianceFlags are the operator details printed on transfer notes and
// receipts, and the commercial settings of the customer ranking; serve and
// export share them.
type complianceFlags struct {
	name, address, permit   string
	carrierName, carrierReg string
	retention               time.Duration
	tariffs                 string
}

func (f *complianceFlags) register(s *config.Set) {
	s.String(&f.name, "operator-name", "revloop operator", "operator (yard) name on transfer notes and receipts")
	s.String(&f.address, "operator-address", "", "yard address on transfer notes and receipts")
	s.String(&f.permit, "operator-permit", "", "yard environmental permit number")
	s.String(&f.carrierName, "carrier-name", "revloop-fleet", "the operator's own carrier name (shipments whose carrier matches get the registration)")
	s.String(&f.carrierReg, "carrier-registration", "", "the operator's waste carrier registration number")
	s.Duration(&f.retention, "note-retention", 3*365*24*time.Hour, "how long issued transfer notes are kept before they may be deleted")
	s.String(&f.tariffs, "tariffs", "", "price per tonne by material for the ranking's revenue share, e.g. paper=80,plastic=120,*=60")
}

func (f *complianceFlags) options() (compliance.Options, map[string]float64, error) {
	o := compliance.Options{
		Operator: compliance.Operator{
			Yard:    compliance.Party{Name: f.name, Address: f.address, Permit: f.permit},
			Carrier: compliance.Party{Name: f.carrierName, Registration: f.carrierReg},
		},
		Retention: f.retention,
	}
	tariffs := map[string]float64{}
	for _, kv := range strings.Split(f.tariffs, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		price, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil || price < 0 {
			return o, nil, fmt.Errorf("--tariffs: %q is not material=price", kv)
		}
		tariffs[strings.TrimSpace(k)] = price
	}
	return o, tariffs, nil
}

const exportUsage = `usage: revloop export <kind> --from DATE --to DATE [--format F] [--out FILE]

kinds and formats:
  period          json csv xlsx pdf   tonnage by EWC and R/D code, mass balance, recycling rate, WEEE
  transfer-notes  json csv pdf        waste transfer notes of every shipment and received load
  receipts        json                digital waste tracking receipts (UK Receipt of Waste shape)
  emissions       json csv xlsx pdf   fleet emissions per vehicle and customer (ISO 14083)
  service         json csv xlsx pdf   a customer's service report (--customer, --period, --at)
  ranking         json csv xlsx pdf   customers by volume and revenue share, falling and stopped ones`

func runExport(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(e.stderr, exportUsage)
		return errUsage
	}
	kind := args[0]
	set := config.NewSet("export "+kind, e.stderr)
	var sf storeFlags
	var cf complianceFlags
	sf.register(set)
	cf.register(set)
	var from, to, format, out, yardID, customer, periodKind, at string
	var influxURL, influxToken, influxBucket string
	var quiet bool
	set.String(&from, "from", "", "start of the period (YYYY-MM-DD or RFC 3339), inclusive")
	set.String(&to, "to", "", "end of the period, exclusive")
	set.String(&format, "format", "json", "json, csv, xlsx or pdf (see the kinds)")
	set.String(&out, "out", "", "file to write (default standard output)")
	set.String(&yardID, "yard", "", "limit a period report to one yard")
	set.String(&customer, "customer", "", "customer of a service report")
	set.String(&periodKind, "period", "", "service report: month, quarter or year containing --at (instead of --from/--to)")
	set.String(&at, "at", "", "service report: a date inside the period")
	set.String(&influxURL, "influx-url", "", "InfluxDB holding the GPS tracks (emissions); default the embedded store in --data-dir")
	set.Secret(&influxToken, "influx-token", "InfluxDB token or user:password")
	set.String(&influxBucket, "influx-bucket", "revloop", "InfluxDB bucket or database/retention-policy")
	set.Bool(&quiet, "quiet", false, "no progress bar")
	if err := set.Parse(args[1:]); err != nil {
		return err
	}
	req := compliance.ExportRequest{Kind: kind, Format: format, Yard: yardID, Customer: customer, PeriodKind: periodKind}
	var err error
	if kind == compliance.KindService && periodKind != "" {
		req.Period, err = compliance.ServicePeriod(periodKind, at)
	} else {
		req.Period, err = compliance.ParsePeriod(from, to)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	opts, tariffs, err := cf.options()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	req.Tariffs = tariffs
	if err := req.Validate(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	db, _, err := sf.open(ctx, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	ys, err := yard.New(db, e.log, yard.Options{})
	if err != nil {
		return err
	}
	var deps compliance.ExportDeps
	if kind == compliance.KindEmissions || kind == compliance.KindService {
		ts, err := openTracks(ctx, sf.dataDir, influxURL, influxToken, influxBucket)
		if err != nil {
			return fmt.Errorf("export %s: %w", kind, err)
		}
		defer ts.Close()
		deps = compliance.ExportDeps{Tracks: ts, Calc: emissions.New(nil)}
	}
	var w io.Writer = e.stdout
	var file *os.File
	if out != "" {
		if file, err = os.CreateTemp(filepath.Dir(out), ".export-*"); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(file.Name())
		w = file
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bar := newProgress(e.stderr, "export "+kind, quiet)
	err = compliance.New(db, ys, opts).Export(ctx, bw, req, deps, bar.set)
	bar.done()
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if file != nil {
			file.Close()
		}
		return fmt.Errorf("export %s: %w", kind, err)
	}
	if file != nil {
		if err := file.Chmod(0o644); err != nil {
			file.Close()
			return fmt.Errorf("export: %w", err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(file.Name(), out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintf(e.stderr, "wrote %s\n", out)
	}
	return nil
}

// openTracks opens the time-series store that holds vehicle positions.
func openTracks(ctx context.Context, dataDir, url, token, bucket string) (timeseries.Store, error) {
	if url != "" {
		return influx.New(influx.Config{URL: url, Token: token, Bucket: bucket})
	}
	return embedded.Open(ctx, filepath.Join(dataDir, "timeseries"), embedded.Options{})
}
