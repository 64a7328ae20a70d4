package compliance

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/xuri/excelize/v2"
)

func TestPeriodTotalsReconcile(t *testing.T) {
	f := newFixture(t)
	s := f.svc()
	p := Period{From: t0.Add(-time.Hour), To: t0.Add(48 * time.Hour)}
	tot, err := s.PeriodTotals(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	netSum := 0.0
	for _, tk := range f.tickets {
		netSum += *tk.NetKg
	}
	if tot.ReceivedKg != netSum || tot.ReceivedTickets != 3 {
		t.Fatalf("received %v kg in %d tickets; tickets add up to %v kg in 3", tot.ReceivedKg, tot.ReceivedTickets, netSum)
	}
	if tot.ShippedKg != 5500 || tot.RecoveryKg != 5500 || tot.DisposedKg != 300 || tot.LossKg != 20 {
		t.Fatalf("shipped %v recovery %v disposed %v loss %v", tot.ShippedKg, tot.RecoveryKg, tot.DisposedKg, tot.LossKg)
	}
	// Still in the yard: metal 1180 + WEEE 1200.
	if tot.StockStartKg != 0 || tot.StockEndKg != 2380 {
		t.Fatalf("stock start %v end %v, want 0 and 2380", tot.StockStartKg, tot.StockEndKg)
	}
	if math.Abs(tot.UnaccountedKg) > 1e-9 {
		t.Fatalf("mass balance leaves %v kg unaccounted", tot.UnaccountedKg)
	}
	if want := 100 * 5500.0 / 5800; math.Abs(tot.RecyclingRate-want) > 1e-9 {
		t.Fatalf("recycling rate %v, want %v", tot.RecyclingRate, want)
	}
	if tot.WEEEKg[5] != 1200 || len(tot.WEEEKg) != 1 {
		t.Fatalf("WEEE %v, want 1200 kg in category 5", tot.WEEEKg)
	}
	sumLines := func(ls []Line) (kg float64) {
		for _, l := range ls {
			kg += l.Kg
		}
		return
	}
	if sumLines(tot.Received) != 8200 || sumLines(tot.Shipped) != 5500 || sumLines(tot.Disposed) != 300 {
		t.Fatalf("lines received %v shipped %v disposed %v", sumLines(tot.Received), sumLines(tot.Shipped), sumLines(tot.Disposed))
	}
	// Sorted 4000 + 3000 kg in, compacted 2500 kg in.
	if got := sumLines(tot.Processed); got != 9500 {
		t.Fatalf("processed inputs %v kg, want 9500", got)
	}
}

func TestPeriodTotalsWindow(t *testing.T) {
	f := newFixture(t)
	// Only the first day: two loads received, nothing shipped yet.
	tot, err := f.svc().PeriodTotals(context.Background(), Period{From: t0, To: t0.Add(24 * time.Hour)}, "yard-1")
	if err != nil {
		t.Fatal(err)
	}
	if tot.ReceivedKg != 7000 || tot.ShippedKg != 0 || tot.StockEndKg != 7000-20-300 {
		t.Fatalf("day one: received %v shipped %v stock end %v", tot.ReceivedKg, tot.ShippedKg, tot.StockEndKg)
	}
	if math.Abs(tot.UnaccountedKg) > 1e-9 {
		t.Fatalf("unaccounted %v", tot.UnaccountedKg)
	}
	other, _ := f.svc().PeriodTotals(context.Background(), Period{From: t0, To: t0.Add(24 * time.Hour)}, "yard-2")
	if other.ReceivedKg != 0 {
		t.Fatalf("yard-2 received %v", other.ReceivedKg)
	}
}

func TestParsePeriod(t *testing.T) {
	cases := []struct {
		name, from, to, field string
	}{
		{"open ended", "2026-01-01", "", "from"},
		{"reversed", "2026-02-01", "2026-01-01", "to"},
		{"equal", "2026-02-01", "2026-02-01", "to"},
		{"garbage", "yesterday", "2026-01-01", "from"},
		{"too long", "2000-01-01", "2026-01-01", "to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePeriod(c.from, c.to)
			var fe *revloop.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("err = %v, want a %s field error", err, c.field)
			}
		})
	}
	p, err := ParsePeriod("2026-01-01", "2026-02-01T00:00:00Z")
	if err != nil || p.To.Sub(p.From) != 31*24*time.Hour {
		t.Fatalf("p = %+v, %v", p, err)
	}
}

func TestPeriodReportFormats(t *testing.T) {
	f := newFixture(t)
	s := f.svc()
	r, _, err := s.PeriodReport(context.Background(), Period{From: t0, To: t0.Add(48 * time.Hour)}, "")
	if err != nil {
		t.Fatal(err)
	}
	var js, cs, xl, pdf bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(&cs); err != nil {
		t.Fatal(err)
	}
	golden(t, "period.json", js.Bytes())
	golden(t, "period.csv", cs.Bytes())
	if err := r.WriteXLSX(&xl); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&xl)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.GetRows("Shipped by waste code and op")
	if len(rows) < 2 {
		t.Fatalf("shipped sheet rows: %v (sheets %v)", rows, x.GetSheetList())
	}
	if got := rows[len(rows)-1][len(rows[0])-1]; got != "5.5" {
		t.Fatalf("shipped total in XLSX = %q, want 5.5 t", got)
	}
	if err := r.WritePDF(&pdf); err != nil {
		t.Fatal(err)
	}
	if n := pdfPages(t, pdf.Bytes()); n < 2 || n > 4 {
		t.Fatalf("period PDF has %d pages, want 2-4", n)
	}
}
