package report

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/go-pdf/fpdf"
)

// palette colours chart series in order.
var palette = [][3]int{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}}

// WritePDF writes a printable A4 report: a title block, each section's text
// and key figures, its chart and its table (repeating the header on new
// pages), and page numbers. Output is deterministic for a given Generated
// time.
func (r *Report) WritePDF(w io.Writer) error {
	if err := r.Validate(); err != nil {
		return err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	stamp := r.Generated
	if stamp.IsZero() {
		stamp = time.Unix(0, 0)
	}
	pdf.SetCreationDate(stamp)
	pdf.SetModificationDate(stamp)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(r.Title, true)
	pdf.SetCreator("revloop", true)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 6, tr(fmt.Sprintf("%s — page %d of {nb}", r.Title, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.SetAutoPageBreak(true, 18)
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.MultiCell(0, 8, tr(r.Title), "", "L", false)
	pdf.SetFont("Helvetica", "", 10)
	if r.Subtitle != "" {
		pdf.MultiCell(0, 5, tr(r.Subtitle), "", "L", false)
	}
	if !r.From.IsZero() || !r.To.IsZero() {
		pdf.MultiCell(0, 5, tr(fmt.Sprintf("Period: %s to %s", r.From.UTC().Format("2006-01-02"), r.To.UTC().Format("2006-01-02"))), "", "L", false)
	}
	pdf.MultiCell(0, 5, tr("Generated: "+stamp.UTC().Format(time.RFC3339)), "", "L", false)
	pdf.Ln(3)

	for _, s := range r.Sections {
		pdf.SetFont("Helvetica", "B", 12)
		pdf.SetTextColor(0, 0, 0)
		pdf.MultiCell(0, 7, tr(s.Heading), "", "L", false)
		pdf.SetFont("Helvetica", "", 9)
		if s.Text != "" {
			pdf.MultiCell(0, 4.5, tr(s.Text), "", "L", false)
			pdf.Ln(1)
		}
		for _, f := range s.Figures {
			pdf.CellFormat(70, 5, tr(f.Label), "", 0, "L", false, 0, "")
			pdf.SetFont("Helvetica", "B", 9)
			pdf.CellFormat(0, 5, tr(FormatCell(f.Value)+" "+f.Unit), "", 1, "L", false, 0, "")
			pdf.SetFont("Helvetica", "", 9)
		}
		if s.Chart != nil {
			drawChart(pdf, tr, s.Chart)
		}
		if s.Table != nil {
			drawTable(pdf, tr, s.Table)
		}
		pdf.Ln(4)
	}
	return pdf.Output(w)
}

func drawTable(pdf *fpdf.Fpdf, tr func(string) string, t *Table) {
	pageW, _ := pdf.GetPageSize()
	left, _, right, _ := pdf.GetMargins()
	width := (pageW - left - right) / float64(len(t.Columns))
	pdf.SetDrawColor(120, 120, 120)
	header := func() {
		pdf.SetFont("Helvetica", "B", 8)
		pdf.SetFillColor(230, 233, 238)
		for _, c := range t.Columns {
			pdf.CellFormat(width, 6, tr(fit(pdf, tr(c.Header()), width)), "1", 0, "C", true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 8)
	}
	header()
	rows := t.Rows
	if t.Totals != nil {
		rows = append(rows[:len(rows):len(rows)], t.Totals)
	}
	_, pageH := pdf.GetPageSize()
	for i, row := range rows {
		if pdf.GetY()+5 > pageH-20 {
			pdf.AddPage()
			header()
		}
		if t.Totals != nil && i == len(rows)-1 {
			pdf.SetFont("Helvetica", "B", 8)
		}
		for j, v := range row {
			align := "L"
			if t.Columns[j].Numeric {
				align = "R"
			}
			pdf.CellFormat(width, 5, fit(pdf, tr(FormatCell(v)), width), "1", 0, align, false, 0, "")
		}
		pdf.Ln(-1)
	}
}

// fit shortens s with an ellipsis until it fits in width mm.
func fit(pdf *fpdf.Fpdf, s string, width float64) string {
	for len(s) > 1 && pdf.GetStringWidth(s) > width-2 {
		s = s[:len(s)-2] + "."
	}
	return s
}

func drawChart(pdf *fpdf.Fpdf, tr func(string) string, c *Chart) {
	const h = 60.0
	_, pageH := pdf.GetPageSize()
	if pdf.GetY()+h+14 > pageH-20 {
		pdf.AddPage()
	}
	pageW, _ := pdf.GetPageSize()
	left, _, right, _ := pdf.GetMargins()
	x0, y0 := left+14, pdf.GetY()+8
	w := pageW - left - right - 16
	pdf.SetFont("Helvetica", "B", 9)
	pdf.Text(left, y0-1, tr(c.Title))
	lo, hi := c.bounds()
	pdf.SetDrawColor(160, 160, 160)
	pdf.SetLineWidth(0.2)
	pdf.SetFont("Helvetica", "", 7)
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		y := y0 + h - h*float64(i)/4
		pdf.Line(x0, y, x0+w, y)
		pdf.Text(left, y+1, tr(FormatCell(roundTo(v, 3))))
	}
	n := len(c.Labels)
	if n == 0 {
		pdf.SetY(y0 + h + 8)
		return
	}
	step := w / float64(n)
	for si, s := range c.Series {
		col := palette[si%len(palette)]
		pdf.SetFillColor(col[0], col[1], col[2])
		pdf.SetDrawColor(col[0], col[1], col[2])
		switch c.Kind {
		case Line:
			pdf.SetLineWidth(0.5)
			for i := 1; i < n; i++ {
				pdf.Line(x0+step*(float64(i-1)+0.5), yOf(s.Values[i-1], lo, hi, y0, h), x0+step*(float64(i)+0.5), yOf(s.Values[i], lo, hi, y0, h))
			}
		default:
			bw := step * 0.8 / float64(len(c.Series))
			for i, v := range s.Values {
				y := yOf(v, lo, hi, y0, h)
				base := yOf(math.Max(lo, 0), lo, hi, y0, h)
				x := x0 + step*float64(i) + step*0.1 + bw*float64(si)
				pdf.Rect(x, math.Min(y, base), bw, math.Abs(base-y), "F")
			}
		}
		pdf.Rect(x0+float64(si)*40, y0+h+7, 3, 3, "F")
		pdf.SetTextColor(0, 0, 0)
		pdf.Text(x0+float64(si)*40+4, y0+h+9.5, tr(s.Name))
	}
	pdf.SetTextColor(60, 60, 60)
	every := int(math.Ceil(float64(n) / 12))
	for i, l := range c.Labels {
		if i%every == 0 {
			pdf.Text(x0+step*float64(i), y0+h+4, tr(l))
		}
	}
	pdf.SetTextColor(0, 0, 0)
	pdf.SetLineWidth(0.2)
	pdf.SetY(y0 + h + 13)
}

func yOf(v, lo, hi, y0, h float64) float64 {
	if hi == lo {
		return y0 + h
	}
	return y0 + h - h*(v-lo)/(hi-lo)
}

// bounds returns the value range of the axis, always including zero for bars.
func (c *Chart) bounds() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	if c.Kind != Line || lo > 0 {
		lo = math.Min(lo, 0)
	}
	if hi <= lo {
		hi = lo + 1
	}
	// Round the range out to a "nice" step so that the four grid lines fall
	// on readable values (1, 2, 2.5 or 5 times a power of ten).
	raw := (hi - lo) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Floor(lo/step) * step, math.Floor(lo/step)*step + 4*step
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
