package compliance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/report"
	"github.com/revloop/revloop/store"
)

// ServicePeriod parses a customer report period: kind month, quarter or
// year, containing the date at (YYYY-MM-DD or YYYY-MM).
func ServicePeriod(kind, at string) (Period, error) {
	if len(at) == 7 {
		at += "-01"
	}
	d, err := time.Parse("2006-01-02", at)
	if err != nil {
		return Period{}, revloop.Invalid("at", "%q is not a date (YYYY-MM-DD or YYYY-MM)", at)
	}
	switch kind {
	case "month":
		f := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
		return Period{From: f, To: f.AddDate(0, 1, 0)}, nil
	case "quarter":
		f := time.Date(d.Year(), ((d.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
		return Period{From: f, To: f.AddDate(0, 3, 0)}, nil
	case "year":
		f := time.Date(d.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return Period{From: f, To: f.AddDate(1, 0, 0)}, nil
	}
	return Period{}, revloop.Invalid("period", "unknown period %q (want month, quarter or year)", kind)
}

// Bucket is the volume collected in one sub-period.
type Bucket struct {
	Label string    `json:"label"`
	Start time.Time `json:"start"`
	Kg    float64   `json:"kg"`
}

// SiteVolume is the volume collected at one site.
type SiteVolume struct {
	Site   string  `json:"site"`
	Name   string  `json:"name"`
	Region string  `json:"region"`
	Kg     float64 `json:"kg"`
}

// ServiceFigures is a customer's service report content.
type ServiceFigures struct {
	Customer          string       `json:"customer"`
	CustomerName      string       `json:"customer_name"`
	Period            Period       `json:"period"`
	CollectedKg       float64      `json:"collected_kg"`
	PreviousKg        float64      `json:"previous_period_kg"`
	TrendPct          float64      `json:"trend_pct"` // change against the previous period of equal length
	Buckets           []Bucket     `json:"volume_by_bucket"`
	Peak              *Bucket      `json:"peak,omitempty"`
	Quiet             *Bucket      `json:"quiet,omitempty"`
	Sites             []SiteVolume `json:"sites"`
	Regions           []SiteVolume `json:"regions"`
	Pickups           int          `json:"pickups"`
	Collected         int          `json:"pickups_collected"`
	OnTime            int          `json:"pickups_on_time"`
	OnTimeRatePct     float64      `json:"on_time_rate_pct"`
	Missed            int          `json:"pickups_missed"`
	Complaints        int          `json:"complaints"`
	IncidentRatePct   float64      `json:"incident_rate_per_100_pickups"`
	Resolved          int          `json:"complaints_resolved"`
	MedianResolveH    float64      `json:"median_time_to_resolve_h"`
	WeighingErrorPct  float64      `json:"estimate_vs_weighed_error_pct"` // mean absolute % error of pickup estimates
	CorrectedTickets  int          `json:"corrected_tickets"`
	Surveys           int          `json:"surveys"`
	SatisfactionScore float64      `json:"satisfaction_score"` // mean of 1..5
	Comments          []string     `json:"survey_comments"`
	EmissionsKg       *float64     `json:"emissions_kg_co2e,omitempty"`
}

// ServiceReport computes a customer's service figures. emissionsKg, when
// not nil, is the CO2e attributed to the customer over the period.
func (s *Service) ServiceFigures(ctx context.Context, customer string, p Period, emissionsKg *float64) (ServiceFigures, error) {
	f := ServiceFigures{Customer: customer, Period: p, EmissionsKg: emissionsKg, Comments: []string{}}
	err := s.db.QueryRow(ctx, `SELECT name FROM customers WHERE id = ?`, customer).Scan(&f.CustomerName)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("customer %q: %w", customer, store.ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("service report: %w", err)
	}
	vols, err := s.customerVolumes(ctx, customer, Period{From: p.From.Add(-p.To.Sub(p.From)), To: p.To})
	if err != nil {
		return f, err
	}
	f.Buckets = buckets(p)
	siteKg := map[string]float64{}
	for _, v := range vols {
		if v.at.Before(p.From) {
			f.PreviousKg += v.kg
			continue
		}
		f.CollectedKg += v.kg
		for i := range f.Buckets {
			if i == len(f.Buckets)-1 || v.at.Before(f.Buckets[i+1].Start) {
				f.Buckets[i].Kg += v.kg
				break
			}
		}
		for site, share := range v.sites {
			siteKg[site] += v.kg * share
		}
	}
	if f.PreviousKg > 0 {
		f.TrendPct = 100 * (f.CollectedKg - f.PreviousKg) / f.PreviousKg
	}
	for i := range f.Buckets {
		b := &f.Buckets[i]
		if f.Peak == nil || b.Kg > f.Peak.Kg {
			f.Peak = b
		}
		if f.Quiet == nil || b.Kg < f.Quiet.Kg {
			f.Quiet = b
		}
	}
	if err := s.sites(ctx, customer, siteKg, &f); err != nil {
		return f, err
	}
	if err := s.pickupFigures(ctx, customer, p, &f); err != nil {
		return f, err
	}
	if err := s.complaintFigures(ctx, customer, p, &f); err != nil {
		return f, err
	}
	return f, s.surveyFigures(ctx, customer, p, &f)
}

type volume struct {
	at    time.Time
	kg    float64
	sites map[string]float64 // share of the lot per pickup site
}

// customerVolumes lists the lots received for a customer in p.
func (s *Service) customerVolumes(ctx context.Context, customer string, p Period) ([]volume, error) {
	rows, err := s.db.Query(ctx, `SELECT t.ts_ms, l.kg, l.pickups FROM yard_transitions t
		JOIN yard_lot_history h ON h.transition = t.id AND h.role = 'output' JOIN yard_lots l ON l.id = h.lot
		WHERE t.kind = 'receive' AND l.customer = ? AND t.ts_ms >= ? AND t.ts_ms < ? ORDER BY t.ts_ms`,
		customer, store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return nil, fmt.Errorf("service report volumes: %w", err)
	}
	defer rows.Close()
	var out []volume
	var pickupIDs [][]string
	for rows.Next() {
		var ms int64
		var v volume
		var pk string
		if err := rows.Scan(&ms, &v.kg, &pk); err != nil {
			return nil, fmt.Errorf("service report volumes: %w", err)
		}
		v.at = store.FromMillis(ms)
		out = append(out, v)
		pickupIDs = append(pickupIDs, parseList(pk))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i, ids := range pickupIDs {
		out[i].sites = map[string]float64{}
		for _, id := range ids {
			var site string
			if err := s.db.QueryRow(ctx, `SELECT site_id FROM pickups WHERE id = ?`, id).Scan(&site); err == nil {
				out[i].sites[site] += 1 / float64(len(ids))
			}
		}
	}
	return out, nil
}

// parseList reads a JSON array of strings as stored in yard_lots.pickups.
func parseList(s string) []string {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if s == "" {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		if v := strings.Trim(strings.TrimSpace(part), `"`); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// buckets splits a period: weeks of a month, months of a quarter or year.
func buckets(p Period) []Bucket {
	var out []Bucket
	if p.To.Sub(p.From) <= 31*24*time.Hour {
		for t, i := p.From, 1; t.Before(p.To); t, i = t.AddDate(0, 0, 7), i+1 {
			out = append(out, Bucket{Label: fmt.Sprintf("week %d", i), Start: t})
		}
		return out
	}
	for t := p.From; t.Before(p.To); t = t.AddDate(0, 1, 0) {
		out = append(out, Bucket{Label: t.Format("Jan 2006"), Start: t})
	}
	return out
}

// sites fills per-site and per-region volumes; a site's region is the
// locality of its address (the part after the last comma).
func (s *Service) sites(ctx context.Context, customer string, siteKg map[string]float64, f *ServiceFigures) error {
	rows, err := s.db.Query(ctx, `SELECT id, name, address FROM sites WHERE customer_id = ? ORDER BY id`, customer)
	if err != nil {
		return fmt.Errorf("service report sites: %w", err)
	}
	defer rows.Close()
	regions := map[string]float64{}
	for rows.Next() {
		var v SiteVolume
		var addr string
		if err := rows.Scan(&v.Site, &v.Name, &addr); err != nil {
			return fmt.Errorf("service report sites: %w", err)
		}
		v.Region = "unknown"
		if i := strings.LastIndex(addr, ","); i >= 0 && strings.TrimSpace(addr[i+1:]) != "" {
			v.Region = strings.TrimSpace(addr[i+1:])
		}
		v.Kg = siteKg[v.Site]
		regions[v.Region] += v.Kg
		f.Sites = append(f.Sites, v)
	}
	names := make([]string, 0, len(regions))
	for r := range regions {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		f.Regions = append(f.Regions, SiteVolume{Region: r, Name: r, Kg: regions[r]})
	}
	return rows.Err()
}

func (s *Service) pickupFigures(ctx context.Context, customer string, p Period, f *ServiceFigures) error {
	rows, err := s.db.Query(ctx, `SELECT p.id, p.status, p.window_from_ms, p.window_to_ms, p.estimated_kg,
		COALESCE((SELECT MIN(h.at_ms) FROM pickup_history h WHERE h.pickup_id = p.id AND h.to_status = 'collected'), 0)
		FROM pickups p WHERE p.customer_id = ? AND p.window_from_ms >= ? AND p.window_from_ms < ?`,
		customer, store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return fmt.Errorf("service report pickups: %w", err)
	}
	type pk struct {
		id       string
		estimate float64
	}
	var weighed []pk
	for rows.Next() {
		var id, status string
		var from, to, collected int64
		var est float64
		if err := rows.Scan(&id, &status, &from, &to, &est, &collected); err != nil {
			rows.Close()
			return fmt.Errorf("service report pickups: %w", err)
		}
		f.Pickups++
		switch status {
		case "missed":
			f.Missed++
		case "collected", "delivered":
			f.Collected++
			if collected >= from && collected <= to {
				f.OnTime++
			}
			if est > 0 {
				weighed = append(weighed, pk{id, est})
			}
		}
	}
	rows.Close()
	if f.Collected > 0 {
		f.OnTimeRatePct = 100 * float64(f.OnTime) / float64(f.Collected)
	}
	// Weighing accuracy: the customer's estimate against the weighed lots
	// that name the pickup (a lot of several pickups is split evenly).
	if len(weighed) > 0 {
		actual, err := s.weighedByPickup(ctx, customer)
		if err != nil {
			return err
		}
		var errSum float64
		var n int
		for _, w := range weighed {
			if a := actual[w.id]; a > 0 {
				errSum += math.Abs(w.estimate-a) / a
				n++
			}
		}
		if n > 0 {
			f.WeighingErrorPct = 100 * errSum / float64(n)
		}
	}
	return s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT t.id) FROM yard_tickets t JOIN yard_lots l ON l.ticket = t.id
		WHERE l.customer = ? AND t.version > 1 AND t.created_ms >= ? AND t.created_ms < ?`,
		customer, store.Millis(p.From), store.Millis(p.To)).Scan(&f.CorrectedTickets)
}

// weighedByPickup sums the received lots of a customer per pickup they name.
func (s *Service) weighedByPickup(ctx context.Context, customer string) (map[string]float64, error) {
	rows, err := s.db.Query(ctx, `SELECT l.kg, l.pickups FROM yard_lots l JOIN yard_lot_history h ON h.lot = l.id AND h.role = 'output'
		JOIN yard_transitions t ON t.id = h.transition AND t.kind = 'receive' WHERE l.customer = ?`, customer)
	if err != nil {
		return nil, fmt.Errorf("service report weighing: %w", err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var kg float64
		var list string
		if err := rows.Scan(&kg, &list); err != nil {
			return nil, fmt.Errorf("service report weighing: %w", err)
		}
		ids := parseList(list)
		for _, id := range ids {
			out[id] += kg / float64(len(ids))
		}
	}
	return out, rows.Err()
}

func (s *Service) complaintFigures(ctx context.Context, customer string, p Period, f *ServiceFigures) error {
	rows, err := s.db.Query(ctx, `SELECT opened_ms, resolved_ms FROM complaints WHERE customer_id = ? AND opened_ms >= ? AND opened_ms < ?`,
		customer, store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return fmt.Errorf("service report complaints: %w", err)
	}
	defer rows.Close()
	var hours []float64
	for rows.Next() {
		var opened, resolved int64
		if err := rows.Scan(&opened, &resolved); err != nil {
			return err
		}
		f.Complaints++
		if resolved > 0 {
			f.Resolved++
			hours = append(hours, float64(resolved-opened)/3.6e6)
		}
	}
	if f.Pickups > 0 {
		f.IncidentRatePct = 100 * float64(f.Complaints) / float64(f.Pickups)
	}
	f.MedianResolveH = median(hours)
	return rows.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Survey is a customer's rating of one completed pickup.
type Survey struct {
	PickupID   string    `json:"pickup_id"`
	CustomerID string    `json:"customer_id"`
	Score      int       `json:"score"`
	Comment    string    `json:"comment,omitempty"`
	Created    time.Time `json:"created"`
}

// RecordSurvey stores the survey of a collected or delivered pickup; one per
// pickup. customer, when not empty, must own the pickup.
func (s *Service) RecordSurvey(ctx context.Context, sv Survey, customer string) (Survey, error) {
	if sv.Score < 1 || sv.Score > 5 {
		return sv, revloop.Invalid("score", "want 1 to 5, got %d", sv.Score)
	}
	if len(sv.Comment) > 2000 {
		return sv, revloop.Invalid("comment", "at most 2000 characters")
	}
	var owner, status string
	err := s.db.QueryRow(ctx, `SELECT customer_id, status FROM pickups WHERE id = ?`, sv.PickupID).Scan(&owner, &status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && customer != "" && owner != customer) {
		return sv, fmt.Errorf("pickup %q: %w", sv.PickupID, store.ErrNotFound)
	}
	if err != nil {
		return sv, fmt.Errorf("survey: %w", err)
	}
	if status != "collected" && status != "delivered" {
		return sv, &revloop.TransitionError{Entity: "survey of pickup " + sv.PickupID, From: status, To: "surveyed", Allowed: []string{"collected", "delivered"}}
	}
	sv.CustomerID, sv.Created = owner, s.opts.Now().UTC().Truncate(time.Millisecond)
	_, err = s.db.Exec(ctx, `INSERT INTO pickup_surveys (pickup_id, customer_id, score, comment, created_ms) VALUES (?, ?, ?, ?, ?)`,
		sv.PickupID, sv.CustomerID, sv.Score, sv.Comment, store.Millis(sv.Created))
	if store.IsUniqueViolation(err) {
		return sv, fmt.Errorf("%w: pickup %s already has a survey", revloop.ErrConflict, sv.PickupID)
	}
	if err != nil {
		return sv, fmt.Errorf("survey: %w", err)
	}
	return sv, nil
}

func (s *Service) surveyFigures(ctx context.Context, customer string, p Period, f *ServiceFigures) error {
	rows, err := s.db.Query(ctx, `SELECT score, comment FROM pickup_surveys WHERE customer_id = ? AND created_ms >= ? AND created_ms < ? ORDER BY created_ms`,
		customer, store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return fmt.Errorf("service report surveys: %w", err)
	}
	defer rows.Close()
	sum := 0
	for rows.Next() {
		var score int
		var comment string
		if err := rows.Scan(&score, &comment); err != nil {
			return err
		}
		f.Surveys++
		sum += score
		if comment != "" {
			f.Comments = append(f.Comments, comment)
		}
	}
	if f.Surveys > 0 {
		f.SatisfactionScore = float64(sum) / float64(f.Surveys)
	}
	return rows.Err()
}

// ServiceReport renders a customer's service figures.
func ServiceReport(f ServiceFigures, kind string, generated time.Time) *report.Report {
	r := &report.Report{Title: "Service report: " + f.CustomerName, Subtitle: fmt.Sprintf("Customer %s, %s", f.Customer, kind),
		From: f.Period.From, To: f.Period.To, Generated: generated}
	figs := []report.Figure{
		{Label: "Collected", Value: f.CollectedKg / 1000, Unit: "t"},
		{Label: "Change against previous period", Value: f.TrendPct, Unit: "%"},
		{Label: "Pickups requested", Value: float64(f.Pickups)},
		{Label: "On-time pickup rate", Value: f.OnTimeRatePct, Unit: "%"},
		{Label: "Missed pickups", Value: float64(f.Missed)},
		{Label: "Complaints", Value: float64(f.Complaints)},
		{Label: "Incident rate", Value: f.IncidentRatePct, Unit: "per 100 pickups"},
		{Label: "Median time to resolve", Value: f.MedianResolveH, Unit: "h"},
		{Label: "Estimate vs weighed error", Value: f.WeighingErrorPct, Unit: "%"},
		{Label: "Corrected weighbridge tickets", Value: float64(f.CorrectedTickets)},
		{Label: "Satisfaction", Value: f.SatisfactionScore, Unit: fmt.Sprintf("/ 5 (%d surveys)", f.Surveys)},
	}
	if f.EmissionsKg != nil {
		figs = append(figs, report.Figure{Label: "Attributed emissions", Value: *f.EmissionsKg, Unit: "kg CO2e"})
	}
	r.Sections = append(r.Sections, report.Section{Heading: "Summary", Figures: figs})
	bt := &report.Table{Columns: []report.Column{{Name: "Period"}, {Name: "Collected", Unit: "t", Numeric: true}}}
	ch := &report.Chart{Kind: report.Bar, Title: "Collected volume (t)", Series: []report.Series{{Name: "t"}}}
	for _, b := range f.Buckets {
		bt.Rows = append(bt.Rows, []any{b.Label, b.Kg / 1000})
		ch.Labels = append(ch.Labels, b.Label)
		ch.Series[0].Values = append(ch.Series[0].Values, b.Kg/1000)
	}
	text := ""
	if f.Peak != nil && f.Quiet != nil {
		text = fmt.Sprintf("Peak: %s (%.2f t). Quietest: %s (%.2f t).", f.Peak.Label, f.Peak.Kg/1000, f.Quiet.Label, f.Quiet.Kg/1000)
	}
	r.Sections = append(r.Sections, report.Section{Heading: "Volume and trend", Text: text, Table: bt, Chart: ch})
	st := &report.Table{Columns: []report.Column{{Name: "Site"}, {Name: "Name"}, {Name: "Region"}, {Name: "Collected", Unit: "t", Numeric: true}}}
	for _, s := range f.Sites {
		st.Rows = append(st.Rows, []any{s.Site, s.Name, s.Region, s.Kg / 1000})
	}
	r.Sections = append(r.Sections, report.Section{Heading: "Sites", Table: st})
	rt := &report.Table{Columns: []report.Column{{Name: "Region"}, {Name: "Collected", Unit: "t", Numeric: true}}}
	for _, s := range f.Regions {
		rt.Rows = append(rt.Rows, []any{s.Region, s.Kg / 1000})
	}
	r.Sections = append(r.Sections, report.Section{Heading: "Regions", Table: rt})
	if len(f.Comments) > 0 {
		r.Sections = append(r.Sections, report.Section{Heading: "Survey comments", Text: "“" + strings.Join(f.Comments, "”\n“") + "”"})
	}
	return r
}
