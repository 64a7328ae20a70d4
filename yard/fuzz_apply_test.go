package yard

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/revloop/revloop"
)

// FuzzApply sends arbitrary transition requests against a yard holding a
// few lots: every refusal must be a client error (invalid, conflict, not
// found), and every accepted transition must keep the mass balance.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"kind":"sort","inputs":["LOT-00000001"],"rd_code":"R12","outputs":[{"material":"PET","ewc":"150102","kg":600},{"material":"paper","ewc":"150101","kg":398}],"loss_kg":2}`,
		`{"kind":"compact","inputs":["LOT-00000002"],"rd_code":"R12","outputs":[{"kg":500}]}`,
		`{"kind":"dispose","inputs":["LOT-00000003"],"rd_code":"D1"}`,
		`{"kind":"store","inputs":["LOT-00000003"],"rd_code":"R13","location":"b"}`,
		`{"kind":"receive","ticket":"y1-T000001","customer":"c","rd_code":"R13","outputs":[{"material":"x","ewc":"150106","kg":1000}]}`,
		`{"kind":"sort","inputs":["LOT-00000001","LOT-00000001"],"rd_code":"R12","outputs":[{"kg":-1}],"loss_kg":-5}`,
		`{"kind":"shred","inputs":[],"rd_code":"D13","outputs":[{"material":"m","ewc":"20013*","kg":1e308}]}`,
	} {
		f.Add([]byte(s))
	}
	svc, _ := newService(f)
	ctx := context.Background()
	for _, kg := range []float64{1000, 500, 300} {
		receivedLot(f, svc, kg)
	}
	if _, err := svc.Apply(ctx, TransitionRequest{Kind: KindSort, Inputs: []string{"LOT-00000002"}, RDCode: "R12",
		Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 500}}}, "", "op"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r TransitionRequest
		if err := json.Unmarshal(body, &r); err != nil {
			return
		}
		res, err := svc.Apply(ctx, r, "", "op")
		if err != nil {
			if !errors.Is(err, revloop.ErrInvalid) && !errors.Is(err, revloop.ErrConflict) && !errors.Is(err, revloop.ErrNotFound) {
				t.Fatalf("request %s: server-side error %v", body, err)
			}
			return
		}
		tr := res.Transition
		if math.Abs(tr.KgIn-tr.KgOut-tr.LossKg) > svc.opts.Tolerance.Of(tr.KgIn)+1e-6 || tr.LossKg < 0 {
			t.Fatalf("accepted %s breaking the mass balance: %+v", body, tr)
		}
	})
}
