package compliance

import (
	"context"
	"testing"
	"time"

	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

// fixture is a small, fully known yard history: two loads received, sorted
// into grades, baled, shipped to recovery, with a residue disposed.
type fixture struct {
	db      *store.DB
	yard    *yard.Service
	start   time.Time
	tickets []yard.Ticket
	lots    map[string]yard.Lot
	ship    yard.Shipment
}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	clock := t0.Add(72 * time.Hour)
	ys, err := yard.New(db, nil, yard.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, yard: ys, start: t0, lots: map[string]yard.Lot{}}
	ticket := func(vehicle string, gross, tare float64, at time.Time) yard.Ticket {
		tk, err := ys.CreateTicket(ctx, yard.ManualTicket{Yard: "yard-1", Vehicle: vehicle, GrossKg: gross, TareKg: ptr(tare), At: at, Reason: "fixture"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		f.tickets = append(f.tickets, tk)
		return tk
	}
	apply := func(r yard.TransitionRequest) []yard.Lot {
		res, err := ys.Apply(ctx, r, "", "test")
		if err != nil {
			t.Fatalf("%s: %v", r.Kind, err)
		}
		for _, l := range res.Lots {
			f.lots[l.ID] = l
		}
		return res.Lots
	}
	tk1 := ticket("truck-1", 14000, 10000, t0)                   // 4000 kg net
	tk2 := ticket("truck-2", 12500, 9500, t0.Add(2*time.Hour))   // 3000 kg net
	tk3 := ticket("truck-1", 11200, 10000, t0.Add(26*time.Hour)) // 1200 kg net WEEE
	mixed := apply(yard.TransitionRequest{Kind: "receive", Ticket: tk1.ID, Customer: "cust-a", Pickups: []string{"p1"}, RDCode: "R13", At: t0.Add(time.Minute),
		Outputs: []yard.OutputLot{{Material: "mixed packaging", EWC: "15 01 06", Kg: 4000}}})
	paper := apply(yard.TransitionRequest{Kind: "receive", Ticket: tk2.ID, Customer: "cust-b", Pickups: []string{"p2"}, RDCode: "R13", At: t0.Add(2*time.Hour + time.Minute),
		Outputs: []yard.OutputLot{{Material: "paper", EWC: "15 01 01", Kg: 3000}}})
	apply(yard.TransitionRequest{Kind: "receive", Ticket: tk3.ID, Customer: "cust-a", RDCode: "R13", At: t0.Add(26*time.Hour + time.Minute),
		Outputs: []yard.OutputLot{{Material: "weee-5 small equipment", EWC: "20 01 36", Kg: 1200}}})
	sorted := apply(yard.TransitionRequest{Kind: "sort", Inputs: []string{mixed[0].ID}, RDCode: "R12", At: t0.Add(3 * time.Hour), LossKg: 20,
		Outputs: []yard.OutputLot{{Material: "plastic", EWC: "15 01 02", Kg: 2500}, {Material: "metal", EWC: "15 01 04", Kg: 1180}, {Material: "residue", EWC: "19 12 12", Kg: 300, Residue: true}}})
	bale := apply(yard.TransitionRequest{Kind: "compact", Inputs: []string{sorted[0].ID}, RDCode: "R12", At: t0.Add(4 * time.Hour),
		Outputs: []yard.OutputLot{{Material: "plastic", EWC: "15 01 02", Kg: 2500, Tag: "bale-1"}}})
	apply(yard.TransitionRequest{Kind: "dispose", Inputs: []string{sorted[2].ID}, RDCode: "D1", At: t0.Add(5 * time.Hour)})
	sp := apply(yard.TransitionRequest{Kind: "sort", Inputs: []string{paper[0].ID}, RDCode: "R12", At: t0.Add(6 * time.Hour),
		Outputs: []yard.OutputLot{{Material: "paper", EWC: "15 01 01", Kg: 3000}}})

	ship, err := ys.Ship(ctx, yard.ShipmentRequest{Lots: []string{bale[0].ID, sp[0].ID}, RDCode: "R3",
		Receiver: yard.Receiver{Name: "Recycler NV", Site: "Gent Haven 12", Permit: "OVAM-2024-001"}, Carrier: "revloop-fleet", Vehicle: "1-ABC-123",
		NetKg: ptr(5500), At: t0.Add(30 * time.Hour)}, "", "test")
	if err != nil {
		t.Fatalf("ship: %v", err)
	}
	f.ship = ship
	return f
}

// svc returns the compliance service over the fixture, with a fixed clock.
func (f *fixture) svc() *Service {
	return New(f.db, f.yard, Options{
		Operator: Operator{
			Yard:    Party{Name: "revloop Recycling Gent", Address: "Skaldenstraat 1, 9042 Gent", Permit: "OVAM-YARD-77"},
			Carrier: Party{Name: "revloop-fleet", Registration: "CBDU-12345"},
		},
		Now: func() time.Time { return t0.Add(72 * time.Hour) },
	})
}
