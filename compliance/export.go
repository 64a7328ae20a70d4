package compliance

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/compliance/emissions"
	"github.com/revloop/revloop/report"
)

// Export kinds.
const (
	KindPeriod        = "period"
	KindTransferNotes = "transfer-notes"
	KindReceipts      = "receipts"
	KindEmissions     = "emissions"
	KindService       = "service"
	KindRanking       = "ranking"
)

// exportFormats lists the formats each kind offers.
var exportFormats = map[string][]string{
	KindPeriod:        {"json", "csv", "xlsx", "pdf"},
	KindTransferNotes: {"json", "csv", "pdf"},
	KindReceipts:      {"json"},
	KindEmissions:     {"json", "csv", "xlsx", "pdf"},
	KindService:       {"json", "csv", "xlsx", "pdf"},
	KindRanking:       {"json", "csv", "xlsx", "pdf"},
}

// Kinds lists the export kinds and their formats.
func Kinds() map[string][]string { return exportFormats }

// ExportRequest names one export.
type ExportRequest struct {
	Kind   string
	Format string
	Period Period
	// Yard limits a period report to one yard.
	Yard string
	// Customer, PeriodKind (month, quarter, year) and the Period derived
	// from them select a service report.
	Customer   string
	PeriodKind string
	// Tariffs price material per tonne for the ranking's revenue share.
	Tariffs map[string]float64
	// FallingPct is the drop that marks a customer's volume as falling
	// (default 20).
	FallingPct float64
}

// ExportDeps are what the emissions figures need.
type ExportDeps struct {
	Tracks Tracks
	Calc   *emissions.Calculator
}

// Validate checks kind, format and the parts of the request the kind needs.
func (r ExportRequest) Validate() error {
	formats, ok := exportFormats[r.Kind]
	if !ok {
		return revloop.Invalid("kind", "unknown export %q (want period, transfer-notes, receipts, emissions, service or ranking)", r.Kind)
	}
	if err := report.CheckFormat(r.Format, formats...); err != nil {
		return err
	}
	if r.Period.From.IsZero() || !r.Period.From.Before(r.Period.To) {
		return revloop.Invalid("from", "a period with from before to is required")
	}
	if r.Kind == KindService && r.Customer == "" {
		return revloop.Invalid("customer", "required for a service report")
	}
	return nil
}

// Export writes one document to w. Transfer notes (JSON, CSV) and receipts
// stream one record at a time; the other kinds are aggregates.
func (s *Service) Export(ctx context.Context, w io.Writer, req ExportRequest, deps ExportDeps, progress func(done, total int)) error {
	if err := req.Validate(); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	switch req.Kind {
	case KindPeriod:
		r, _, err := s.PeriodReport(ctx, req.Period, req.Yard)
		if err != nil {
			return err
		}
		return r.Write(w, req.Format)
	case KindTransferNotes:
		return s.exportNotes(ctx, w, req, progress)
	case KindReceipts:
		return streamJSON(w, func(emit func(any) error) error {
			return s.EachReceipt(ctx, req.Period, func(r Receipt) error { return emit(r) }, progress)
		})
	case KindEmissions, KindService:
		var fe FleetEmissions
		if deps.Tracks != nil {
			calc := deps.Calc
			if calc == nil {
				calc = emissions.New(nil)
			}
			var err error
			if fe, err = s.Emissions(ctx, req.Period, deps.Tracks, calc); err != nil {
				return err
			}
		} else if req.Kind == KindEmissions {
			return fmt.Errorf("%w: emissions need the time-series store", revloop.ErrUnavailable)
		}
		if req.Kind == KindEmissions {
			if req.Format == "json" {
				return encodeJSON(w, fe)
			}
			return EmissionsReport(fe, now).Write(w, req.Format)
		}
		var em *float64
		if deps.Tracks != nil {
			v := fe.ByCustomer[req.Customer]
			em = &v
		}
		f, err := s.ServiceFigures(ctx, req.Customer, req.Period, em)
		if err != nil {
			return err
		}
		if req.Format == "json" {
			return encodeJSON(w, f)
		}
		kind := req.PeriodKind
		if kind == "" {
			kind = req.Period.From.Format("2006-01-02") + " to " + req.Period.To.Format("2006-01-02")
		}
		return ServiceReport(f, kind, now).Write(w, req.Format)
	case KindRanking:
		falling := req.FallingPct
		if falling <= 0 {
			falling = 20
		}
		rk, err := s.Rank(ctx, req.Period, req.Tariffs, falling)
		if err != nil {
			return err
		}
		if req.Format == "json" {
			return encodeJSON(w, rk)
		}
		return RankingReport(rk, now).Write(w, req.Format)
	}
	return nil
}

func (s *Service) exportNotes(ctx context.Context, w io.Writer, req ExportRequest, progress func(done, total int)) error {
	switch req.Format {
	case "json":
		return streamJSON(w, func(emit func(any) error) error {
			return s.EachNote(ctx, req.Period, func(n TransferNote) error { return emit(n) }, progress)
		})
	case "csv":
		cw := csv.NewWriter(w)
		head := NotesReport(nil, req.Period, time.Time{}, false).Sections[0].Table.Columns
		names := make([]string, len(head))
		for i, c := range head {
			names[i] = c.Header()
		}
		cw.Write(names)
		err := s.EachNote(ctx, req.Period, func(n TransferNote) error {
			for _, it := range n.Items {
				cw.Write([]string{n.ID, n.Kind, n.Transfer.UTC().Format(time.RFC3339), n.Producer.Name, n.Producer.Permit, n.Receiver.Name,
					n.Receiver.Permit, n.Carrier.Name, n.Carrier.Registration, n.Vehicle, it.EWC, it.Description,
					strconv.FormatBool(it.Hazardous), it.Containment, it.RDCode, report.FormatCell(it.Kg)})
			}
			cw.Flush()
			return cw.Error()
		}, progress)
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	default:
		notes, err := s.Notes(ctx, req.Period, progress)
		if err != nil {
			return err
		}
		return NotesReport(notes, req.Period, s.opts.Now().UTC(), true).Write(w, req.Format)
	}
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// streamJSON writes a JSON array whose elements each() emits one by one.
func streamJSON(w io.Writer, each func(emit func(any) error) error) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	n := 0
	err := each(func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		sep := "\n"
		if n > 0 {
			sep = ",\n"
		}
		n++
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}
