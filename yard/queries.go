package yard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revloop/revloop/store"
)

// LotFilter selects lots; zero fields match all.
type LotFilter struct {
	Yard, Stage, Material, Ticket string
	// Active keeps only lots in stock: not consumed, shipped or disposed.
	Active bool
	Limit  int
	After  string // a Lot.Cursor
}

// Lots lists lots by id.
func (s *Service) Lots(ctx context.Context, f LotFilter) ([]Lot, error) {
	w := store.Where{Q: `SELECT ` + lotCols + ` FROM yard_lots WHERE 1 = 1`}
	w.Eq("yard", f.Yard)
	w.Eq("stage", f.Stage)
	w.Eq("material", f.Material)
	w.Eq("ticket", f.Ticket)
	if f.Active {
		w.Add(`consumed_by = '' AND stage NOT IN ('shipped', 'disposed')`)
	}
	w.AfterID(f.After, "id")
	rows, err := s.db.Query(ctx, w.Q+` ORDER BY id LIMIT ?`, append(w.Args, limit(f.Limit, 100, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("lots: %w", err)
	}
	defer rows.Close()
	out := []Lot{}
	for rows.Next() {
		l, err := scanLot(rows)
		if err != nil {
			return nil, fmt.Errorf("lots: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// LotEvent is one transition in a lot's history.
type LotEvent struct {
	Transition string    `json:"transition"`
	Kind       string    `json:"kind"`
	Role       string    `json:"role"` // output: created by it; input: consumed or moved by it
	FromStage  string    `json:"from_stage,omitempty"`
	ToStage    string    `json:"to_stage"`
	Time       time.Time `json:"ts"`
	KgIn       float64   `json:"kg_in"`
	KgOut      float64   `json:"kg_out"`
	LossKg     float64   `json:"loss_kg"`
	RDCode     string    `json:"rd_code"`
	Station    string    `json:"station,omitempty"`
	Operator   string    `json:"operator"`
}

// LotDetail is a lot with its direct parents and children and its history.
type LotDetail struct {
	Lot      Lot        `json:"lot"`
	Parents  []string   `json:"parents"`
	Children []string   `json:"children"`
	History  []LotEvent `json:"history"`
}

// Lot returns a lot's detail.
func (s *Service) Lot(ctx context.Context, id string) (LotDetail, error) {
	var d LotDetail
	l, err := lotTx(ctx, s.db, id)
	if err != nil {
		return d, err
	}
	d.Lot = l
	if d.Parents, err = s.strings(ctx, `SELECT parent FROM yard_lot_links WHERE child = ? ORDER BY parent`, id); err != nil {
		return d, err
	}
	if d.Children, err = s.strings(ctx, `SELECT child FROM yard_lot_links WHERE parent = ? ORDER BY child`, id); err != nil {
		return d, err
	}
	rows, err := s.db.Query(ctx, `SELECT h.transition, t.kind, h.role, h.from_stage, h.to_stage, h.ts_ms, t.kg_in, t.kg_out,
		t.loss_kg, t.rd_code, t.station, t.operator FROM yard_lot_history h JOIN yard_transitions t ON t.id = h.transition
		WHERE h.lot = ? ORDER BY h.ts_ms, h.transition`, id)
	if err != nil {
		return d, fmt.Errorf("lot history: %w", err)
	}
	defer rows.Close()
	d.History = []LotEvent{}
	for rows.Next() {
		var e LotEvent
		var ms int64
		if err := rows.Scan(&e.Transition, &e.Kind, &e.Role, &e.FromStage, &e.ToStage, &ms, &e.KgIn, &e.KgOut, &e.LossKg,
			&e.RDCode, &e.Station, &e.Operator); err != nil {
			return d, fmt.Errorf("lot history: %w", err)
		}
		e.Time = store.FromMillis(ms)
		d.History = append(d.History, e)
	}
	return d, rows.Err()
}

func (s *Service) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// LotEdge is a parent → child link made by a transition.
type LotEdge struct {
	Parent     string `json:"parent"`
	Child      string `json:"child"`
	Transition string `json:"transition"`
}

// LotGraph is every ancestor and descendant of a lot.
type LotGraph struct {
	Root  string    `json:"root"`
	Lots  []Lot     `json:"lots"`
	Edges []LotEdge `json:"edges"`
}

// maxGraphLots bounds a lot graph.
const maxGraphLots = 10000

// Graph returns the lots connected to id through parent and child links,
// following ancestors upwards and descendants downwards.
func (s *Service) Graph(ctx context.Context, id string) (LotGraph, error) {
	g := LotGraph{Root: id, Lots: []Lot{}, Edges: []LotEdge{}}
	if _, err := lotTx(ctx, s.db, id); err != nil {
		return g, err
	}
	seen := map[string]bool{id: true}
	edges := map[LotEdge]bool{}
	for _, dir := range []struct{ from, to string }{{"child", "parent"}, {"parent", "child"}} {
		queue := []string{id}
		for len(queue) > 0 && len(seen) < maxGraphLots {
			cur := queue[0]
			queue = queue[1:]
			rows, err := s.db.Query(ctx, `SELECT parent, child, transition FROM yard_lot_links WHERE `+dir.from+` = ?`, cur)
			if err != nil {
				return g, fmt.Errorf("lot graph: %w", err)
			}
			for rows.Next() {
				var e LotEdge
				if err := rows.Scan(&e.Parent, &e.Child, &e.Transition); err != nil {
					rows.Close()
					return g, fmt.Errorf("lot graph: %w", err)
				}
				edges[e] = true
				next := e.Parent
				if dir.to == "child" {
					next = e.Child
				}
				if !seen[next] {
					seen[next] = true
					queue = append(queue, next)
				}
			}
			rows.Close()
		}
	}
	for lid := range seen {
		l, err := lotTx(ctx, s.db, lid)
		if err != nil {
			return g, err
		}
		g.Lots = append(g.Lots, l)
	}
	for e := range edges {
		g.Edges = append(g.Edges, e)
	}
	sortBy(g.Lots, func(l Lot) string { return l.ID })
	sortBy(g.Edges, func(e LotEdge) string { return e.Parent + "\x00" + e.Child })
	return g, nil
}

// TransitionFilter selects transitions; zero fields match all.
type TransitionFilter struct {
	Yard, Kind string
	From, To   time.Time
	Limit      int
	After      string // a Transition.Cursor
}

// Transitions lists recorded transitions, oldest first.
func (s *Service) Transitions(ctx context.Context, f TransitionFilter) ([]Transition, error) {
	w := store.Where{Q: `SELECT result FROM yard_transitions WHERE 1 = 1`}
	w.Eq("yard", f.Yard)
	w.Eq("kind", f.Kind)
	w.Span("ts_ms", f.From, f.To)
	if err := w.AfterTime(f.After, "ts_ms", "id"); err != nil {
		return nil, err
	}
	rs, err := queryJSON[TransitionResult](ctx, s.db, "transitions", w.Q+` ORDER BY ts_ms, id LIMIT ?`, append(w.Args, limit(f.Limit, 100, 1000))...)
	if err != nil {
		return nil, err
	}
	out := make([]Transition, len(rs))
	for i, r := range rs {
		out[i] = r.Transition
	}
	return out, nil
}

// queryJSON runs a query selecting one JSON document a row and decodes them.
func queryJSON[T any](ctx context.Context, db *store.DB, op, q string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var body string
		var v T
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Transition returns one transition with the lots it created or moved.
func (s *Service) Transition(ctx context.Context, id string) (TransitionResult, error) {
	var body string
	var r TransitionResult
	err := s.db.QueryRow(ctx, `SELECT result FROM yard_transitions WHERE id = ?`, id).Scan(&body)
	if isNoRows(err) {
		return r, fmt.Errorf("transition %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("transition %q: %w", id, err)
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return r, fmt.Errorf("transition %q: %w", id, err)
	}
	return r, nil
}

// StockLine is the yard's stock of one material at one stage.
type StockLine struct {
	Yard     string  `json:"yard"`
	Material string  `json:"material"`
	EWC      string  `json:"ewc"`
	Stage    string  `json:"stage"`
	Lots     int     `json:"lots"`
	Kg       float64 `json:"kg"`
}

// Stock sums the lots in stock (not consumed, shipped or disposed) by yard,
// material, EWC code and stage.
func (s *Service) Stock(ctx context.Context, yard string) ([]StockLine, error) {
	q := `SELECT yard, material, ewc, stage, COUNT(*), SUM(kg) FROM yard_lots
		WHERE consumed_by = '' AND stage NOT IN ('shipped', 'disposed')`
	var args []any
	if yard != "" {
		q += ` AND yard = ?`
		args = append(args, yard)
	}
	q += ` GROUP BY yard, material, ewc, stage ORDER BY yard, material, ewc, stage`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("stock: %w", err)
	}
	defer rows.Close()
	out := []StockLine{}
	for rows.Next() {
		var l StockLine
		if err := rows.Scan(&l.Yard, &l.Material, &l.EWC, &l.Stage, &l.Lots, &l.Kg); err != nil {
			return nil, fmt.Errorf("stock: %w", err)
		}
		l.Kg = round3(l.Kg)
		out = append(out, l)
	}
	return out, rows.Err()
}

// BalanceLine sums the transitions of one kind in a period.
type BalanceLine struct {
	Kind        string  `json:"kind"`
	Transitions int     `json:"transitions"`
	InputsKg    float64 `json:"inputs_kg"`
	OutputsKg   float64 `json:"outputs_kg"`
	LossKg      float64 `json:"loss_kg"`
}

// Balance is a yard's mass balance over a period: what came in (received),
// went out (shipped, disposed) or was lost in processing, and what that
// leaves as the change of stock.
type Balance struct {
	Yard       string        `json:"yard,omitempty"`
	From       time.Time     `json:"from,omitzero"`
	To         time.Time     `json:"to,omitzero"`
	ByKind     []BalanceLine `json:"by_kind"`
	ReceivedKg float64       `json:"received_kg"`
	ShippedKg  float64       `json:"shipped_kg"`
	DisposedKg float64       `json:"disposed_kg"`
	LossKg     float64       `json:"loss_kg"`
	// DifferenceKg sums inputs minus outputs minus loss: the scale
	// differences each transition was allowed within the tolerance.
	DifferenceKg float64 `json:"difference_kg"`
	StockDeltaKg float64 `json:"stock_delta_kg"`
}

// MassBalance sums the transitions with from <= ts < to.
func (s *Service) MassBalance(ctx context.Context, yard string, from, to time.Time) (Balance, error) {
	b := Balance{Yard: yard, From: from, To: to, ByKind: []BalanceLine{}}
	w := store.Where{Q: `SELECT kind, COUNT(*), SUM(kg_in), SUM(kg_out), SUM(loss_kg) FROM yard_transitions WHERE 1 = 1`}
	w.Eq("yard", yard)
	w.Span("ts_ms", from, to)
	rows, err := s.db.Query(ctx, w.Q+` GROUP BY kind ORDER BY kind`, w.Args...)
	if err != nil {
		return b, fmt.Errorf("mass balance: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l BalanceLine
		if err := rows.Scan(&l.Kind, &l.Transitions, &l.InputsKg, &l.OutputsKg, &l.LossKg); err != nil {
			return b, fmt.Errorf("mass balance: %w", err)
		}
		l.InputsKg, l.OutputsKg, l.LossKg = round3(l.InputsKg), round3(l.OutputsKg), round3(l.LossKg)
		b.ByKind = append(b.ByKind, l)
		if l.Kind != KindReceive { // a reception's loss and difference lie before the yard's stock
			b.LossKg += l.LossKg
			b.DifferenceKg += l.InputsKg - l.OutputsKg - l.LossKg
		}
		switch l.Kind {
		case KindReceive:
			b.ReceivedKg += l.OutputsKg
		case KindShip:
			b.ShippedKg += l.OutputsKg
		case KindDispose:
			b.DisposedKg += l.OutputsKg
		}
	}
	if err := rows.Err(); err != nil {
		return b, fmt.Errorf("mass balance: %w", err)
	}
	b.LossKg = round3(b.LossKg)
	b.DifferenceKg = round3(b.DifferenceKg)
	b.StockDeltaKg = round3(b.ReceivedKg - b.ShippedKg - b.DisposedKg - b.LossKg - b.DifferenceKg)
	return b, nil
}
