package yard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// tagOf looks up what an EPC is attached to.
func tagOf(ctx context.Context, q store.Querier, epc string) (Tag, error) {
	t := Tag{EPC: epc, Kind: TagUnknown}
	err := q.QueryRow(ctx, `SELECT kind, ref FROM yard_tags WHERE epc = ?`, upperHex(epc)).Scan(&t.Kind, &t.Ref)
	if err != nil && !isNoRows(err) {
		return t, err
	}
	return t, nil
}

// SavePassages stores passages (idempotently: a passage already stored under
// the same reader, EPC and first read is left alone), classifies their tags
// and links container and bale passages to the vehicle passage they overlap
// most at the same reader.
func (s *Service) SavePassages(ctx context.Context, ps []Passage) error {
	if len(ps) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		for i := range ps {
			if err := s.savePassage(ctx, tx, &ps[i]); err != nil {
				return fmt.Errorf("save passage %s: %w", ps[i].ID, err)
			}
		}
		return nil
	})
}

func (s *Service) savePassage(ctx context.Context, tx *store.Tx, p *Passage) error {
	t, err := tagOf(ctx, tx, p.EPC)
	if err != nil {
		return err
	}
	p.TagKind, p.TagRef = t.Kind, t.Ref
	if t.Kind == TagVehicle {
		p.Vehicle = t.Ref
	}
	ants, _ := json.Marshal(nonNil(p.Antennas))
	res, err := tx.Exec(ctx, `INSERT INTO yard_passages (id, reader, yard, epc, tag_kind, tag_ref, first_ms, last_ms, reads,
		antennas, first_antenna, last_antenna, peak_rssi_dbm, direction, vehicle, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.ID, string(p.Reader), p.Yard, p.EPC, p.TagKind, p.TagRef, store.Millis(p.FirstSeen), store.Millis(p.LastSeen),
		p.Reads, string(ants), p.FirstAntenna, p.LastAntenna, p.PeakRSSIDbm, string(p.Direction), p.Vehicle,
		store.Millis(s.opts.Now()))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	first, last := store.Millis(p.FirstSeen), store.Millis(p.LastSeen)
	switch p.TagKind {
	case TagVehicle:
		_, err = tx.Exec(ctx, `UPDATE yard_passages SET vehicle_passage = ?, vehicle = ? WHERE reader = ?
			AND tag_kind IN ('container', 'bale') AND vehicle_passage = '' AND first_ms <= ? AND last_ms >= ?`,
			p.ID, p.Vehicle, string(p.Reader), last, first)
		return err
	case TagContainer, TagBale:
		rows, err := tx.Query(ctx, `SELECT id, tag_ref, first_ms, last_ms FROM yard_passages WHERE reader = ?
			AND tag_kind = 'vehicle' AND first_ms <= ? AND last_ms >= ?`, string(p.Reader), last, first)
		if err != nil {
			return err
		}
		var best, bestRef string
		var bestOverlap int64 = -1
		for rows.Next() {
			var id, ref string
			var f, l int64
			if err := rows.Scan(&id, &ref, &f, &l); err != nil {
				rows.Close()
				return err
			}
			if o := min(l, last) - max(f, first); o > bestOverlap {
				best, bestRef, bestOverlap = id, ref, o
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if best != "" {
			p.VehiclePassage, p.Vehicle = best, bestRef
			_, err = tx.Exec(ctx, `UPDATE yard_passages SET vehicle_passage = ?, vehicle = ? WHERE id = ?`, best, bestRef, p.ID)
		}
		return err
	}
	return nil
}

// PassageFilter selects passages; zero fields match everything.
type PassageFilter struct {
	Yard    string
	Reader  revloop.DeviceID
	EPC     string
	Vehicle string
	From    time.Time // first read >= From
	To      time.Time // first read < To
	Limit   int       // default 100, at most 1000
	After   string    // a Passage.Cursor: continue after that passage
}

const passageCols = `id, reader, yard, epc, tag_kind, tag_ref, first_ms, last_ms, reads, antennas, first_antenna,
	last_antenna, peak_rssi_dbm, direction, vehicle_passage, vehicle, ticket`

func scanPassage(sc interface{ Scan(...any) error }) (Passage, error) {
	var p Passage
	var f, l int64
	var ants, dir string
	if err := sc.Scan(&p.ID, &p.Reader, &p.Yard, &p.EPC, &p.TagKind, &p.TagRef, &f, &l, &p.Reads, &ants,
		&p.FirstAntenna, &p.LastAntenna, &p.PeakRSSIDbm, &dir, &p.VehiclePassage, &p.Vehicle, &p.Ticket); err != nil {
		return p, err
	}
	p.FirstSeen, p.LastSeen, p.Direction = store.FromMillis(f), store.FromMillis(l), Direction(dir)
	if err := json.Unmarshal([]byte(ants), &p.Antennas); err != nil {
		return p, fmt.Errorf("passage %s antennas: %w", p.ID, err)
	}
	return p, nil
}

func limit(n, def, most int) int {
	if n <= 0 {
		return def
	}
	return min(n, most)
}

// Passages lists passages, oldest first.
func (s *Service) Passages(ctx context.Context, f PassageFilter) ([]Passage, error) {
	w := store.Where{Q: `SELECT ` + passageCols + ` FROM yard_passages WHERE 1 = 1`}
	w.Eq("yard", f.Yard)
	w.Eq("reader", string(f.Reader))
	w.Eq("epc", f.EPC)
	w.Eq("vehicle", f.Vehicle)
	w.Span("first_ms", f.From, f.To)
	if err := w.AfterTime(f.After, "first_ms", "id"); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, w.Q+` ORDER BY first_ms, id LIMIT ?`, append(w.Args, limit(f.Limit, 100, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("passages: %w", err)
	}
	defer rows.Close()
	out := []Passage{}
	for rows.Next() {
		p, err := scanPassage(rows)
		if err != nil {
			return nil, fmt.Errorf("passages: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Passage returns one passage.
func (s *Service) Passage(ctx context.Context, id string) (Passage, error) {
	p, err := scanPassage(s.db.QueryRow(ctx, `SELECT `+passageCols+` FROM yard_passages WHERE id = ?`, id))
	if isNoRows(err) {
		return p, fmt.Errorf("passage %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("passage %q: %w", id, err)
	}
	if p.TagKind == TagVehicle {
		if p.Containers, err = s.strings(ctx, `SELECT id FROM yard_passages WHERE vehicle_passage = ? ORDER BY first_ms, id`, id); err != nil {
			return p, fmt.Errorf("passage %q: %w", id, err)
		}
	}
	return p, nil
}
