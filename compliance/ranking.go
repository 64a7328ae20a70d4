package compliance

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/revloop/revloop/report"
	"github.com/revloop/revloop/store"
)

// CustomerRank is one customer's place in the operator's ranking.
type CustomerRank struct {
	Customer       string   `json:"customer"`
	Name           string   `json:"name"`
	Kg             float64  `json:"kg"`
	PreviousKg     float64  `json:"previous_kg"`
	SharePct       float64  `json:"volume_share_pct"`
	CumulativePct  float64  `json:"cumulative_share_pct"`
	Revenue        float64  `json:"revenue"`
	RevenuePct     float64  `json:"revenue_share_pct"`
	ChangePct      float64  `json:"change_pct"`
	LastComplaints []string `json:"last_complaints,omitempty"`
}

// Ranking is the operator's view of its customers over a period.
type Ranking struct {
	Period Period         `json:"period"`
	Ranks  []CustomerRank `json:"ranks"`
	// TopFifthSharePct is the volume share of the top fifth of customers
	// (the Pareto check: is it about 80 %?).
	TopFifthSharePct float64        `json:"top_fifth_share_pct"`
	Falling          []CustomerRank `json:"falling"`
	Stopped          []CustomerRank `json:"stopped"`
}

// Rank ranks customers by volume received in the period against the
// previous period of equal length. tariffs maps a material to a price per
// tonne ("*" for any other material); revenue is mass times tariff. A
// customer is falling when its volume dropped by more than fallingPct, and
// stopped when it had volume before and none now.
func (s *Service) Rank(ctx context.Context, p Period, tariffs map[string]float64, fallingPct float64) (Ranking, error) {
	r := Ranking{Period: p}
	prev := Period{From: p.From.Add(-p.To.Sub(p.From)), To: p.From}
	rows, err := s.db.Query(ctx, `SELECT l.customer, l.material, t.ts_ms, l.kg FROM yard_transitions t
		JOIN yard_lot_history h ON h.transition = t.id AND h.role = 'output' JOIN yard_lots l ON l.id = h.lot
		WHERE t.kind = 'receive' AND t.ts_ms >= ? AND t.ts_ms < ? AND l.customer <> ''`, store.Millis(prev.From), store.Millis(p.To))
	if err != nil {
		return r, fmt.Errorf("ranking: %w", err)
	}
	by := map[string]*CustomerRank{}
	total, totalRev := 0.0, 0.0
	for rows.Next() {
		var cust, material string
		var ms int64
		var kg float64
		if err := rows.Scan(&cust, &material, &ms, &kg); err != nil {
			rows.Close()
			return r, fmt.Errorf("ranking: %w", err)
		}
		c := by[cust]
		if c == nil {
			c = &CustomerRank{Customer: cust, Name: cust}
			by[cust] = c
		}
		if ms < store.Millis(p.From) {
			c.PreviousKg += kg
			continue
		}
		c.Kg += kg
		total += kg
		price, ok := tariffs[material]
		if !ok {
			price = tariffs["*"]
		}
		c.Revenue += kg / 1000 * price
		totalRev += kg / 1000 * price
	}
	rows.Close()
	for _, c := range by {
		s.db.QueryRow(ctx, `SELECT name FROM customers WHERE id = ?`, c.Customer).Scan(&c.Name)
		if total > 0 {
			c.SharePct = 100 * c.Kg / total
		}
		if totalRev > 0 {
			c.RevenuePct = 100 * c.Revenue / totalRev
		}
		if c.PreviousKg > 0 {
			c.ChangePct = 100 * (c.Kg - c.PreviousKg) / c.PreviousKg
		}
		r.Ranks = append(r.Ranks, *c)
	}
	sort.Slice(r.Ranks, func(i, j int) bool {
		if r.Ranks[i].Kg != r.Ranks[j].Kg {
			return r.Ranks[i].Kg > r.Ranks[j].Kg
		}
		return r.Ranks[i].Customer < r.Ranks[j].Customer
	})
	cum := 0.0
	active := 0
	for i := range r.Ranks {
		cum += r.Ranks[i].SharePct
		r.Ranks[i].CumulativePct = cum
		if r.Ranks[i].Kg > 0 {
			active++
		}
	}
	if top := int(math.Ceil(float64(active) / 5)); top > 0 {
		r.TopFifthSharePct = r.Ranks[top-1].CumulativePct
	}
	for _, c := range r.Ranks {
		switch {
		case c.PreviousKg > 0 && c.Kg == 0:
			c.LastComplaints, err = s.lastComplaints(ctx, c.Customer, 3)
			if err != nil {
				return r, err
			}
			r.Stopped = append(r.Stopped, c)
		case c.PreviousKg > 0 && c.ChangePct < -fallingPct:
			r.Falling = append(r.Falling, c)
		}
	}
	return r, nil
}

func (s *Service) lastComplaints(ctx context.Context, customer string, n int) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT opened_ms, subject_kind, text FROM complaints WHERE customer_id = ? ORDER BY opened_ms DESC LIMIT ?`, customer, n)
	if err != nil {
		return nil, fmt.Errorf("ranking complaints: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ms int64
		var kind, text string
		if err := rows.Scan(&ms, &kind, &text); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s %s: %s", store.FromMillis(ms).Format("2006-01-02"), kind, text))
	}
	return out, rows.Err()
}

// RankingReport renders the ranking.
func RankingReport(r Ranking, generated time.Time) *report.Report {
	rep := &report.Report{Title: "Customer ranking", From: r.Period.From, To: r.Period.To, Generated: generated}
	rep.Sections = append(rep.Sections, report.Section{Heading: "Summary", Figures: []report.Figure{
		{Label: "Customers with volume", Value: float64(len(r.Ranks) - len(r.Stopped))},
		{Label: "Share of the top fifth of customers", Value: r.TopFifthSharePct, Unit: "%"},
		{Label: "Customers with falling volume", Value: float64(len(r.Falling))},
		{Label: "Customers who stopped", Value: float64(len(r.Stopped))},
	}})
	t := &report.Table{Columns: []report.Column{{Name: "Rank", Numeric: true}, {Name: "Customer"}, {Name: "Name"}, {Name: "Volume", Unit: "t", Numeric: true},
		{Name: "Share", Unit: "%", Numeric: true}, {Name: "Cumulative", Unit: "%", Numeric: true}, {Name: "Revenue share", Unit: "%", Numeric: true},
		{Name: "Change", Unit: "%", Numeric: true}}}
	for i, c := range r.Ranks {
		t.Rows = append(t.Rows, []any{i + 1, c.Customer, c.Name, c.Kg / 1000, c.SharePct, c.CumulativePct, c.RevenuePct, c.ChangePct})
	}
	rep.Sections = append(rep.Sections, report.Section{Heading: "Ranking by volume", Table: t})
	st := &report.Table{Columns: []report.Column{{Name: "Customer"}, {Name: "Name"}, {Name: "Previous volume", Unit: "t", Numeric: true}, {Name: "Last complaints"}}}
	for _, c := range r.Stopped {
		last := ""
		for i, l := range c.LastComplaints {
			if i > 0 {
				last += " | "
			}
			last += l
		}
		st.Rows = append(st.Rows, []any{c.Customer, c.Name, c.PreviousKg / 1000, last})
	}
	rep.Sections = append(rep.Sections, report.Section{Heading: "Customers who stopped using the service", Table: st})
	return rep
}
