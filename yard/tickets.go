package yard

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/store"
)

// Ticket statuses.
const (
	TicketOpen     = "open"     // gross weighed, tare outstanding
	TicketComplete = "complete" // gross, tare and net known
	TicketVoid     = "void"     // cancelled by a correction
)

// Ticket sources and tare sources.
const (
	SourceScale  = "scale"
	SourceManual = "manual"
	TareWeighed  = "weighed"
	TareStored   = "stored"
	TareManual   = "manual"
)

// Ticket is one version of a weighbridge ticket. A ticket's history is its
// versions, oldest first; a correction adds a version and never changes an
// earlier one.
type Ticket struct {
	ID         string    `json:"id"`
	Version    int       `json:"version"`
	Yard       string    `json:"yard"`
	Number     int64     `json:"number"`
	Status     string    `json:"status"`
	Vehicle    string    `json:"vehicle"`
	RouteID    string    `json:"route_id,omitempty"`
	Scale      string    `json:"scale,omitempty"`
	GrossKg    *float64  `json:"gross_kg"`
	TareKg     *float64  `json:"tare_kg"`
	NetKg      *float64  `json:"net_kg"`
	TareSource string    `json:"tare_source,omitempty"`
	GrossTime  time.Time `json:"gross_ts,omitzero"`
	TareTime   time.Time `json:"tare_ts,omitzero"`
	PassageIn  string    `json:"passage_in,omitempty"`
	PassageOut string    `json:"passage_out,omitempty"`
	Source     string    `json:"source"`
	Reason     string    `json:"reason,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Created    time.Time `json:"created"`
}

func (t *Ticket) computeNet() {
	t.NetKg = nil
	if t.GrossKg != nil && t.TareKg != nil {
		n := math.Round((*t.GrossKg-*t.TareKg)*1000) / 1000
		t.NetKg = &n
		if t.Status == TicketOpen {
			t.Status = TicketComplete
		}
	}
}

func ptr(f float64) *float64 { return &f }

// TicketID formats a ticket's id from its yard and number.
func TicketID(yard string, number int64) string { return fmt.Sprintf("%s-T%06d", yard, number) }

const ticketCols = `id, version, yard, number, status, vehicle, route_id, scale, gross_kg, tare_kg, net_kg, tare_source,
	gross_ms, tare_ms, passage_in, passage_out, source, reason, actor, created_ms`

func scanTicket(sc interface{ Scan(...any) error }) (Ticket, error) {
	var t Ticket
	var g, tr, c int64
	if err := sc.Scan(&t.ID, &t.Version, &t.Yard, &t.Number, &t.Status, &t.Vehicle, &t.RouteID, &t.Scale, &t.GrossKg,
		&t.TareKg, &t.NetKg, &t.TareSource, &g, &tr, &t.PassageIn, &t.PassageOut, &t.Source, &t.Reason, &t.Actor, &c); err != nil {
		return t, err
	}
	t.GrossTime, t.TareTime, t.Created = store.FromMillis(g), store.FromMillis(tr), store.FromMillis(c)
	return t, nil
}

// putTicket stores t as the ticket's newest version (numbering a new ticket
// when t.ID is empty) and appends it to the custody log, in tx.
func (s *Service) putTicket(ctx context.Context, tx *store.Tx, t *Ticket) error {
	if t.ID == "" {
		n, err := nextNumber(ctx, tx, "ticket:"+t.Yard)
		if err != nil {
			return err
		}
		t.Number, t.ID, t.Version = n, TicketID(t.Yard, n), 1
	} else {
		if _, err := tx.Exec(ctx, `UPDATE yard_tickets SET current = FALSE WHERE id = ? AND current`, t.ID); err != nil {
			return err
		}
	}
	t.Created = store.FromMillis(store.Millis(s.opts.Now()))
	t.GrossTime, t.TareTime = store.FromMillis(store.Millis(t.GrossTime)), store.FromMillis(store.Millis(t.TareTime))
	_, err := tx.Exec(ctx, `INSERT INTO yard_tickets (`+ticketCols+`, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE)`,
		t.ID, t.Version, t.Yard, t.Number, t.Status, t.Vehicle, t.RouteID, t.Scale, t.GrossKg, t.TareKg, t.NetKg, t.TareSource,
		store.Millis(t.GrossTime), store.Millis(t.TareTime), t.PassageIn, t.PassageOut, t.Source, t.Reason, t.Actor, store.Millis(t.Created))
	if err != nil {
		return fmt.Errorf("store ticket %s v%d: %w", t.ID, t.Version, err)
	}
	for _, p := range []string{t.PassageIn, t.PassageOut} {
		if p != "" {
			if _, err := tx.Exec(ctx, `UPDATE yard_passages SET ticket = ? WHERE id = ?`, t.ID, p); err != nil {
				return err
			}
		}
	}
	_, err = s.custody.Append(ctx, tx, custody.Record{Kind: "ticket", Subject: t.ID, Payload: t})
	return err
}

// ticketTx returns the current version of a ticket inside tx.
func ticketTx(ctx context.Context, q store.Querier, id string) (Ticket, error) {
	t, err := scanTicket(q.QueryRow(ctx, `SELECT `+ticketCols+` FROM yard_tickets WHERE id = ? AND current`, id))
	if isNoRows(err) {
		return t, fmt.Errorf("ticket %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("ticket %q: %w", id, err)
	}
	return t, nil
}

// Ticket returns the current version of a ticket.
func (s *Service) Ticket(ctx context.Context, id string) (Ticket, error) {
	return ticketTx(ctx, s.db, id)
}

// TicketHistory returns every version of a ticket, oldest first.
func (s *Service) TicketHistory(ctx context.Context, id string) ([]Ticket, error) {
	rows, err := s.db.Query(ctx, `SELECT `+ticketCols+` FROM yard_tickets WHERE id = ? ORDER BY version`, id)
	if err != nil {
		return nil, fmt.Errorf("ticket history: %w", err)
	}
	defer rows.Close()
	var out []Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("ticket history: %w", err)
		}
		out = append(out, t)
	}
	if len(out) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("ticket %q: %w", id, store.ErrNotFound)
	}
	return out, rows.Err()
}

// TicketFilter selects tickets (current versions); zero fields match all.
type TicketFilter struct {
	Yard, Vehicle, Status string
	From, To              time.Time // created
	Limit                 int
	After                 string // a Ticket.Cursor
}

// Tickets lists the current versions of tickets, by yard and number.
func (s *Service) Tickets(ctx context.Context, f TicketFilter) ([]Ticket, error) {
	w := store.Where{Q: `SELECT ` + ticketCols + ` FROM yard_tickets WHERE current`}
	w.Eq("yard", f.Yard)
	w.Eq("vehicle", f.Vehicle)
	w.Eq("status", f.Status)
	w.Span("created_ms", f.From, f.To)
	if f.After != "" {
		i := strings.LastIndex(f.After, "|")
		n, err := strconv.ParseInt(f.After[i+1:], 10, 64)
		if i < 0 || err != nil {
			return nil, revloop.Invalid("cursor", "not a cursor of this list")
		}
		w.Add(`(yard > ? OR (yard = ? AND number > ?))`, f.After[:i], f.After[:i], n)
	}
	rows, err := s.db.Query(ctx, w.Q+` ORDER BY yard, number LIMIT ?`, append(w.Args, limit(f.Limit, 100, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("tickets: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ManualTicket is a ticket entered by hand (scale down, unregistered
// vehicle). Reason is required.
type ManualTicket struct {
	Yard          string    `json:"yard"`
	Vehicle       string    `json:"vehicle"`
	RouteID       string    `json:"route_id,omitempty"`
	GrossKg       float64   `json:"gross_kg"`
	TareKg        *float64  `json:"tare_kg,omitempty"`
	UseStoredTare bool      `json:"use_stored_tare,omitempty"`
	At            time.Time `json:"ts,omitzero"`
	PassageIn     string    `json:"passage_in,omitempty"`
	PassageOut    string    `json:"passage_out,omitempty"`
	Reason        string    `json:"reason"`
}

func checkKg(field string, kg float64) error {
	if math.IsNaN(kg) || kg <= 0 || kg > 200000 {
		return revloop.Invalid(field, "want a weight between 0 and 200000 kg, got %v", kg)
	}
	return nil
}

func checkText(field, v string, required bool) error {
	if required && v == "" {
		return revloop.Invalid(field, "required")
	}
	if len(v) > 256 {
		return revloop.Invalid(field, "at most 256 characters")
	}
	return nil
}

// CreateTicket stores a manual ticket.
func (s *Service) CreateTicket(ctx context.Context, m ManualTicket, actor string) (Ticket, error) {
	for _, c := range []struct {
		f, v string
		req  bool
	}{{"yard", m.Yard, true}, {"vehicle", m.Vehicle, true}, {"reason", m.Reason, true}, {"route_id", m.RouteID, false}} {
		if err := checkText(c.f, c.v, c.req); err != nil {
			return Ticket{}, err
		}
	}
	if err := checkKg("gross_kg", m.GrossKg); err != nil {
		return Ticket{}, err
	}
	if m.TareKg != nil {
		if err := checkKg("tare_kg", *m.TareKg); err != nil {
			return Ticket{}, err
		}
		if m.UseStoredTare {
			return Ticket{}, revloop.Invalid("tare_kg", "give tare_kg or use_stored_tare, not both")
		}
	}
	if err := s.checkTime(&m.At); err != nil {
		return Ticket{}, err
	}
	t := Ticket{Yard: m.Yard, Status: TicketOpen, Vehicle: m.Vehicle, RouteID: m.RouteID, GrossKg: ptr(m.GrossKg),
		GrossTime: m.At, PassageIn: m.PassageIn, PassageOut: m.PassageOut, Source: SourceManual, Reason: m.Reason, Actor: actor}
	var out Ticket
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		t := t
		switch {
		case m.TareKg != nil:
			t.TareKg, t.TareSource, t.TareTime = m.TareKg, TareManual, m.At
		case m.UseStoredTare:
			var kg float64
			if err := tx.QueryRow(ctx, `SELECT kg FROM yard_tares WHERE vehicle = ?`, m.Vehicle).Scan(&kg); err != nil {
				if isNoRows(err) {
					return revloop.Invalid("use_stored_tare", "no tare stored for vehicle %q", m.Vehicle)
				}
				return err
			}
			t.TareKg, t.TareSource, t.TareTime = &kg, TareStored, m.At
		}
		t.computeNet()
		if t.NetKg != nil && *t.NetKg < 0 {
			return revloop.Invalid("tare_kg", "tare %.1f kg exceeds gross %.1f kg", *t.TareKg, *t.GrossKg)
		}
		if err := s.checkPassages(ctx, tx, t.PassageIn, t.PassageOut); err != nil {
			return err
		}
		if err := s.putTicket(ctx, tx, &t); err != nil {
			return err
		}
		out = t
		return nil
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	return out, nil
}

func (s *Service) checkPassages(ctx context.Context, q store.Querier, ids ...string) error {
	for _, id := range ids {
		if id == "" {
			continue
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM yard_passages WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return revloop.Invalid("passage", "no passage %q", id)
		}
	}
	return nil
}

// Correction changes a ticket by adding a version. Only the fields given
// change; Reason is required. ExpectedVersion, when set, must be the
// ticket's current version (optimistic concurrency).
type Correction struct {
	GrossKg         *float64 `json:"gross_kg,omitempty"`
	TareKg          *float64 `json:"tare_kg,omitempty"`
	Vehicle         *string  `json:"vehicle,omitempty"`
	RouteID         *string  `json:"route_id,omitempty"`
	PassageIn       *string  `json:"passage_in,omitempty"`
	PassageOut      *string  `json:"passage_out,omitempty"`
	Void            bool     `json:"void,omitempty"`
	Reason          string   `json:"reason"`
	ExpectedVersion int      `json:"expected_version,omitempty"`
}

// CorrectTicket adds a corrected version of ticket id.
func (s *Service) CorrectTicket(ctx context.Context, id string, c Correction, actor string) (Ticket, error) {
	if err := checkText("reason", c.Reason, true); err != nil {
		return Ticket{}, err
	}
	for _, k := range []struct {
		f string
		v *float64
	}{{"gross_kg", c.GrossKg}, {"tare_kg", c.TareKg}} {
		if k.v != nil {
			if err := checkKg(k.f, *k.v); err != nil {
				return Ticket{}, err
			}
		}
	}
	for _, k := range []struct {
		f string
		v *string
	}{{"vehicle", c.Vehicle}, {"route_id", c.RouteID}} {
		if k.v != nil {
			if err := checkText(k.f, *k.v, k.f == "vehicle"); err != nil {
				return Ticket{}, err
			}
		}
	}
	var out Ticket
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := ticketTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.ExpectedVersion != 0 && c.ExpectedVersion != t.Version {
			return fmt.Errorf("ticket %s is at version %d, not %d: %w", id, t.Version, c.ExpectedVersion, revloop.ErrConflict)
		}
		if t.Status == TicketVoid {
			return &revloop.TransitionError{Entity: "ticket " + id, From: TicketVoid, To: "corrected"}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM yard_lots WHERE ticket = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("ticket %s was received into lots; correct the lots instead: %w", id, revloop.ErrConflict)
		}
		t.Version++
		if c.GrossKg != nil {
			t.GrossKg = c.GrossKg
		}
		if c.TareKg != nil {
			t.TareKg, t.TareSource = c.TareKg, TareManual
			if t.TareTime.IsZero() {
				t.TareTime = s.opts.Now()
			}
		}
		if c.Vehicle != nil {
			t.Vehicle = *c.Vehicle
		}
		if c.RouteID != nil {
			t.RouteID = *c.RouteID
		}
		if c.PassageIn != nil {
			t.PassageIn = *c.PassageIn
		}
		if c.PassageOut != nil {
			t.PassageOut = *c.PassageOut
		}
		if err := s.checkPassages(ctx, tx, t.PassageIn, t.PassageOut); err != nil {
			return err
		}
		t.computeNet()
		if t.NetKg != nil && *t.NetKg < 0 {
			return revloop.Invalid("tare_kg", "tare %.1f kg exceeds gross %.1f kg", *t.TareKg, *t.GrossKg)
		}
		if c.Void {
			t.Status = TicketVoid
		}
		t.Reason, t.Actor = c.Reason, actor
		if err := s.putTicket(ctx, tx, &t); err != nil {
			return err
		}
		out = t
		return nil
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("correct ticket: %w", err)
	}
	return out, nil
}
