package compliance

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/revloop/revloop"
)

func TestExportKindsAndFormats(t *testing.T) {
	f := newFixture(t)
	withCustomers(t, f)
	s := f.svc()
	p := Period{From: t0.Add(-48 * time.Hour), To: t0.Add(48 * time.Hour)}
	for kind, formats := range Kinds() {
		for _, format := range formats {
			t.Run(kind+"."+format, func(t *testing.T) {
				var buf bytes.Buffer
				req := ExportRequest{Kind: kind, Format: format, Period: p, Customer: "cust-a"}
				err := s.Export(context.Background(), &buf, req, ExportDeps{Tracks: fakeTracks{}}, nil)
				if err != nil || buf.Len() == 0 {
					t.Fatalf("err %v, %d bytes", err, buf.Len())
				}
				if format == "json" && !json.Valid(buf.Bytes()) {
					t.Fatalf("invalid JSON:\n%s", buf.Bytes())
				}
			})
		}
	}
}

func TestExportNotesCSVReconciles(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	p := Period{From: t0, To: t0.Add(48 * time.Hour)}
	if err := f.svc().Export(context.Background(), &buf, ExportRequest{Kind: KindTransferNotes, Format: "csv", Period: p}, ExportDeps{}, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	loads, shipped := 0.0, 0.0
	for _, r := range rows[1:] {
		kg, _ := strconv.ParseFloat(r[len(r)-1], 64)
		if r[1] == NoteLoad {
			loads += kg
		} else {
			shipped += kg
		}
	}
	tot, _ := f.svc().PeriodTotals(context.Background(), p, "")
	if loads != tot.ReceivedKg || shipped != tot.ShippedKg {
		t.Fatalf("notes carry %v kg in and %v kg out; the period report says %v and %v", loads, shipped, tot.ReceivedKg, tot.ShippedKg)
	}
	golden(t, "notes-stream.csv", func() []byte {
		var b bytes.Buffer
		f.svc().Export(context.Background(), &b, ExportRequest{Kind: KindTransferNotes, Format: "csv", Period: p}, ExportDeps{}, nil)
		return b.Bytes()
	}())
}

func TestExportRejects(t *testing.T) {
	f := newFixture(t)
	s := f.svc()
	p := Period{From: t0, To: t0.Add(time.Hour)}
	cases := []struct {
		name string
		req  ExportRequest
		deps ExportDeps
		want error
	}{
		{"unknown kind", ExportRequest{Kind: "tax", Format: "pdf", Period: p}, ExportDeps{}, revloop.ErrInvalid},
		{"unknown format", ExportRequest{Kind: KindReceipts, Format: "pdf", Period: p}, ExportDeps{}, revloop.ErrInvalid},
		{"reversed period", ExportRequest{Kind: KindPeriod, Format: "csv", Period: Period{From: p.To, To: p.From}}, ExportDeps{}, revloop.ErrInvalid},
		{"service without customer", ExportRequest{Kind: KindService, Format: "json", Period: p}, ExportDeps{}, revloop.ErrInvalid},
		{"emissions without tracks", ExportRequest{Kind: KindEmissions, Format: "json", Period: p}, ExportDeps{}, revloop.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Export(context.Background(), &bytes.Buffer{}, c.req, c.deps, nil); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}
