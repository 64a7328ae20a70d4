package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

const pickupCols = `SELECT id, customer_id, site_id, material, estimated_kg, estimated_m3, window_from_ms, window_to_ms, priority, status, created_ms, updated_ms FROM pickups`

func scanPickup(r interface{ Scan(...any) error }) (Pickup, error) {
	var p Pickup
	var wf, wt, cr, up int64
	err := r.Scan(&p.ID, &p.CustomerID, &p.SiteID, &p.Material, &p.EstimatedKg, &p.EstimatedM3, &wf, &wt, &p.Priority, &p.Status, &cr, &up)
	p.WindowFrom, p.WindowTo, p.Created, p.Updated = store.FromMillis(wf), store.FromMillis(wt), store.FromMillis(cr), store.FromMillis(up)
	return p, err
}

// PickupFilter narrows ListPickups.
type PickupFilter struct{ Status, CustomerID, SiteID string }

// CreatePickup stores a new pickup request in state requested, recording
// actor as its creator. The site must belong to the pickup's customer (or
// be a drop point, which any customer may use); in a customer scope the
// pickup's customer is the scope's.
func (s *Store) CreatePickup(ctx context.Context, sc Scope, p Pickup, actor string) (Pickup, error) {
	if sc.restricted() {
		if p.CustomerID != "" && p.CustomerID != sc.CustomerID {
			return Pickup{}, revloop.Invalid("customer_id", "a customer token creates pickups only for its own customer")
		}
		p.CustomerID = sc.CustomerID
	}
	if err := p.Validate(); err != nil {
		return Pickup{}, err
	}
	if p.ID == "" {
		p.ID = newID("pck")
	}
	p.Status = PickupRequested
	now := s.stamp()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.checkCustomer(ctx, tx, "customer_id", p.CustomerID); err != nil {
			return err
		}
		st, err := s.checkSite(ctx, tx, "site_id", p.SiteID)
		if err != nil {
			return err
		}
		if st.Kind != SiteDropPoint && st.CustomerID != p.CustomerID {
			return revloop.Invalid("site_id", "site %q is not one of the customer's sites", p.SiteID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO pickups (id, customer_id, site_id, material, estimated_kg, estimated_m3, window_from_ms, window_to_ms, priority, status, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.CustomerID, p.SiteID, p.Material, p.EstimatedKg, p.EstimatedM3, store.Millis(p.WindowFrom), store.Millis(p.WindowTo), p.Priority, p.Status, now, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO pickup_history (pickup_id, from_status, to_status, actor, note, at_ms) VALUES (?, '', ?, ?, '', ?)`,
			p.ID, PickupRequested, actor, now)
		return err
	})
	if err != nil {
		if errors.Is(err, revloop.ErrInvalid) {
			return Pickup{}, err
		}
		return Pickup{}, dbErr("create pickup", err)
	}
	return s.Pickup(ctx, All, p.ID)
}

// Pickup returns one pickup request with its history.
func (s *Store) Pickup(ctx context.Context, sc Scope, id string) (Pickup, error) {
	q, args := pickupCols+` WHERE id = ?`, []any{id}
	if sc.restricted() {
		q, args = q+` AND customer_id = ?`, append(args, sc.CustomerID)
	}
	p, err := scanPickup(s.db.QueryRow(ctx, q, args...))
	if err != nil {
		return Pickup{}, dbErr("pickup "+id, err)
	}
	rows, err := s.db.Query(ctx, `SELECT from_status, to_status, actor, note, at_ms FROM pickup_history WHERE pickup_id = ? ORDER BY seq`, id)
	if err != nil {
		return Pickup{}, dbErr("pickup history "+id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t Transition
		var at int64
		if err := rows.Scan(&t.From, &t.To, &t.Actor, &t.Note, &at); err != nil {
			return Pickup{}, dbErr("pickup history "+id, err)
		}
		t.At = store.FromMillis(at)
		p.History = append(p.History, t)
	}
	return p, dbErr("pickup history "+id, rows.Err())
}

// ListPickups returns a page of pickup requests (without history).
func (s *Store) ListPickups(ctx context.Context, sc Scope, f PickupFilter, p Page) ([]Pickup, string, error) {
	if f.Status != "" {
		if err := oneOf("status", f.Status, PickupStates); err != nil {
			return nil, "", err
		}
	}
	w := store.Where{Q: pickupCols + ` WHERE 1 = 1`}
	w.Eq("customer_id", sc.CustomerID)
	w.Eq("status", f.Status)
	w.Eq("customer_id", f.CustomerID)
	w.Eq("site_id", f.SiteID)
	return list(ctx, s.db, "list pickups", w, "id", p,
		func(r *sql.Rows) (Pickup, error) { return scanPickup(r) }, func(p Pickup) string { return p.ID })
}

// TransitionPickup moves a pickup request to state to, recording actor and
// note. An illegal move is a *revloop.TransitionError naming the allowed
// states.
func (s *Store) TransitionPickup(ctx context.Context, sc Scope, id, to, note, actor string) (Pickup, error) {
	if err := oneOf("to", to, PickupStates); err != nil {
		return Pickup{}, err
	}
	if err := checkText("note", note, false, 2000); err != nil {
		return Pickup{}, err
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		q, args := `SELECT status FROM pickups WHERE id = ?`, []any{id}
		if sc.restricted() {
			q, args = q+` AND customer_id = ?`, append(args, sc.CustomerID)
		}
		var from string
		if err := tx.QueryRow(ctx, q, args...).Scan(&from); err != nil {
			return err
		}
		if !slices.Contains(pickupNext[from], to) {
			return &revloop.TransitionError{Entity: "pickup " + id, From: from, To: to, Allowed: AllowedPickupTransitions(from)}
		}
		now := s.stamp()
		if _, err := tx.Exec(ctx, `UPDATE pickups SET status = ?, updated_ms = ? WHERE id = ?`, to, now, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO pickup_history (pickup_id, from_status, to_status, actor, note, at_ms) VALUES (?, ?, ?, ?, ?, ?)`,
			id, from, to, actor, note, now)
		return err
	})
	var te *revloop.TransitionError
	if errors.As(err, &te) {
		return Pickup{}, err
	}
	if err != nil {
		return Pickup{}, dbErr("transition pickup "+id, err)
	}
	return s.Pickup(ctx, All, id)
}

// ---- complaints

const complaintCols = `SELECT id, customer_id, subject_kind, subject_ref, text, opened_ms, resolved_ms, outcome FROM complaints`

func scanComplaint(r interface{ Scan(...any) error }) (Complaint, error) {
	var c Complaint
	var op, rs int64
	err := r.Scan(&c.ID, &c.CustomerID, &c.SubjectKind, &c.SubjectRef, &c.Text, &op, &rs, &c.Outcome)
	c.Opened, c.Resolved = store.FromMillis(op), store.FromMillis(rs)
	if !c.Resolved.IsZero() {
		c.TimeToResolveS = c.Resolved.Sub(c.Opened).Seconds()
	}
	return c, err
}

// ComplaintFilter narrows ListComplaints; Open "true" or "false" selects
// unresolved or resolved complaints.
type ComplaintFilter struct{ CustomerID, SubjectKind, Open string }

// CreateComplaint opens a complaint. A pickup or site subject must be one
// of the customer's.
func (s *Store) CreateComplaint(ctx context.Context, sc Scope, c Complaint) (Complaint, error) {
	if sc.restricted() {
		if c.CustomerID != "" && c.CustomerID != sc.CustomerID {
			return Complaint{}, revloop.Invalid("customer_id", "a customer token files complaints only for its own customer")
		}
		c.CustomerID = sc.CustomerID
	}
	if err := c.Validate(); err != nil {
		return Complaint{}, err
	}
	if err := s.checkCustomer(ctx, s.db, "customer_id", c.CustomerID); err != nil {
		return Complaint{}, dbErr("create complaint", err)
	}
	own := Scope{CustomerID: c.CustomerID}
	switch c.SubjectKind {
	case "pickup":
		if _, err := s.Pickup(ctx, own, c.SubjectRef); errors.Is(err, revloop.ErrNotFound) {
			return Complaint{}, revloop.Invalid("subject_ref", "no pickup %q of this customer", c.SubjectRef)
		} else if err != nil {
			return Complaint{}, err
		}
	case "site":
		if _, err := s.Site(ctx, own, c.SubjectRef); errors.Is(err, revloop.ErrNotFound) {
			return Complaint{}, revloop.Invalid("subject_ref", "no site %q of this customer", c.SubjectRef)
		} else if err != nil {
			return Complaint{}, err
		}
	}
	if c.ID == "" {
		c.ID = newID("cmp")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO complaints (id, customer_id, subject_kind, subject_ref, text, opened_ms, resolved_ms, outcome) VALUES (?, ?, ?, ?, ?, ?, 0, '')`,
		c.ID, c.CustomerID, c.SubjectKind, c.SubjectRef, c.Text, s.stamp())
	if err != nil {
		return Complaint{}, dbErr("create complaint", err)
	}
	return s.Complaint(ctx, All, c.ID)
}

// Complaint returns one complaint.
func (s *Store) Complaint(ctx context.Context, sc Scope, id string) (Complaint, error) {
	q, args := complaintCols+` WHERE id = ?`, []any{id}
	if sc.restricted() {
		q, args = q+` AND customer_id = ?`, append(args, sc.CustomerID)
	}
	c, err := scanComplaint(s.db.QueryRow(ctx, q, args...))
	return c, dbErr("complaint "+id, err)
}

// ListComplaints returns a page of complaints.
func (s *Store) ListComplaints(ctx context.Context, sc Scope, f ComplaintFilter, p Page) ([]Complaint, string, error) {
	w := store.Where{Q: complaintCols + ` WHERE 1 = 1`}
	w.Eq("customer_id", sc.CustomerID)
	w.Eq("customer_id", f.CustomerID)
	w.Eq("subject_kind", f.SubjectKind)
	switch f.Open {
	case "":
	case "true":
		w.Add("resolved_ms = 0")
	case "false":
		w.Add("resolved_ms <> 0")
	default:
		return nil, "", revloop.Invalid("open", "want true or false")
	}
	return list(ctx, s.db, "list complaints", w, "id", p,
		func(r *sql.Rows) (Complaint, error) { return scanComplaint(r) }, func(c Complaint) string { return c.ID })
}

// ResolveComplaint closes a complaint with its outcome; a resolved
// complaint cannot be resolved again.
func (s *Store) ResolveComplaint(ctx context.Context, id, outcome string) (Complaint, error) {
	if err := checkText("outcome", outcome, true, 2000); err != nil {
		return Complaint{}, err
	}
	now := s.stamp()
	res, err := s.db.Exec(ctx, `UPDATE complaints SET resolved_ms = ?, outcome = ? WHERE id = ? AND resolved_ms = 0`, now, outcome, id)
	if err != nil {
		return Complaint{}, dbErr("resolve complaint "+id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		c, err := s.Complaint(ctx, All, id)
		if err != nil {
			return Complaint{}, err
		}
		return Complaint{}, &revloop.TransitionError{Entity: "complaint " + c.ID, From: "resolved", To: "resolved"}
	}
	return s.Complaint(ctx, All, id)
}
