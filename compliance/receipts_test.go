package compliance

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestReceiptsWithGrades(t *testing.T) {
	f := newFixture(t)
	rs, err := f.svc().Receipts(context.Background(), Period{From: t0, To: t0.Add(48 * time.Hour)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d receipts, want 3", len(rs))
	}
	mixed := rs[0]
	if mixed.Revision != 2 || len(mixed.Waste) != 1 || mixed.Waste[0].EWCCodes[0] != "150106" || mixed.Waste[0].Weight.Amount != 4 {
		t.Fatalf("mixed load receipt = %+v", mixed)
	}
	// Sorting split 4 t into plastic 2.5 t, metal 1.18 t and residue 0.3 t (0.02 t lost).
	sum := 0.0
	for _, g := range mixed.Grades {
		sum += g.Weight.Amount
		if g.Codes[0].Code != "R12" || g.Codes[0].Weight.Amount != g.Weight.Amount {
			t.Errorf("grade %+v", g)
		}
	}
	if len(mixed.Grades) != 3 || math.Abs(sum-3.98) > 1e-9 {
		t.Fatalf("grades %d summing to %v t", len(mixed.Grades), sum)
	}
	if rs[2].Revision != 1 || rs[2].Grades != nil || rs[2].Carrier.VehicleRegistration != "truck-1" || rs[2].Receiver.AuthorisationNumber != "OVAM-YARD-77" {
		t.Fatalf("unsorted WEEE receipt = %+v", rs[2])
	}
	body, _ := json.MarshalIndent(rs, "", "  ")
	golden(t, "receipts.json", append(body, '\n'))
}
