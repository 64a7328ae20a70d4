package compliance

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/compliance/codes"
	"github.com/revloop/revloop/report"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

// Service builds compliance documents from the state store.
type Service struct {
	db   *store.DB
	yard *yard.Service
	opts Options
}

// New returns a Service reading the yard's records in db.
func New(db *store.DB, ys *yard.Service, opts Options) *Service {
	if opts.Retention <= 0 {
		opts.Retention = 3 * 365 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, yard: ys, opts: opts}
}

// Period is a half-open time range [From, To).
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ParsePeriod validates a report period given as RFC 3339 times or dates
// (YYYY-MM-DD, meaning midnight UTC). Both ends are required, From must be
// before To, and a period is at most ten years long.
func ParsePeriod(from, to string) (Period, error) {
	if from == "" || to == "" {
		return Period{}, revloop.Invalid("from", "both from and to are required (open-ended periods are not reports)")
	}
	f, err := parseTime("from", from)
	if err != nil {
		return Period{}, err
	}
	t, err := parseTime("to", to)
	if err != nil {
		return Period{}, err
	}
	if !f.Before(t) {
		return Period{}, revloop.Invalid("to", "%s is not after from %s", to, from)
	}
	if t.Sub(f) > 10*366*24*time.Hour {
		return Period{}, revloop.Invalid("to", "a period is at most ten years long")
	}
	return Period{From: f, To: t}, nil
}

func parseTime(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, revloop.Invalid(field, "%q is neither an RFC 3339 time nor a YYYY-MM-DD date", s)
}

// Line is one row of tonnage by List of Waste code and R/D operation.
type Line struct {
	EWC    string  `json:"ewc"`
	RDCode string  `json:"rd_code,omitempty"`
	Stage  string  `json:"stage,omitempty"`
	Kg     float64 `json:"kg"`
	Count  int     `json:"count"`
}

// PeriodTotals are the figures of a period report.
type PeriodTotals struct {
	Period          Period          `json:"period"`
	Yard            string          `json:"yard,omitempty"`
	ReceivedKg      float64         `json:"received_kg"`
	Received        []Line          `json:"received"`
	Processed       []Line          `json:"processed"`
	Shipped         []Line          `json:"shipped"`
	Disposed        []Line          `json:"disposed"`
	ShippedKg       float64         `json:"shipped_kg"`
	RecoveryKg      float64         `json:"shipped_to_recovery_kg"`
	DisposedKg      float64         `json:"disposed_kg"`
	LossKg          float64         `json:"recorded_loss_kg"`
	StockStartKg    float64         `json:"stock_start_kg"`
	StockEndKg      float64         `json:"stock_end_kg"`
	UnaccountedKg   float64         `json:"unaccounted_kg"` // scale tolerance residue of the mass balance
	RecyclingRate   float64         `json:"recycling_rate_pct"`
	WEEEKg          map[int]float64 `json:"weee_kg_by_category"`
	ReceivedTickets int             `json:"received_tickets"`
}

// PeriodTotals computes the tonnage figures of a period, for one yard or
// (yard empty) all of them.
func (s *Service) PeriodTotals(ctx context.Context, p Period, yard string) (PeriodTotals, error) {
	t := PeriodTotals{Period: p, Yard: yard, WEEEKg: map[int]float64{}}
	from, to := store.Millis(p.From), store.Millis(p.To)
	yardCond, args := "", []any{from, to}
	if yard != "" {
		yardCond = " AND t.yard = ?"
		args = append(args, yard)
	}
	// Received: the tickets' net weight consumed by receive transitions, and
	// the lots they created by code.
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(t.kg_in), 0) FROM yard_transitions t
		WHERE t.kind = 'receive' AND t.ts_ms >= ? AND t.ts_ms < ?`+yardCond, args...).Scan(&t.ReceivedTickets, &t.ReceivedKg); err != nil {
		return t, fmt.Errorf("period report received: %w", err)
	}
	var err error
	if t.Received, err = s.lines(ctx, `SELECT l.ewc, t.rd_code, '', COALESCE(SUM(l.kg), 0), COUNT(*), l.material FROM yard_transitions t
		JOIN yard_lot_history h ON h.transition = t.id AND h.role = 'output' JOIN yard_lots l ON l.id = h.lot
		WHERE t.kind = 'receive' AND t.ts_ms >= ? AND t.ts_ms < ?`+yardCond+` GROUP BY l.ewc, t.rd_code, l.material`, args, t.WEEEKg); err != nil {
		return t, err
	}
	if t.Processed, err = s.lines(ctx, `SELECT l.ewc, t.rd_code, t.kind, COALESCE(SUM(l.kg), 0), COUNT(*), '' FROM yard_transitions t
		JOIN yard_lot_history h ON h.transition = t.id AND h.role = 'input' JOIN yard_lots l ON l.id = h.lot
		WHERE t.kind IN ('sort', 'compact', 'shred') AND t.ts_ms >= ? AND t.ts_ms < ?`+yardCond+` GROUP BY l.ewc, t.rd_code, t.kind`, args, nil); err != nil {
		return t, err
	}
	if t.Shipped, err = s.lines(ctx, `SELECT l.ewc, t.rd_code, '', COALESCE(SUM(l.kg), 0), COUNT(*), '' FROM yard_shipments t
		JOIN yard_lots l ON l.shipment = t.id
		WHERE t.ts_ms >= ? AND t.ts_ms < ?`+yardCond+` GROUP BY l.ewc, t.rd_code`, args, nil); err != nil {
		return t, err
	}
	if t.Disposed, err = s.lines(ctx, `SELECT l.ewc, t.rd_code, '', COALESCE(SUM(l.kg), 0), COUNT(*), '' FROM yard_transitions t
		JOIN yard_lot_history h ON h.transition = t.id AND h.role = 'input' JOIN yard_lots l ON l.id = h.lot
		WHERE t.kind = 'dispose' AND t.ts_ms >= ? AND t.ts_ms < ?`+yardCond+` GROUP BY l.ewc, t.rd_code`, args, nil); err != nil {
		return t, err
	}
	for _, l := range t.Shipped {
		t.ShippedKg += l.Kg
		if strings.HasPrefix(l.RDCode, "R") {
			t.RecoveryKg += l.Kg
		}
	}
	for _, l := range t.Disposed {
		t.DisposedKg += l.Kg
	}
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(SUM(t.loss_kg), 0) FROM yard_transitions t
		WHERE t.ts_ms >= ? AND t.ts_ms < ?`+yardCond, args...).Scan(&t.LossKg); err != nil {
		return t, fmt.Errorf("period report losses: %w", err)
	}
	if t.StockStartKg, t.StockEndKg, err = s.stockAt(ctx, from, to, yard); err != nil {
		return t, err
	}
	t.UnaccountedKg = t.ReceivedKg - t.ShippedKg - t.DisposedKg - t.LossKg - (t.StockEndKg - t.StockStartKg)
	if out := t.ShippedKg + t.DisposedKg; out > 0 {
		t.RecyclingRate = 100 * t.RecoveryKg / out
	}
	return t, nil
}

// lines runs a grouped query returning (ewc, rd, stage, kg, count, material).
// When weee is not nil, rows whose material is "weee-N..." add to it.
func (s *Service) lines(ctx context.Context, q string, args []any, weee map[int]float64) ([]Line, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("period report: %w", err)
	}
	defer rows.Close()
	merged := map[[3]string]*Line{}
	var keys [][3]string
	for rows.Next() {
		var l Line
		var material string
		if err := rows.Scan(&l.EWC, &l.RDCode, &l.Stage, &l.Kg, &l.Count, &material); err != nil {
			return nil, fmt.Errorf("period report: %w", err)
		}
		if w, err := codes.LookupWasteCode(l.EWC); err == nil {
			l.EWC = w.Display()
		}
		if weee != nil {
			if n, ok := WEEECategoryOf(material); ok {
				weee[n] += l.Kg
			}
		}
		k := [3]string{l.EWC, l.RDCode, l.Stage}
		if m, ok := merged[k]; ok {
			m.Kg += l.Kg
			m.Count += l.Count
			continue
		}
		merged[k] = &l
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		for x := 0; x < 3; x++ {
			if keys[i][x] != keys[j][x] {
				return keys[i][x] < keys[j][x]
			}
		}
		return false
	})
	out := make([]Line, len(keys))
	for i, k := range keys {
		out[i] = *merged[k]
	}
	return out, rows.Err()
}

// stockAt returns the mass of lots in the yard at the instants a and b:
// lots created before the instant and not yet consumed, shipped or disposed.
// One pass over the lots created before b answers both.
func (s *Service) stockAt(ctx context.Context, a, b int64, yard string) (float64, float64, error) {
	q := `SELECT l.kg, o.ts_ms, COALESCE((SELECT MIN(i.ts_ms) FROM yard_lot_history i WHERE i.lot = l.id AND i.role = 'input'), 0)
		FROM yard_lots l JOIN yard_lot_history o ON o.lot = l.id AND o.role = 'output' WHERE o.ts_ms < ?`
	args := []any{b}
	if yard != "" {
		q += ` AND l.yard = ?`
		args = append(args, yard)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("period report stock: %w", err)
	}
	defer rows.Close()
	var atA, atB float64
	for rows.Next() {
		var kg float64
		var created, consumed int64
		if err := rows.Scan(&kg, &created, &consumed); err != nil {
			return 0, 0, fmt.Errorf("period report stock: %w", err)
		}
		if created < a && (consumed == 0 || consumed >= a) {
			atA += kg
		}
		if consumed == 0 || consumed >= b {
			atB += kg
		}
	}
	return atA, atB, rows.Err()
}

// WEEECategoryOf reads the WEEE category from a lot material named
// "weee-N" or "weee-N description".
func WEEECategoryOf(material string) (int, bool) {
	rest, ok := strings.CutPrefix(strings.ToLower(material), "weee-")
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:1])
	if err != nil || n < 1 || n > 6 {
		return 0, false
	}
	return n, true
}

// PeriodReport renders the totals as a report with tables and charts.
func (s *Service) PeriodReport(ctx context.Context, p Period, yard string) (*report.Report, PeriodTotals, error) {
	t, err := s.PeriodTotals(ctx, p, yard)
	if err != nil {
		return nil, t, err
	}
	title := "Waste tonnage report"
	sub := "All yards"
	if yard != "" {
		sub = "Yard " + yard
	}
	r := &report.Report{Title: title, Subtitle: sub, From: p.From, To: p.To, Generated: s.opts.Now().UTC()}
	r.Sections = append(r.Sections, report.Section{
		Heading: "Summary",
		Text:    "Received is the net weight of the weighbridge tickets received; the mass balance is received = shipped + disposed + recorded losses + change in stock, and any remainder is within the scales' tolerance.",
		Figures: []report.Figure{
			{Label: "Received", Value: t.ReceivedKg / 1000, Unit: "t"},
			{Label: "Shipped", Value: t.ShippedKg / 1000, Unit: "t"},
			{Label: "Shipped to recovery", Value: t.RecoveryKg / 1000, Unit: "t"},
			{Label: "Disposed", Value: t.DisposedKg / 1000, Unit: "t"},
			{Label: "Recorded losses", Value: t.LossKg / 1000, Unit: "t"},
			{Label: "Stock at start", Value: t.StockStartKg / 1000, Unit: "t"},
			{Label: "Stock at end", Value: t.StockEndKg / 1000, Unit: "t"},
			{Label: "Unaccounted (scale tolerance)", Value: t.UnaccountedKg / 1000, Unit: "t"},
			{Label: "Recycling rate", Value: t.RecyclingRate, Unit: "%"},
			{Label: "Tickets received", Value: float64(t.ReceivedTickets)},
		},
	})
	r.Sections = append(r.Sections,
		lineSection("Received by waste code", t.Received, false),
		lineSection("Processed by stage", t.Processed, true),
		lineSection("Shipped by waste code and operation", t.Shipped, false),
		lineSection("Disposed by waste code and operation", t.Disposed, false))
	weee := &report.Table{Columns: []report.Column{{Name: "Category"}, {Name: "Name"}, {Name: "Received", Unit: "t", Numeric: true}}}
	total := 0.0
	for _, c := range codes.WEEECategories() {
		weee.Rows = append(weee.Rows, []any{c.Number, c.Name, t.WEEEKg[c.Number] / 1000})
		total += t.WEEEKg[c.Number] / 1000
	}
	weee.Totals = []any{"total", "", total}
	r.Sections = append(r.Sections, report.Section{Heading: "WEEE by category", Table: weee})
	return r, t, nil
}

func lineSection(heading string, lines []Line, stage bool) report.Section {
	cols := []report.Column{{Name: "EWC code"}, {Name: "Description"}, {Name: "R/D"}}
	if stage {
		cols = append(cols, report.Column{Name: "Stage"})
	}
	cols = append(cols, report.Column{Name: "Lots", Numeric: true}, report.Column{Name: "Mass", Unit: "t", Numeric: true})
	tb := &report.Table{Columns: cols}
	chart := &report.Chart{Kind: report.Bar, Title: heading + " (t)", Series: []report.Series{{Name: "t"}}}
	total, count := 0.0, 0
	for _, l := range lines {
		desc, display := "", l.EWC
		if w, err := codes.LookupWasteCode(l.EWC); err == nil {
			desc = w.Description
		}
		row := []any{display, desc, l.RDCode}
		if stage {
			row = append(row, l.Stage)
		}
		tb.Rows = append(tb.Rows, append(row, l.Count, l.Kg/1000))
		chart.Labels = append(chart.Labels, display)
		chart.Series[0].Values = append(chart.Series[0].Values, l.Kg/1000)
		total += l.Kg / 1000
		count += l.Count
	}
	tot := []any{"total", "", ""}
	if stage {
		tot = append(tot, "")
	}
	tb.Totals = append(tot, count, total)
	sec := report.Section{Heading: heading, Table: tb}
	if len(lines) > 0 {
		sec.Chart = chart
	}
	return sec
}
