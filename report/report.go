// Package report renders revloop's tabular reports — compliance period
// reports, transfer notes, customer service reports — in the formats their
// readers want: JSON and CSV for machines, XLSX for spreadsheets and a
// printable PDF with charts for people. A Report is built once from data and
// written in any format; SVG renders a chart on its own for the web console.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Report is a titled document of sections.
type Report struct {
	Title     string    `json:"title"`
	Subtitle  string    `json:"subtitle,omitempty"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Generated time.Time `json:"generated"`
	Sections  []Section `json:"sections"`
}

// Section is a heading with optional text, key figures, a table and a chart.
type Section struct {
	Heading string   `json:"heading"`
	Text    string   `json:"text,omitempty"`
	Figures []Figure `json:"figures,omitempty"`
	Table   *Table   `json:"table,omitempty"`
	Chart   *Chart   `json:"chart,omitempty"`
}

// Figure is one headline number, e.g. "recycling rate 87.2 %".
type Figure struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Column describes one table column; Unit is shown in the header.
type Column struct {
	Name string `json:"name"`
	Unit string `json:"unit,omitempty"`
	// Numeric columns are right-aligned and written as numbers in XLSX.
	Numeric bool `json:"numeric,omitempty"`
}

// Header is the column's heading with its unit.
func (c Column) Header() string {
	if c.Unit == "" {
		return c.Name
	}
	return c.Name + " (" + c.Unit + ")"
}

// Table is rows of cells: strings, float64, int or time.Time values.
type Table struct {
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Totals, when set, is a final row (same width as Columns).
	Totals []any `json:"totals,omitempty"`
}

// ChartKind is how a chart draws its series.
type ChartKind string

// The chart kinds.
const (
	Bar  ChartKind = "bar"
	Line ChartKind = "line"
)

// Chart plots series of values over shared labels.
type Chart struct {
	Kind   ChartKind `json:"kind"`
	Title  string    `json:"title"`
	Labels []string  `json:"labels"`
	Series []Series  `json:"series"`
	YUnit  string    `json:"y_unit,omitempty"`
}

// Series is one named line or set of bars.
type Series struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// Validate checks that every row and series has the right width.
func (r *Report) Validate() error {
	for i, s := range r.Sections {
		if t := s.Table; t != nil {
			for j, row := range t.Rows {
				if len(row) != len(t.Columns) {
					return fmt.Errorf("report %q section %d row %d: %d cells for %d columns", r.Title, i, j, len(row), len(t.Columns))
				}
			}
			if t.Totals != nil && len(t.Totals) != len(t.Columns) {
				return fmt.Errorf("report %q section %d totals: %d cells for %d columns", r.Title, i, len(t.Totals), len(t.Columns))
			}
		}
		if c := s.Chart; c != nil {
			for _, se := range c.Series {
				if len(se.Values) != len(c.Labels) {
					return fmt.Errorf("report %q section %d chart series %q: %d values for %d labels", r.Title, i, se.Name, len(se.Values), len(c.Labels))
				}
			}
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	if err := r.Validate(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes every table of the report, each preceded by a row holding
// its section heading and followed by an empty row. A report with a single
// table writes just that table's header and rows.
func (r *Report) WriteCSV(w io.Writer) error {
	if err := r.Validate(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	tables := 0
	for _, s := range r.Sections {
		if s.Table != nil {
			tables++
		}
	}
	for _, s := range r.Sections {
		t := s.Table
		if t == nil {
			continue
		}
		if tables > 1 {
			cw.Write([]string{"# " + s.Heading})
		}
		head := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			head[i] = c.Header()
		}
		cw.Write(head)
		for _, row := range t.Rows {
			cw.Write(cellStrings(row))
		}
		if t.Totals != nil {
			cw.Write(cellStrings(t.Totals))
		}
		if tables > 1 {
			cw.Write(nil)
		}
	}
	cw.Flush()
	return cw.Error()
}

func cellStrings(row []any) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = FormatCell(v)
	}
	return out
}

// FormatCell renders one cell as text: floats with up to three decimals,
// times in RFC 3339 UTC.
func FormatCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(math.Round(x*1000)/1000, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	default:
		return fmt.Sprint(x)
	}
}
