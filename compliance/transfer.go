package compliance

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/compliance/codes"
	"github.com/revloop/revloop/report"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

// Party is a producer, holder, carrier or receiver named on a note.
type Party struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	// Permit is the environmental permit or exemption of a site.
	Permit string `json:"permit,omitempty"`
	// Registration is a carrier's or broker's registration number.
	Registration string `json:"registration,omitempty"`
}

// Operator describes the operator running revloop: its yard (the receiver
// of collected loads and the holder of outbound lots) and its carrier
// registration.
type Operator struct {
	Yard    Party `json:"yard"`
	Carrier Party `json:"carrier"`
}

// Note kinds.
const (
	NoteShipment = "shipment" // outbound lots from the yard to a receiver
	NoteLoad     = "load"     // a collected load received at the yard
)

// NoteItem is one waste line of a transfer note.
type NoteItem struct {
	EWC         string  `json:"ewc"`
	Description string  `json:"description"`
	Hazardous   bool    `json:"hazardous"`
	Containment string  `json:"containment"`
	Kg          float64 `json:"kg"`
	RDCode      string  `json:"rd_code"`
}

// TransferNote is a waste transfer note: what waste, how much, from whom, to
// whom, by which carrier and vehicle, where and when.
type TransferNote struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Ref         string     `json:"ref"`
	Issued      time.Time  `json:"issued"`
	RetainUntil time.Time  `json:"retain_until"`
	Transfer    time.Time  `json:"transfer_time"`
	Place       string     `json:"place"`
	Producer    Party      `json:"producer"`
	Receiver    Party      `json:"receiver"`
	Carrier     Party      `json:"carrier"`
	Vehicle     string     `json:"vehicle"`
	Items       []NoteItem `json:"items"`
	TotalKg     float64    `json:"total_kg"`
	Hash        string     `json:"sha256"`
}

// Options configure the compliance service.
type Options struct {
	Operator Operator
	// Retention is how long issued transfer notes are kept; default three
	// years (Directive 2008/98/EC Art. 35 for hazardous waste records; UK
	// duty-of-care notes need two).
	Retention time.Duration
	Now       func() time.Time
}

// ErrRetained is returned when a note is deleted before its retention ends.
var ErrRetained = fmt.Errorf("%w: transfer note is within its retention period", revloop.ErrConflict)

func (s *Service) noteID(kind, ref string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + ref))
	return "wtn-" + hex.EncodeToString(sum[:6])
}

// IssueNote returns the transfer note of a shipment or received load,
// issuing and storing it on first request; later requests return the stored
// copy unchanged.
func (s *Service) IssueNote(ctx context.Context, kind, ref string) (TransferNote, error) {
	if n, err := s.storedNote(ctx, kind, ref); err == nil {
		return n, nil
	} else if !errors.Is(err, revloop.ErrNotFound) {
		return n, err
	}
	var n TransferNote
	var err error
	switch kind {
	case NoteShipment:
		n, err = s.shipmentNote(ctx, ref)
	case NoteLoad:
		n, err = s.loadNote(ctx, ref)
	default:
		return n, revloop.Invalid("kind", "unknown transfer note kind %q (want shipment or load)", kind)
	}
	if err != nil {
		return n, err
	}
	n.ID, n.Kind, n.Ref = s.noteID(kind, ref), kind, ref
	n.Issued = s.opts.Now().UTC().Truncate(time.Second)
	n.RetainUntil = n.Issued.Add(s.opts.Retention)
	body, _ := json.Marshal(n)
	sum := sha256.Sum256(body)
	n.Hash = hex.EncodeToString(sum[:])
	body, _ = json.Marshal(n)
	_, err = s.db.Exec(ctx, `INSERT INTO transfer_notes (id, kind, ref, issued_ms, transfer_ms, retain_until_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, n.ID, kind, ref, store.Millis(n.Issued), store.Millis(n.Transfer), store.Millis(n.RetainUntil), string(body))
	if err != nil {
		return n, fmt.Errorf("issue transfer note: %w", err)
	}
	return s.storedNote(ctx, kind, ref)
}

func (s *Service) storedNote(ctx context.Context, kind, ref string) (TransferNote, error) {
	var body string
	err := s.db.QueryRow(ctx, `SELECT body FROM transfer_notes WHERE kind = ? AND ref = ?`, kind, ref).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return TransferNote{}, fmt.Errorf("transfer note %s %s: %w", kind, ref, store.ErrNotFound)
	}
	if err != nil {
		return TransferNote{}, fmt.Errorf("transfer note: %w", err)
	}
	var n TransferNote
	return n, json.Unmarshal([]byte(body), &n)
}

// DeleteNote removes an issued note once its retention period has ended.
func (s *Service) DeleteNote(ctx context.Context, id string) error {
	var until int64
	err := s.db.QueryRow(ctx, `SELECT retain_until_ms FROM transfer_notes WHERE id = ?`, id).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("transfer note %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete transfer note: %w", err)
	}
	if s.opts.Now().Before(store.FromMillis(until)) {
		return &retainedError{until: store.FromMillis(until)}
	}
	_, err = s.db.Exec(ctx, `DELETE FROM transfer_notes WHERE id = ?`, id)
	return err
}

type retainedError struct{ until time.Time }

func (e *retainedError) Error() string {
	return fmt.Sprintf("transfer note is retained until %s", e.until.Format(time.RFC3339))
}
func (e *retainedError) Is(target error) bool {
	return target == ErrRetained || target == revloop.ErrConflict
}
func (e *retainedError) Extras() map[string]any {
	return map[string]any{"retain_until": e.until.Format(time.RFC3339)}
}

func (s *Service) shipmentNote(ctx context.Context, id string) (TransferNote, error) {
	sh, err := s.yard.Shipment(ctx, id)
	if err != nil {
		return TransferNote{}, err
	}
	n := TransferNote{
		Transfer: sh.Time, Place: s.opts.Operator.Yard.Address,
		Producer: s.opts.Operator.Yard,
		Receiver: Party{Name: sh.Receiver.Name, Address: sh.Receiver.Site, Permit: sh.Receiver.Permit},
		Carrier:  Party{Name: sh.Carrier}, Vehicle: sh.Vehicle,
	}
	if sh.Carrier == s.opts.Operator.Carrier.Name {
		n.Carrier = s.opts.Operator.Carrier
	}
	n.Items, n.TotalKg = itemsOf(sh.Lots, func(yard.Lot) string { return sh.RDCode })
	return n, nil
}

func (s *Service) loadNote(ctx context.Context, transitionID string) (TransferNote, error) {
	tr, err := s.yard.Transition(ctx, transitionID)
	if err != nil {
		return TransferNote{}, err
	}
	if tr.Transition.Kind != yard.KindReceive {
		return TransferNote{}, revloop.Invalid("ref", "transition %s is a %s, not a received load", transitionID, tr.Transition.Kind)
	}
	tk, err := s.yard.Ticket(ctx, tr.Transition.Ticket)
	if err != nil {
		return TransferNote{}, err
	}
	producer := Party{Name: "unknown producer"}
	if len(tr.Lots) > 0 && tr.Lots[0].Customer != "" {
		producer = s.customerParty(ctx, tr.Lots[0].Customer)
	}
	n := TransferNote{
		Transfer: tr.Transition.Time, Place: s.opts.Operator.Yard.Address,
		Producer: producer, Receiver: s.opts.Operator.Yard, Carrier: s.opts.Operator.Carrier, Vehicle: tk.Vehicle,
	}
	n.Items, n.TotalKg = itemsOf(tr.Lots, func(yard.Lot) string { return tr.Transition.RDCode })
	return n, nil
}

func (s *Service) customerParty(ctx context.Context, id string) Party {
	p := Party{Name: id}
	var name string
	if err := s.db.QueryRow(ctx, `SELECT name FROM customers WHERE id = ?`, id).Scan(&name); err == nil {
		p.Name = name
	}
	var addr string
	if err := s.db.QueryRow(ctx, `SELECT address FROM sites WHERE customer_id = ? ORDER BY id LIMIT 1`, id).Scan(&addr); err == nil {
		p.Address = addr
	}
	return p
}

// itemsOf groups lots into note lines by code, containment and operation.
func itemsOf(lots []yard.Lot, rd func(yard.Lot) string) ([]NoteItem, float64) {
	byKey := map[string]*NoteItem{}
	var keys []string
	total := 0.0
	for _, l := range lots {
		item := NoteItem{EWC: l.EWC, Containment: containment(l), RDCode: rd(l)}
		if w, err := codes.LookupWasteCode(l.EWC); err == nil {
			item.EWC, item.Description, item.Hazardous = w.Display(), w.Description, w.Hazardous
		}
		k := item.EWC + "\x00" + item.Containment + "\x00" + item.RDCode
		if byKey[k] == nil {
			byKey[k] = &item
			keys = append(keys, k)
		}
		byKey[k].Kg += l.Kg
		total += l.Kg
	}
	sort.Strings(keys)
	out := make([]NoteItem, len(keys))
	for i, k := range keys {
		out[i] = *byKey[k]
	}
	return out, total
}

func containment(l yard.Lot) string {
	switch {
	case strings.HasPrefix(l.Tag, "bale"):
		return "bale " + l.Tag
	case l.Tag != "":
		return "container " + l.Tag
	default:
		return "loose"
	}
}

// Notes issues (or fetches) the notes of every shipment and received load
// with transfer time in the period, oldest first. progress, when not nil,
// is called after each note with the count done and the total.
func (s *Service) Notes(ctx context.Context, p Period, progress func(done, total int)) ([]TransferNote, error) {
	var out []TransferNote
	err := s.EachNote(ctx, p, func(n TransferNote) error { out = append(out, n); return nil }, progress)
	return out, err
}

// EachNote calls fn with each note of the period in turn, so that a long
// period streams instead of being built in memory.
func (s *Service) EachNote(ctx context.Context, p Period, fn func(TransferNote) error, progress func(done, total int)) error {
	type ref struct {
		kind, id string
		ms       int64
	}
	var refs []ref
	rows, err := s.db.Query(ctx, `SELECT 'shipment', id, ts_ms FROM yard_shipments WHERE ts_ms >= ? AND ts_ms < ?
		UNION ALL SELECT 'load', id, ts_ms FROM yard_transitions WHERE kind = 'receive' AND ts_ms >= ? AND ts_ms < ?`,
		store.Millis(p.From), store.Millis(p.To), store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return fmt.Errorf("transfer notes: %w", err)
	}
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.kind, &r.id, &r.ms); err != nil {
			rows.Close()
			return fmt.Errorf("transfer notes: %w", err)
		}
		refs = append(refs, r)
	}
	rows.Close()
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].ms != refs[j].ms {
			return refs[i].ms < refs[j].ms
		}
		return refs[i].id < refs[j].id
	})
	for i, r := range refs {
		n, err := s.IssueNote(ctx, r.kind, r.id)
		if err != nil {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
		if progress != nil {
			progress(i+1, len(refs))
		}
	}
	return nil
}

// NotesReport lays notes out as a report: one table row per waste line, for
// CSV and XLSX, and a section per note for the printable PDF.
func NotesReport(notes []TransferNote, p Period, generated time.Time, perNote bool) *report.Report {
	r := &report.Report{Title: "Waste transfer notes", From: p.From, To: p.To, Generated: generated}
	cols := []report.Column{{Name: "Note"}, {Name: "Kind"}, {Name: "Transfer time"}, {Name: "Producer"}, {Name: "Producer permit"},
		{Name: "Receiver"}, {Name: "Receiver permit"}, {Name: "Carrier"}, {Name: "Carrier registration"}, {Name: "Vehicle"},
		{Name: "EWC code"}, {Name: "Description"}, {Name: "Hazardous"}, {Name: "Containment"}, {Name: "R/D"}, {Name: "Quantity", Unit: "kg", Numeric: true}}
	if !perNote {
		t := &report.Table{Columns: cols}
		total := 0.0
		for _, n := range notes {
			for _, it := range n.Items {
				t.Rows = append(t.Rows, []any{n.ID, n.Kind, n.Transfer, n.Producer.Name, n.Producer.Permit, n.Receiver.Name, n.Receiver.Permit,
					n.Carrier.Name, n.Carrier.Registration, n.Vehicle, it.EWC, it.Description, it.Hazardous, it.Containment, it.RDCode, it.Kg})
				total += it.Kg
			}
		}
		t.Totals = make([]any, len(cols))
		t.Totals[0], t.Totals[len(cols)-1] = "total", total
		r.Sections = []report.Section{{Heading: "Transfer notes", Table: t}}
		return r
	}
	for _, n := range notes {
		t := &report.Table{Columns: []report.Column{{Name: "EWC code"}, {Name: "Description"}, {Name: "Hazardous"}, {Name: "Containment"}, {Name: "R/D"}, {Name: "Quantity", Unit: "kg", Numeric: true}}}
		for _, it := range n.Items {
			t.Rows = append(t.Rows, []any{it.EWC, it.Description, it.Hazardous, it.Containment, it.RDCode, it.Kg})
		}
		t.Totals = []any{"total", "", "", "", "", n.TotalKg}
		text := fmt.Sprintf("Transfer on %s at %s.\nProducer/holder: %s%s.\nReceiver: %s%s.\nCarrier: %s%s, vehicle %s.\nIssued %s, kept until %s. SHA-256 %s.",
			n.Transfer.UTC().Format(time.RFC3339), orDash(n.Place), n.Producer.Name, permit(n.Producer), n.Receiver.Name, permit(n.Receiver),
			n.Carrier.Name, registration(n.Carrier), orDash(n.Vehicle), n.Issued.Format(time.RFC3339), n.RetainUntil.Format("2006-01-02"), n.Hash)
		r.Sections = append(r.Sections, report.Section{Heading: "Waste transfer note " + n.ID + " (" + n.Kind + " " + n.Ref + ")", Text: text, Table: t})
	}
	return r
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func permit(p Party) string {
	if p.Permit == "" {
		return ""
	}
	return " (permit " + p.Permit + ")"
}

func registration(p Party) string {
	if p.Registration == "" {
		return ""
	}
	return " (registration " + p.Registration + ")"
}
