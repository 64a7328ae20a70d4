package yard

import (
	"context"
	"fmt"
	"time"

	"github.com/revloop/revloop/store"
)

// SaveWeighings stores new weighings as pending (idempotently, keyed by
// scale and the first reading of the stable window).
func (s *Service) SaveWeighings(ctx context.Context, ws []Weighing) error {
	if len(ws) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, w := range ws {
			if _, err := tx.Exec(ctx, `INSERT INTO yard_weighings (scale, ts_ms, yard, kg, spread_kg, readings, flag_stable, status, created_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, string(w.Scale), store.Millis(w.Time), w.Yard, w.Kg,
				w.SpreadKg, w.Readings, w.FlagStable, WeighingPending, store.Millis(s.opts.Now())); err != nil {
				return fmt.Errorf("save weighing %s@%v: %w", w.Scale, w.Time, err)
			}
		}
		return nil
	})
}

// WeighingFilter selects weighings; zero fields match all.
type WeighingFilter struct {
	Yard, Status string
	From, To     time.Time
	Limit        int
	After        string // a Weighing.Cursor
}

// Weighings lists weighings, oldest first.
func (s *Service) Weighings(ctx context.Context, f WeighingFilter) ([]Weighing, error) {
	w := store.Where{Q: `SELECT scale, ts_ms, yard, kg, spread_kg, readings, flag_stable, status, ticket FROM yard_weighings WHERE 1 = 1`}
	w.Eq("yard", f.Yard)
	w.Eq("status", f.Status)
	w.Span("ts_ms", f.From, f.To)
	if err := w.AfterTime(f.After, "ts_ms", "scale"); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, w.Q+` ORDER BY ts_ms, scale LIMIT ?`, append(w.Args, limit(f.Limit, 100, 10000))...)
	if err != nil {
		return nil, fmt.Errorf("weighings: %w", err)
	}
	defer rows.Close()
	out := []Weighing{}
	for rows.Next() {
		var w Weighing
		var ms int64
		if err := rows.Scan(&w.Scale, &ms, &w.Yard, &w.Kg, &w.SpreadKg, &w.Readings, &w.FlagStable, &w.Status, &w.Ticket); err != nil {
			return nil, fmt.Errorf("weighings: %w", err)
		}
		w.Time = store.FromMillis(ms)
		out = append(out, w)
	}
	return out, rows.Err()
}

// ResolveWeighings matches the pending weighings for which ready says yes,
// oldest first, to vehicles and tickets (see the package doc), each in its
// own transaction. It returns how many it resolved.
func (s *Service) ResolveWeighings(ctx context.Context, ready func(Weighing) bool) (int, error) {
	pending, err := s.Weighings(ctx, WeighingFilter{Status: WeighingPending, Limit: 10000})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range pending {
		if !ready(w) {
			continue
		}
		if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.resolve(ctx, tx, w) }); err != nil {
			return n, fmt.Errorf("resolve weighing %s@%v: %w", w.Scale, w.Time, err)
		}
		n++
	}
	return n, nil
}

func (s *Service) resolve(ctx context.Context, tx *store.Tx, w Weighing) error {
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM yard_weighings WHERE scale = ? AND ts_ms = ?`, string(w.Scale), store.Millis(w.Time)).Scan(&status); err != nil {
		return err
	}
	if status != WeighingPending {
		return nil // resolved by another replica
	}
	ts, win := store.Millis(w.Time), s.opts.LinkWindow.Milliseconds()
	const openTicket = `SELECT 1 FROM yard_tickets t WHERE t.yard = p.yard AND t.vehicle = p.vehicle AND t.current AND t.status = 'open'`
	var pid, vehicle string
	var t Ticket
	err := tx.QueryRow(ctx, `SELECT p.id, p.vehicle FROM yard_passages p WHERE p.yard = ? AND p.tag_kind = 'vehicle'
		AND p.direction = 'out' AND p.ticket = '' AND p.last_ms >= ? AND p.first_ms <= ? AND EXISTS (`+openTicket+`)
		ORDER BY p.first_ms LIMIT 1`, w.Yard, ts, ts+win).Scan(&pid, &vehicle)
	switch {
	case err == nil:
		id := ""
		if err := tx.QueryRow(ctx, `SELECT id FROM yard_tickets WHERE yard = ? AND vehicle = ? AND current AND status = 'open'
			ORDER BY number DESC LIMIT 1`, w.Yard, vehicle).Scan(&id); err != nil {
			return err
		}
		if t, err = ticketTx(ctx, tx, id); err != nil {
			return err
		}
		t.Version++
		t.TareKg, t.TareSource, t.TareTime, t.PassageOut = ptr(w.Kg), TareWeighed, w.Time, pid
		t.Reason, t.Actor = "", ""
		status = WeighingTare
	case isNoRows(err):
		err = tx.QueryRow(ctx, `SELECT p.id, p.vehicle FROM yard_passages p WHERE p.yard = ? AND p.tag_kind = 'vehicle'
			AND p.direction = 'in' AND p.ticket = '' AND p.first_ms <= ? AND p.last_ms >= ? AND NOT EXISTS (`+openTicket+`)
			ORDER BY p.first_ms LIMIT 1`, w.Yard, ts, ts-win).Scan(&pid, &vehicle)
		if isNoRows(err) {
			_, err = tx.Exec(ctx, `UPDATE yard_weighings SET status = ? WHERE scale = ? AND ts_ms = ?`, WeighingUnmatched, string(w.Scale), ts)
			return err
		}
		if err != nil {
			return err
		}
		t = Ticket{Yard: w.Yard, Status: TicketOpen, Vehicle: vehicle, Scale: string(w.Scale), GrossKg: ptr(w.Kg),
			GrossTime: w.Time, PassageIn: pid, Source: SourceScale}
		var tare float64
		switch err := tx.QueryRow(ctx, `SELECT kg FROM yard_tares WHERE vehicle = ?`, vehicle).Scan(&tare); {
		case err == nil:
			t.TareKg, t.TareSource, t.TareTime = &tare, TareStored, w.Time
		case !isNoRows(err):
			return err
		}
		status = WeighingGross
	default:
		return err
	}
	t.computeNet()
	if err := s.putTicket(ctx, tx, &t); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE yard_weighings SET status = ?, ticket = ? WHERE scale = ? AND ts_ms = ?`, status, t.ID, string(w.Scale), ts)
	return err
}
