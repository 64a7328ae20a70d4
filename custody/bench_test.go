package custody

import (
	"context"
	"fmt"
	"testing"

	"github.com/revloop/revloop/store"
)

// Fill appends n synthetic entries to db in transactions of batch entries.
func fill(ctx context.Context, db *store.DB, n, batch int) error {
	l := New(nil)
	rs := make([]Record, 0, batch)
	for done := 0; done < n; {
		rs = rs[:0]
		for i := 0; i < batch && done+i < n; i++ {
			k := done + i
			rs = append(rs, Record{Kind: "lot.transition", Subject: fmt.Sprintf("LOT-%06d", k%5000),
				Payload: map[string]any{"kind": "sort", "inputs_kg": 1000 + k%700, "outputs_kg": 995, "rd_code": "R12", "operator": "op-7"}})
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := l.AppendBatch(ctx, tx, rs); return err }); err != nil {
			return err
		}
		done += len(rs)
	}
	return nil
}

// BenchmarkVerify measures verification of a 1,000,000-entry log (100,000
// with -short). The figure to read is the reported entries/s and the time
// per op (one full verification).
func BenchmarkVerify(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	ctx := context.Background()
	db := openDB(b)
	if err := fill(ctx, db, n, 20_000); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Verify(ctx, db, nil)
		if err != nil || !rep.OK || rep.Entries != int64(n) {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	db := openDB(b)
	l := New(nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := l.Append(ctx, tx, Record{Kind: "ticket", Subject: "Y1-1", Payload: map[string]int{"i": i}})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
