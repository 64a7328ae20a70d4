package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// WriteXLSX writes one worksheet per table (named after its section, at most
// 31 characters) with a bold header row, numbers as numbers and a totals row,
// and a first "Summary" sheet with the title, period and key figures.
func (r *Report) WriteXLSX(w io.Writer) error {
	if err := r.Validate(); err != nil {
		return err
	}
	f := excelize.NewFile()
	defer f.Close()
	bold, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	const summary = "Summary"
	f.SetSheetName("Sheet1", summary)
	f.SetCellValue(summary, "A1", r.Title)
	f.SetCellStyle(summary, "A1", "A1", bold)
	f.SetCellValue(summary, "A2", r.Subtitle)
	f.SetCellValue(summary, "A3", "From")
	f.SetCellValue(summary, "B3", r.From.UTC().Format(time.RFC3339))
	f.SetCellValue(summary, "A4", "To")
	f.SetCellValue(summary, "B4", r.To.UTC().Format(time.RFC3339))
	row := 6
	for _, s := range r.Sections {
		for _, fig := range s.Figures {
			f.SetCellValue(summary, cell(0, row), fig.Label)
			f.SetCellValue(summary, cell(1, row), fig.Value)
			f.SetCellValue(summary, cell(2, row), fig.Unit)
			row++
		}
	}
	used := map[string]int{summary: 1}
	for _, s := range r.Sections {
		t := s.Table
		if t == nil {
			continue
		}
		name := sheetName(s.Heading, used)
		if _, err := f.NewSheet(name); err != nil {
			return fmt.Errorf("xlsx sheet %q: %w", name, err)
		}
		for i, c := range t.Columns {
			f.SetCellValue(name, cell(i, 1), c.Header())
		}
		f.SetCellStyle(name, cell(0, 1), cell(len(t.Columns)-1, 1), bold)
		rows := t.Rows
		if t.Totals != nil {
			rows = append(rows[:len(rows):len(rows)], t.Totals)
		}
		for j, rw := range rows {
			for i, v := range rw {
				if tm, ok := v.(time.Time); ok {
					v = FormatCell(tm)
				}
				f.SetCellValue(name, cell(i, j+2), v)
			}
		}
		if t.Totals != nil {
			last := len(rows) + 1
			f.SetCellStyle(name, cell(0, last), cell(len(t.Columns)-1, last), bold)
		}
	}
	_, err := f.WriteTo(w)
	return err
}

func cell(col, row int) string {
	name, _ := excelize.CoordinatesToCellName(col+1, row)
	return name
}

func sheetName(heading string, used map[string]int) string {
	n := strings.NewReplacer("/", "-", "\\", "-", "?", "", "*", "", "[", "(", "]", ")", ":", " ").Replace(heading)
	if n == "" {
		n = "Table"
	}
	if len(n) > 28 {
		n = n[:28]
	}
	used[n]++
	if used[n] > 1 {
		n = fmt.Sprintf("%s %d", n, used[n])
	}
	return n
}
