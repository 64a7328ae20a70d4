package report

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample(rows int) *Report {
	t := &Table{Columns: []Column{{Name: "EWC code"}, {Name: "Description"}, {Name: "Received", Unit: "t", Numeric: true}}}
	total := 0.0
	for i := 0; i < rows; i++ {
		v := float64(i%7) + 0.125
		t.Rows = append(t.Rows, []any{"15 01 0" + strconv.Itoa(i%8), "packaging line " + strconv.Itoa(i), v})
		total += v
	}
	t.Totals = []any{"total", "", total}
	return &Report{
		Title: "Tonnage report", Subtitle: "Yard Ghent-Noord, permit BE-123",
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		Generated: time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC),
		Sections: []Section{
			{Heading: "Summary", Text: "Tonnage received by List of Waste code.", Figures: []Figure{{Label: "Recycling rate", Value: 87.25, Unit: "%"}}},
			{Heading: "Received by code", Table: t, Chart: &Chart{Kind: Bar, Title: "Received per month (t)", Labels: []string{"Jan", "Feb", "Mar"},
				Series: []Series{{Name: "paper", Values: []float64{10, 12.5, 9}}, {Name: "plastic", Values: []float64{4, 5, 6}}}}},
			{Heading: "Trend", Chart: &Chart{Kind: Line, Title: "Fill", Labels: []string{"a", "b", "c", "d"}, Series: []Series{{Name: "level", Values: []float64{10, 40, 35, 80}}}}},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n%s", name, got)
	}
}

func TestCSVAndJSONGolden(t *testing.T) {
	r := sample(5)
	var csvOut, jsonOut bytes.Buffer
	if err := r.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&jsonOut); err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.csv", csvOut.Bytes())
	golden(t, "sample.json", jsonOut.Bytes())
}

func TestXLSXTotalsReadBack(t *testing.T) {
	r := sample(40)
	var buf bytes.Buffer
	if err := r.WriteXLSX(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("Received by code")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+40+1 || rows[0][2] != "Received (t)" {
		t.Fatalf("sheet has %d rows, header %v", len(rows), rows[0])
	}
	sum := 0.0
	for _, row := range rows[1 : len(rows)-1] {
		v, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	total, _ := strconv.ParseFloat(rows[len(rows)-1][2], 64)
	if diff := sum - total; diff > 1e-9 || diff < -1e-9 || total != r.Sections[1].Table.Totals[2].(float64) {
		t.Fatalf("rows add up to %v, totals row says %v", sum, total)
	}
	if v, _ := f.GetCellValue("Summary", "B6"); v != "87.25" {
		t.Errorf("summary figure = %q", v)
	}
}

// TestPDFPages renders the PDF to PNG with pdftoppm and checks its pages: a
// long table must flow onto further pages.
func TestPDFPages(t *testing.T) {
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		if os.Getenv("REVLOOP_REQUIRE_SERVICES") == "1" {
			t.Fatal("pdftoppm (poppler-utils) is required: apt-get install poppler-utils")
		}
		t.Skip("pdftoppm not installed (apt-get install poppler-utils)")
	}
	for _, c := range []struct {
		rows     int
		minPages int
		maxPages int
	}{{5, 1, 2}, {200, 4, 8}} {
		var buf bytes.Buffer
		if err := sample(c.rows).WritePDF(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
			t.Fatal("not a PDF")
		}
		dir := t.TempDir()
		pdf := filepath.Join(dir, "r.pdf")
		os.WriteFile(pdf, buf.Bytes(), 0o644)
		if out, err := exec.Command(pdftoppm, "-r", "40", "-png", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v: %s", err, out)
		}
		pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
		if len(pngs) < c.minPages || len(pngs) > c.maxPages {
			t.Errorf("%d rows rendered to %d pages, want %d..%d", c.rows, len(pngs), c.minPages, c.maxPages)
		}
		if c.rows == 5 && os.Getenv("REVLOOP_ARTIFACTS") != "" {
			os.MkdirAll(os.Getenv("REVLOOP_ARTIFACTS"), 0o755)
			data, _ := os.ReadFile(pngs[0])
			os.WriteFile(filepath.Join(os.Getenv("REVLOOP_ARTIFACTS"), "report-page1.png"), data, 0o644)
		}
	}
}

func TestPDFDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := sample(10).WritePDF(&a); err != nil {
		t.Fatal(err)
	}
	sample(10).WritePDF(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same report rendered to different PDFs")
	}
}

func TestValidateRejectsRaggedRows(t *testing.T) {
	r := sample(3)
	r.Sections[1].Table.Rows[1] = []any{"x"}
	if err := r.WriteCSV(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Fatalf("err = %v, want a row-width error", err)
	}
	r = sample(3)
	r.Sections[2].Chart.Series[0].Values = r.Sections[2].Chart.Series[0].Values[:2]
	if err := r.WritePDF(&bytes.Buffer{}); err == nil {
		t.Fatal("chart with missing values accepted")
	}
}

func TestChartSVG(t *testing.T) {
	var buf bytes.Buffer
	c := sample(1).Sections[1].Chart
	if err := c.WriteSVG(&buf, 480, 240); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.HasPrefix(s, "<svg") || strings.Count(s, "<rect x=") != 2*3+2 {
		t.Fatalf("want 6 bars and 2 legend boxes, got:\n%s", s)
	}
}
