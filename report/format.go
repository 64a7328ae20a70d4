package report

import (
	"fmt"
	"io"

	"github.com/revloop/revloop"
)

// Formats lists the formats Write accepts.
var Formats = []string{"json", "csv", "xlsx", "pdf"}

// ContentType is the MIME type of a format.
func ContentType(format string) string {
	switch format {
	case "json":
		return "application/json"
	case "csv":
		return "text/csv; charset=utf-8"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "pdf":
		return "application/pdf"
	}
	return "application/octet-stream"
}

// CheckFormat validates a format name against the ones a document offers.
func CheckFormat(format string, allowed ...string) error {
	if len(allowed) == 0 {
		allowed = Formats
	}
	for _, f := range allowed {
		if f == format {
			return nil
		}
	}
	return revloop.Invalid("format", "unknown format %q (want one of %v)", format, allowed)
}

// Write writes the report in format (json, csv, xlsx or pdf).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		return r.WriteJSON(w)
	case "csv":
		return r.WriteCSV(w)
	case "xlsx":
		return r.WriteXLSX(w)
	case "pdf":
		return r.WritePDF(w)
	}
	return fmt.Errorf("report: %w", CheckFormat(format))
}
