package compliance

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

// withCustomers adds the dispatcher records behind the fixture's loads.
func withCustomers(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	ms := func(d time.Duration) int64 { return store.Millis(t0.Add(d)) }
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, c := range []struct{ id, name string }{{"cust-a", "Retail A"}, {"cust-b", "Town B"}, {"cust-c", "Shop C"}} {
		exec(`INSERT INTO customers (id, name, created_ms, updated_ms) VALUES (?, ?, 0, 0)`, c.id, c.name)
	}
	for _, s := range []struct{ id, cust, addr string }{{"s-a1", "cust-a", "Veldstraat 1, Gent"}, {"s-a2", "cust-a", "Markt 2, Brugge"}, {"s-b1", "cust-b", "Kouter 3, Gent"}} {
		exec(`INSERT INTO sites (id, name, kind, customer_id, address, lon, lat, geofence, created_ms, updated_ms) VALUES (?, ?, 'customer_site', ?, ?, 3.7, 51.05, '{}', 0, 0)`, s.id, s.id, s.cust, s.addr)
	}
	pickup := func(id, cust, site, status string, est float64, from, to, collected time.Duration) {
		exec(`INSERT INTO pickups (id, customer_id, site_id, material, estimated_kg, window_from_ms, window_to_ms, status, created_ms, updated_ms)
			VALUES (?, ?, ?, 'mixed', ?, ?, ?, ?, 0, 0)`, id, cust, site, est, ms(from), ms(to), status)
		if collected != 0 {
			exec(`INSERT INTO pickup_history (pickup_id, from_status, to_status, actor, at_ms) VALUES (?, 'planned', 'collected', 'driver', ?)`, id, ms(collected))
		}
	}
	pickup("p1", "cust-a", "s-a1", "delivered", 5000, -4*time.Hour, 0, -time.Hour)            // on time; estimate 5 t for 4 t weighed
	pickup("p2", "cust-b", "s-b1", "collected", 3000, -6*time.Hour, -3*time.Hour, -time.Hour) // late
	pickup("p3", "cust-a", "s-a2", "missed", 100, 2*time.Hour, 4*time.Hour, 0)
	exec(`INSERT INTO complaints (id, customer_id, subject_kind, text, opened_ms, resolved_ms, outcome) VALUES ('c1', 'cust-a', 'pickup', 'missed our bins', ?, ?, 'rescheduled')`, ms(5*time.Hour), ms(11*time.Hour))
	exec(`INSERT INTO complaints (id, customer_id, subject_kind, text, opened_ms) VALUES ('c2', 'cust-c', 'invoice', 'price too high', ?)`, ms(-30*time.Hour))
	// cust-c delivered only in the previous period.
	tk, err := f.yard.CreateTicket(ctx, yard.ManualTicket{Yard: "yard-1", Vehicle: "truck-3", GrossKg: 11000, TareKg: ptr(10000), At: t0.Add(-24 * time.Hour), Reason: "fixture"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.yard.Apply(ctx, yard.TransitionRequest{Kind: "receive", Ticket: tk.ID, Customer: "cust-c", RDCode: "R13", At: t0.Add(-24 * time.Hour),
		Outputs: []yard.OutputLot{{Material: "paper", EWC: "15 01 01", Kg: 1000}}}, "", "test"); err != nil {
		t.Fatal(err)
	}
}

func TestServiceFigures(t *testing.T) {
	f := newFixture(t)
	withCustomers(t, f)
	s := f.svc()
	ctx := context.Background()
	if _, err := s.RecordSurvey(ctx, Survey{PickupID: "p1", Score: 4, Comment: "friendly driver"}, "cust-a"); err != nil {
		t.Fatal(err)
	}
	em := 12.5
	// The survey is recorded at the service clock, t0+72h.
	fig, err := s.ServiceFigures(ctx, "cust-a", Period{From: t0.Add(-24 * time.Hour), To: t0.Add(96 * time.Hour)}, &em)
	if err != nil {
		t.Fatal(err)
	}
	if fig.CollectedKg != 5200 || fig.Pickups != 2 || fig.Collected != 1 || fig.OnTime != 1 || fig.OnTimeRatePct != 100 || fig.Missed != 1 {
		t.Fatalf("figures = %+v", fig)
	}
	if fig.Complaints != 1 || fig.Resolved != 1 || fig.MedianResolveH != 6 || fig.IncidentRatePct != 50 {
		t.Fatalf("complaints %d resolved %d median %v incident %v", fig.Complaints, fig.Resolved, fig.MedianResolveH, fig.IncidentRatePct)
	}
	// Estimate 5000 kg against 4000 kg weighed: 25 % error.
	if math.Abs(fig.WeighingErrorPct-25) > 1e-9 {
		t.Fatalf("weighing error %v", fig.WeighingErrorPct)
	}
	if fig.Surveys != 1 || fig.SatisfactionScore != 4 || fig.Comments[0] != "friendly driver" || *fig.EmissionsKg != 12.5 {
		t.Fatalf("surveys %+v", fig)
	}
	byRegion := map[string]float64{}
	for _, r := range fig.Regions {
		byRegion[r.Region] = r.Kg
	}
	if byRegion["Gent"] != 4000 || byRegion["Brugge"] != 0 {
		t.Fatalf("regions %+v", fig.Regions)
	}
	other, err := s.ServiceFigures(ctx, "cust-b", Period{From: t0.Add(-24 * time.Hour), To: t0.Add(48 * time.Hour)}, nil)
	if err != nil || other.OnTime != 0 || other.Collected != 1 || other.CollectedKg != 3000 {
		t.Fatalf("cust-b %+v %v", other, err)
	}
	if _, err := s.ServiceFigures(ctx, "nobody", Period{From: t0, To: t0.Add(time.Hour)}, nil); !errors.Is(err, revloop.ErrNotFound) {
		t.Fatalf("unknown customer: %v", err)
	}
}

func TestSurveyRules(t *testing.T) {
	f := newFixture(t)
	withCustomers(t, f)
	s := f.svc()
	ctx := context.Background()
	cases := []struct {
		name     string
		sv       Survey
		customer string
		want     error
	}{
		{"score out of range", Survey{PickupID: "p1", Score: 6}, "", revloop.ErrInvalid},
		{"other customer's pickup", Survey{PickupID: "p1", Score: 3}, "cust-b", revloop.ErrNotFound},
		{"not collected", Survey{PickupID: "p3", Score: 3}, "cust-a", revloop.ErrConflict},
		{"unknown pickup", Survey{PickupID: "p9", Score: 3}, "", revloop.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.RecordSurvey(ctx, c.sv, c.customer); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := s.RecordSurvey(ctx, Survey{PickupID: "p2", Score: 2}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordSurvey(ctx, Survey{PickupID: "p2", Score: 5}, ""); !errors.Is(err, revloop.ErrConflict) {
		t.Fatalf("second survey: %v", err)
	}
}

func TestRanking(t *testing.T) {
	f := newFixture(t)
	withCustomers(t, f)
	r, err := f.svc().Rank(context.Background(), Period{From: t0, To: t0.Add(48 * time.Hour)}, map[string]float64{"paper": 100, "*": 50}, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Ranks) != 3 || r.Ranks[0].Customer != "cust-a" || r.Ranks[0].Kg != 5200 || r.Ranks[1].Kg != 3000 || r.Ranks[2].Customer != "cust-c" {
		t.Fatalf("ranks %+v", r.Ranks)
	}
	// Revenue: A 5.2 t at 50 = 260; B 3 t paper at 100 = 300.
	if math.Abs(r.Ranks[0].RevenuePct-100*260.0/560) > 1e-9 || math.Abs(r.TopFifthSharePct-100*5200.0/8200) > 1e-9 {
		t.Fatalf("revenue %v top fifth %v", r.Ranks[0].RevenuePct, r.TopFifthSharePct)
	}
	if len(r.Stopped) != 1 || r.Stopped[0].Customer != "cust-c" || len(r.Stopped[0].LastComplaints) != 1 {
		t.Fatalf("stopped %+v", r.Stopped)
	}
}

func TestServicePeriod(t *testing.T) {
	for _, c := range []struct{ kind, at, from, to string }{
		{"month", "2026-02-14", "2026-02-01", "2026-03-01"},
		{"quarter", "2026-05", "2026-04-01", "2026-07-01"},
		{"year", "2026-12-31", "2026-01-01", "2027-01-01"},
	} {
		p, err := ServicePeriod(c.kind, c.at)
		if err != nil || p.From.Format("2006-01-02") != c.from || p.To.Format("2006-01-02") != c.to {
			t.Errorf("%s %s = %v..%v, %v", c.kind, c.at, p.From, p.To, err)
		}
	}
	if _, err := ServicePeriod("week", "2026-01-01"); !errors.Is(err, revloop.ErrInvalid) {
		t.Errorf("week accepted: %v", err)
	}
	if _, err := ServicePeriod("month", "soon"); !errors.Is(err, revloop.ErrInvalid) {
		t.Errorf("bad date accepted: %v", err)
	}
}
