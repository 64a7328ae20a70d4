package devices

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// CSVHeader is the header line of a device import file.
var CSVHeader = []string{"id", "kind", "attached_kind", "attached_id", "labels", "firmware"}

// MaxImportRows caps one import file.
const MaxImportRows = 200_000

// Row is one device of an import file, with its line number.
type Row struct {
	Line int
	Spec Spec
}

// RowError says what is wrong with one line of an import file.
type RowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// ImportError lists every bad row of an import; nothing was imported. It is
// an ErrInvalid (or an ErrConflict when every problem is an existing id).
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	const show = 20
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad row(s), nothing imported", len(e.Rows))
	for i, r := range e.Rows {
		if i == show {
			fmt.Fprintf(&b, "; and %d more", len(e.Rows)-show)
			break
		}
		b.WriteString("; ")
		b.WriteString(r.Error())
	}
	return b.String()
}

// Is makes an ImportError match revloop.ErrInvalid.
func (e *ImportError) Is(target error) bool { return target == revloop.ErrInvalid }

// Extras adds the bad rows to an API problem body.
func (e *ImportError) Extras() map[string]any { return map[string]any{"rows": e.Rows} }

func rowError(line int, err error) RowError {
	var fe *revloop.FieldError
	if errors.As(err, &fe) {
		return RowError{Line: line, Field: fe.Field, Reason: fe.Reason}
	}
	return RowError{Line: line, Field: "row", Reason: err.Error()}
}

// ParseCSV reads an import file: a header naming the columns of CSVHeader
// (in that order), then one device per line. Every row is validated; bad rows
// are all reported in one *ImportError, by line number and field.
func ParseCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, &ImportError{Rows: []RowError{{Line: 1, Field: "header", Reason: "empty file"}}}
	}
	if err != nil {
		return nil, &ImportError{Rows: []RowError{csvError(1, err)}}
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\uFEFF")
	}
	if len(head) != len(CSVHeader) {
		return nil, &ImportError{Rows: []RowError{{Line: 1, Field: "header", Reason: "want " + strings.Join(CSVHeader, ",")}}}
	}
	for i, h := range head {
		if strings.TrimSpace(h) != CSVHeader[i] {
			return nil, &ImportError{Rows: []RowError{{Line: 1, Field: "header", Reason: fmt.Sprintf("column %d is %q, want %q (header %s)", i+1, h, CSVHeader[i], strings.Join(CSVHeader, ","))}}}
		}
	}
	var rows []Row
	var bad []RowError
	seen := map[string]int{}
	lastLine := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful Read.
			line := lastLine + 1
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			bad = append(bad, csvError(line, err))
			if pe == nil || len(bad) > 1000 {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rows)+len(bad) >= MaxImportRows {
			bad = append(bad, RowError{Line: line, Field: "row", Reason: fmt.Sprintf("more than %d rows", MaxImportRows)})
			break
		}
		if len(rec) != len(CSVHeader) {
			bad = append(bad, RowError{Line: line, Field: "row", Reason: fmt.Sprintf("has %d fields, want %d", len(rec), len(CSVHeader))})
			continue
		}
		f := make([]string, len(rec))
		for i, v := range rec {
			f[i] = strings.TrimSpace(v)
		}
		labels, err := ParseLabels(f[4])
		if err != nil {
			bad = append(bad, rowError(line, err))
			continue
		}
		s := Spec{ID: f[0], Kind: f[1], Attached: Attachment{Kind: AttachedKind(f[2]), ID: f[3]}, Labels: labels, Firmware: f[5]}
		if _, _, _, _, err := validSpec(s); err != nil {
			bad = append(bad, rowError(line, err))
			continue
		}
		if prev, dup := seen[s.ID]; dup {
			bad = append(bad, RowError{Line: line, Field: "id", Reason: fmt.Sprintf("%q already given on line %d", s.ID, prev)})
			continue
		}
		seen[s.ID] = line
		rows = append(rows, Row{Line: line, Spec: s})
	}
	if len(bad) > 0 {
		return nil, &ImportError{Rows: bad}
	}
	return rows, nil
}

func csvError(line int, err error) RowError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return RowError{Line: pe.StartLine, Field: "csv", Reason: pe.Err.Error()}
	}
	return RowError{Line: line, Field: "csv", Reason: err.Error()}
}

// Import provisions every row in one transaction: either all devices are
// added or none. Ids already registered are reported by line. progress, when
// not nil, is called as secrets are hashed (done of total).
func (r *Registry) Import(ctx context.Context, rows []Row, progress func(done, total int)) ([]Credential, error) {
	var bad []RowError
	for _, row := range rows {
		if _, _, _, _, err := validSpec(row.Spec); err != nil {
			bad = append(bad, rowError(row.Line, err))
		}
	}
	if len(bad) > 0 {
		return nil, &ImportError{Rows: bad}
	}
	existing, err := r.existingIDs(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, row := range rows {
		if existing[row.Spec.ID] {
			bad = append(bad, RowError{Line: row.Line, Field: "id", Reason: fmt.Sprintf("device %q already exists", row.Spec.ID)})
		}
	}
	if len(bad) > 0 {
		return nil, &ImportError{Rows: bad}
	}
	hs, err := r.hashMany(ctx, len(rows), progress)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	now := r.opts.Now()
	creds := make([]Credential, len(rows))
	err = r.db.InTx(ctx, func(tx *store.Tx) error {
		for i, row := range rows {
			id, kind, att, labels, _ := validSpec(row.Spec)
			d := Device{ID: id, Kind: kind, Attached: att, Labels: labels, Firmware: row.Spec.Firmware,
				State: StateActive, Created: now}
			if err := insertDevice(ctx, tx, d, hs[i]); err != nil {
				if errors.Is(err, ErrExists) {
					return &ImportError{Rows: []RowError{{Line: row.Line, Field: "id", Reason: fmt.Sprintf("device %q already exists", id)}}}
				}
				return fmt.Errorf("line %d: %w", row.Line, err)
			}
			creds[i] = Credential{Device: id, Secret: hs[i].secret}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, c := range creds {
		r.announce(Change{Device: c.Device, Kind: ChangeAdded, State: StateActive})
	}
	return creds, nil
}

func (r *Registry) existingIDs(ctx context.Context, rows []Row) (map[string]bool, error) {
	out := map[string]bool{}
	const chunk = 500
	for i := 0; i < len(rows); i += chunk {
		end := min(i+chunk, len(rows))
		ids := make([]string, 0, end-i)
		for _, row := range rows[i:end] {
			ids = append(ids, row.Spec.ID)
		}
		w := store.Where{Q: `SELECT id FROM devices WHERE 1 = 1`}
		w.In("id", ids)
		rs, err := r.db.Query(ctx, w.Q, w.Args...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return nil, err
			}
			out[id] = true
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hashMany issues n fresh secrets, hashing them on HashConcurrency workers.
func (r *Registry) hashMany(ctx context.Context, n int, progress func(done, total int)) ([]hashed, error) {
	out := make([]hashed, n)
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		done  int
		first error
	)
	for w := 0; w < cap(r.sem); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				h, err := r.newHashed()
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				out[i] = h
				done++
				if progress != nil {
					progress(done, n)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, first
}
