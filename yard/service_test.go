package yard

import (
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/store/storetest"
	"github.com/revloop/revloop/yard/yardtest"
)

var day = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// backends are the state stores the service tests run on; PostgreSQL is
// skipped unless REVLOOP_TEST_DATABASE_URL is set.
var backends = []struct {
	name string
	open func(testing.TB) *store.DB
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

// onBackends runs f once per backend.
func onBackends(t *testing.T, f func(t *testing.T, open func(testing.TB) *store.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.open) })
	}
}

func newService(t testing.TB) (*Service, *clock) { return newServiceOn(t, storetest.SQLite) }

func newServiceOn(t testing.TB, open func(testing.TB) *store.DB) (*Service, *clock) {
	t.Helper()
	db := storetest.Migrated(t, open)
	c := &clock{t: day}
	svc, err := New(db, nil, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, c
}

func mustCount(t testing.TB, svc *Service, table string) int {
	t.Helper()
	var n int
	if err := svc.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWeigher(t *testing.T) {
	at := func(s float64) time.Time { return day.Add(time.Duration(s * float64(time.Second))) }
	type rd struct {
		s      float64
		kg     float64
		stable bool
	}
	ramp := func(from float64, kgs ...float64) []rd {
		var out []rd
		for i, k := range kgs {
			out = append(out, rd{from + float64(i)*0.5, k, true})
		}
		return out
	}
	cases := []struct {
		name string
		in   []rd
		want []float64
		flag []bool
	}{
		{"settles", append([]rd{{0, 0, true}, {0.5, 6000, false}}, ramp(1, 12004, 11998, 12001, 12003, 11996, 12000, 12002)...),
			[]float64{12000.6}, []bool{true}},
		{"never settles", append([]rd{{0, 0, true}}, ramp(0.5, 12000, 12050, 12100, 12150, 12200, 12250, 12300, 12350)...), nil, nil},
		{"scale flag alone is not trusted", append([]rd{{0, 0, true}}, ramp(0.5, 12000, 12100, 11900, 12080, 11920, 12000, 12100, 11900)...), nil, nil},
		{"too short", append([]rd{{0, 0, true}}, ramp(0.5, 9000, 9001, 9002)...), nil, nil},
		{"flag off recorded", []rd{{0, 0, true}, {1, 9000, false}, {2, 9001, false}, {3, 9002, false}, {4, 9001, false}}, []float64{9001}, []bool{false}},
		{"two loads need an empty scale between", append(append(append([]rd{{0, 0, true}}, ramp(1, 9000, 9000, 9000, 9000, 9000, 9000, 9000)...),
			ramp(5, 8000, 8000, 8000, 8000, 8000, 8000, 8000)...), append([]rd{{10, 0, true}}, ramp(11, 7000, 7000, 7000, 7000, 7000, 7000, 7000)...)...),
			[]float64{9000, 7000}, []bool{true, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewWeigher(WeighOptions{})
			w.SetScale("scale-1", "y1")
			var rs []revloop.WeightReading
			for _, r := range c.in {
				rs = append(rs, revloop.WeightReading{Device: "scale-1", Time: at(r.s), Kg: r.kg, Stable: r.stable})
			}
			slices.Reverse(rs) // Process sorts
			got := w.Process(rs, nil)
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want kg %v", got, c.want)
			}
			for i, g := range got {
				if math.Abs(g.Kg-c.want[i]) > 0.11 || g.FlagStable != c.flag[i] || g.Yard != "y1" {
					t.Errorf("weighing %d = %+v, want %v kg flag %v", i, g, c.want[i], c.flag[i])
				}
			}
			again := w.Process(rs, nil)
			if len(again) != 0 {
				t.Errorf("redelivered readings made weighings %+v", again)
			}
		})
	}
}

const (
	epcTruck1 = "E28011700000020A1B2C0001"
	epcTruck2 = "E28011700000020A1B2C0002"
	epcBin1   = "E2003412B802011826000C01"
)

func configure(t testing.TB, svc *Service) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.PutGate(ctx, Gate{Reader: "gate-1", Yard: "y1", Outside: yardtest.Outside, Inside: yardtest.Inside}))
	must(svc.PutScale(ctx, Scale{Scale: "scale-1", Yard: "y1"}))
	must(svc.PutTag(ctx, Tag{EPC: epcTruck1, Kind: TagVehicle, Ref: "truck-1"}))
	must(svc.PutTag(ctx, Tag{EPC: epcTruck2, Kind: TagVehicle, Ref: "truck-2"}))
	must(svc.PutTag(ctx, Tag{EPC: epcBin1, Kind: TagContainer, Ref: "bin-1"}))
	must(svc.PutTare(ctx, Tare{Vehicle: "truck-2", Kg: 7500, UpdatedBy: "test"}))
}

func feed(t testing.TB, obs *Observer, c *clock, recs []ingestRecord, times int) {
	t.Helper()
	ctx := context.Background()
	for _, r := range recs {
		c.Set(r.Received)
		for i := 0; i < times; i++ {
			if err := obs.Observe(ctx, []ingestRecord{r}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := obs.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestObserverTickets(t *testing.T) {
	onBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		for _, times := range []int{1, 2} {
			t.Run("delivered"+string(rune('0'+times))+"x", func(t *testing.T) {
				svc, c := newServiceOn(t, open)
				configure(t, svc)
				sim := yardtest.New("gate-1", "scale-1", 1)
				sim.Visit(yardtest.Visit{VehicleEPC: epcTruck1, Containers: []string{epcBin1}, Arrive: day.Add(time.Minute), GrossKg: 14000, TareKg: 8000})
				sim.Visit(yardtest.Visit{VehicleEPC: epcTruck2, Arrive: day.Add(time.Minute + 20*time.Second), GrossKg: 11000, SkipTare: true, Stay: 5 * time.Minute})
				obs := NewObserver(svc, nil)
				feed(t, obs, c, sim.Records(40), times)
				ctx := context.Background()
				ps, err := svc.Passages(ctx, PassageFilter{Yard: "y1"})
				if err != nil {
					t.Fatal(err)
				}
				var dirs []string
				for _, p := range ps {
					dirs = append(dirs, p.TagRef+":"+string(p.Direction))
					if p.TagKind == TagContainer && (p.Vehicle != "truck-1" || p.VehiclePassage == "") {
						t.Errorf("container passage not linked to its truck: %+v", p)
					}
				}
				if want := []string{"truck-1:in", "bin-1:in", "truck-2:in", "truck-2:out", "truck-1:out"}; !slices.Equal(dirs, want) {
					t.Fatalf("passages %v, want %v", dirs, want)
				}
				ts, err := svc.Tickets(ctx, TicketFilter{Yard: "y1"})
				if err != nil {
					t.Fatal(err)
				}
				if len(ts) != 2 {
					t.Fatalf("tickets %+v", ts)
				}
				t1, t2 := ts[0], ts[1]
				if t1.Number != 1 || t1.Vehicle != "truck-1" || t1.Status != TicketComplete || t1.TareSource != TareWeighed ||
					math.Abs(*t1.NetKg-6000) > 10 || t1.PassageIn == "" || t1.PassageOut == "" || t1.Version != 2 {
					t.Errorf("ticket 1 = %+v", t1)
				}
				if t2.Number != 2 || t2.Vehicle != "truck-2" || t2.Status != TicketComplete || t2.TareSource != TareStored ||
					math.Abs(*t2.NetKg-3500) > 10 || t2.Version != 1 {
					t.Errorf("ticket 2 = %+v", t2)
				}
				ws, err := svc.Weighings(ctx, WeighingFilter{})
				if err != nil {
					t.Fatal(err)
				}
				var st []string
				for _, w := range ws {
					st = append(st, w.Status)
				}
				if want := []string{WeighingGross, WeighingGross, WeighingTare}; !slices.Equal(st, want) {
					t.Errorf("weighing statuses %v, want %v", st, want)
				}
				reg := prometheus.NewPedanticRegistry()
				reg.MustRegister(obs.Collectors()...)
				mfs, err := reg.Gather()
				if err != nil || len(mfs) != 7 {
					t.Fatalf("metrics %d, %v", len(mfs), err)
				}
				for _, mf := range mfs {
					v := mf.GetMetric()[0].GetCounter().GetValue()
					switch mf.GetName() {
					case "revloop_yard_passages_total":
						if v != 5 {
							t.Errorf("passages metric %v, want 5", v)
						}
					case "revloop_yard_weighings_total":
						if v != float64(3) {
							t.Errorf("weighings metric %v, want 3", v)
						}
					}
				}
				rep, err := custody.Verify(ctx, svc.db, nil)
				if err != nil || !rep.OK || rep.Entries != 3 {
					t.Errorf("custody %+v %v, want 3 ticket versions", rep, err)
				}
			})
		}
	})
}

// receivedLot makes a complete manual ticket and receives it into one lot.
func receivedLot(t testing.TB, svc *Service, kg float64) Lot {
	t.Helper()
	ctx := context.Background()
	tk, err := svc.CreateTicket(ctx, ManualTicket{Yard: "y1", Vehicle: "truck-9", GrossKg: kg + 8000, TareKg: ptr(8000), Reason: "scale offline"}, "op")
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Apply(ctx, TransitionRequest{Kind: KindReceive, Ticket: tk.ID, Customer: "c-1", Pickups: []string{"p-1"},
		Outputs: []OutputLot{{Material: "mixed packaging", EWC: "15 01 06", Kg: kg}}, RDCode: "R13", Station: "bay-1"}, "", "op")
	if err != nil {
		t.Fatal(err)
	}
	return res.Lots[0]
}

func TestTransitionFlow(t *testing.T) {
	onBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		svc, _ := newServiceOn(t, open)
		ctx := context.Background()
		in := receivedLot(t, svc, 1000)
		sorted, err := svc.Apply(ctx, TransitionRequest{Kind: KindSort, Inputs: []string{in.ID}, RDCode: "R12", Station: "sort-1",
			Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 600}, {Material: "paper", EWC: "150101", Kg: 380},
				{Material: "residue", EWC: "191212", Kg: 15, Residue: true}}, LossKg: 3}, "k1", "op")
		if err != nil {
			t.Fatal(err)
		}
		pet, paper, residue := sorted.Lots[0], sorted.Lots[1], sorted.Lots[2]
		bale, err := svc.Apply(ctx, TransitionRequest{Kind: KindCompact, Inputs: []string{pet.ID}, RDCode: "R12",
			Outputs: []OutputLot{{Kg: 300, Tag: "B1"}, {Kg: 299, Tag: "B2"}}}, "", "op")
		if err != nil {
			t.Fatal(err)
		}
		if bale.Lots[0].Material != "PET" || bale.Lots[0].EWC != "150102" || bale.Lots[0].Stage != StageCompacted {
			t.Fatalf("bale did not inherit material: %+v", bale.Lots[0])
		}
		if _, err := svc.Apply(ctx, TransitionRequest{Kind: KindDispose, Inputs: []string{residue.ID}, RDCode: "D1"}, "", "op"); err != nil {
			t.Fatal(err)
		}
		sh, err := svc.Ship(ctx, ShipmentRequest{Lots: []string{bale.Lots[0].ID, bale.Lots[1].ID}, Receiver: Receiver{Name: "PolyRec", Site: "Plant 2", Permit: "EPR-1"},
			Carrier: "Haul Co", Vehicle: "HX-12", RDCode: "R3", NetKg: ptr(598)}, "s1", "op")
		if err != nil {
			t.Fatal(err)
		}
		if sh.Kg != 599 || len(sh.Lots) != 2 || sh.Lots[0].Stage != StageShipped {
			t.Fatalf("shipment %+v", sh)
		}
		again, err := svc.Ship(ctx, ShipmentRequest{Lots: []string{bale.Lots[0].ID, bale.Lots[1].ID}, Receiver: Receiver{Name: "PolyRec", Site: "Plant 2", Permit: "EPR-1"},
			Carrier: "Haul Co", Vehicle: "HX-12", RDCode: "R3", NetKg: ptr(598), At: sh.Time}, "s1", "op")
		if err != nil || !again.Replayed || again.ID != sh.ID {
			t.Fatalf("shipment retry = %+v, %v", again, err)
		}
		d, err := svc.Lot(ctx, pet.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Parents) != 1 || d.Parents[0] != in.ID || len(d.Children) != 2 || len(d.History) != 2 || d.Lot.ConsumedBy == "" {
			t.Fatalf("lot detail %+v", d)
		}
		g, err := svc.Graph(ctx, bale.Lots[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range g.Lots {
			ids = append(ids, l.ID)
		}
		if want := []string{in.ID, pet.ID, bale.Lots[0].ID}; !slices.Equal(ids, want) || len(g.Edges) != 2 {
			t.Fatalf("graph of a bale: lots %v edges %v, want its ancestors %v", ids, g.Edges, want)
		}
		if g, err = svc.Graph(ctx, in.ID); err != nil || len(g.Lots) != 6 || len(g.Edges) != 5 {
			t.Fatalf("graph of the received lot: %+v %v, want it and its 5 descendants", g, err)
		}
		stock, err := svc.Stock(ctx, "y1")
		if err != nil {
			t.Fatal(err)
		}
		if len(stock) != 1 || stock[0].Material != "paper" || stock[0].Kg != 380 || stock[0].Stage != StageSorted {
			t.Fatalf("stock %+v", stock)
		}
		b, err := svc.MassBalance(ctx, "y1", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if b.ReceivedKg != 1000 || b.ShippedKg != 599 || b.DisposedKg != 15 || b.LossKg != 3 || b.DifferenceKg != 3 || b.StockDeltaKg != 380 {
			t.Fatalf("balance %+v", b)
		}
		moved, err := svc.Apply(ctx, TransitionRequest{Kind: KindStore, Inputs: []string{paper.ID}, Location: "bay-9", RDCode: "R13"}, "", "op")
		if err != nil {
			t.Fatal(err)
		}
		if l := moved.Lots[0]; l.ID != paper.ID || l.Location != "bay-9" || l.Stage != StageSorted || l.ConsumedBy != "" {
			t.Fatalf("stored lot %+v", l)
		}
		if _, err := svc.Apply(ctx, TransitionRequest{Kind: KindStore, Inputs: []string{paper.ID}, Location: "bay-9", RDCode: "R12"}, "", "op"); !errors.Is(err, revloop.ErrInvalid) {
			t.Fatalf("storage under R12 accepted: %v", err)
		}
		if _, err := svc.Apply(ctx, TransitionRequest{Kind: KindStore, Inputs: []string{bale.Lots[0].ID}, Location: "bay-1", RDCode: "R13"}, "", "op"); !errors.Is(err, revloop.ErrConflict) {
			t.Fatalf("storing a shipped lot: %v", err)
		}
		rep, err := custody.Verify(ctx, svc.db, nil)
		if err != nil || !rep.OK {
			t.Fatalf("custody %+v %v", rep, err)
		}
	})
}

func TestTransitionRefusals(t *testing.T) {
	onBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		svc, _ := newServiceOn(t, open)
		ctx := context.Background()
		received := receivedLot(t, svc, 1000)
		sortRes, err := svc.Apply(ctx, TransitionRequest{Kind: KindSort, Inputs: []string{receivedLot(t, svc, 500).ID}, RDCode: "R12",
			Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 500}}}, "", "op")
		if err != nil {
			t.Fatal(err)
		}
		sortedLot := sortRes.Lots[0]
		shipped, err := svc.Apply(ctx, TransitionRequest{Kind: KindSort, Inputs: []string{receivedLot(t, svc, 200).ID}, RDCode: "R12",
			Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 200}}}, "", "op")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Ship(ctx, ShipmentRequest{Lots: []string{shipped.Lots[0].ID}, Receiver: Receiver{Name: "R", Site: "S", Permit: "P"},
			Carrier: "C", Vehicle: "V", RDCode: "R3"}, "", "op"); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			req     TransitionRequest
			kind    error
			allowed []string
			mass    bool
		}{
			{"creates mass", TransitionRequest{Kind: KindSort, Inputs: []string{received.ID}, RDCode: "R12",
				Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 700}, {Material: "paper", EWC: "150101", Kg: 400}}}, revloop.ErrInvalid, nil, true},
			{"loses mass silently", TransitionRequest{Kind: KindSort, Inputs: []string{received.ID}, RDCode: "R12",
				Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 900}}}, revloop.ErrInvalid, nil, true},
			{"skips sorting", TransitionRequest{Kind: KindCompact, Inputs: []string{received.ID}, RDCode: "R12",
				Outputs: []OutputLot{{Kg: 1000}}}, revloop.ErrConflict, []string{StageSorted, StageDisposed}, false},
			{"touches a consumed lot", TransitionRequest{Kind: KindSort, Inputs: []string{sortRes.Transition.Inputs[0].Lot}, RDCode: "R12",
				Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 500}}}, revloop.ErrConflict, []string{}, false},
			{"touches a shipped lot", TransitionRequest{Kind: KindDispose, Inputs: []string{shipped.Lots[0].ID}, RDCode: "D1"},
				revloop.ErrConflict, []string{}, false},
			{"goes backwards", TransitionRequest{Kind: KindSort, Inputs: []string{sortedLot.ID}, RDCode: "R12",
				Outputs: []OutputLot{{Kg: 500}}}, revloop.ErrConflict, []string{StageCompacted, StageShredded, StageShipped, StageDisposed}, false},
			{"bad ewc", TransitionRequest{Kind: KindSort, Inputs: []string{received.ID}, RDCode: "R12",
				Outputs: []OutputLot{{Material: "PET", EWC: "1501", Kg: 1000}}}, revloop.ErrInvalid, nil, false},
			{"bad rd code", TransitionRequest{Kind: KindSort, Inputs: []string{received.ID}, RDCode: "R13",
				Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 1000}}}, revloop.ErrInvalid, nil, false},
			{"unknown lot", TransitionRequest{Kind: KindSort, Inputs: []string{"LOT-99999999"}, RDCode: "R12",
				Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 1}}}, revloop.ErrInvalid, nil, false},
			{"second input bad", TransitionRequest{Kind: KindCompact, Inputs: []string{sortedLot.ID, received.ID}, RDCode: "R12",
				Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 1500}}}, revloop.ErrConflict, []string{StageSorted, StageDisposed}, false},
		}
		tables := []string{"yard_lots", "yard_transitions", "yard_lot_links", "yard_lot_history", "custody_log", "yard_counters"}
		before := map[string]int{}
		for _, tb := range tables {
			before[tb] = mustCount(t, svc, tb)
		}
		var counter int
		_ = svc.db.QueryRow(ctx, `SELECT next FROM yard_counters WHERE name = 'lot'`).Scan(&counter)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := svc.Apply(ctx, c.req, "", "op")
				if !errors.Is(err, c.kind) {
					t.Fatalf("err = %v, want %v", err, c.kind)
				}
				var te *revloop.TransitionError
				if c.allowed != nil {
					if !errors.As(err, &te) || !slices.Equal(te.Extras()["allowed"].([]string), c.allowed) {
						t.Fatalf("err = %v, want allowed %v", err, c.allowed)
					}
				}
				var mb *MassBalanceError
				if c.mass != errors.As(err, &mb) {
					t.Fatalf("err = %v, mass balance error %v", err, c.mass)
				}
				if c.mass {
					x := mb.Extras()
					if x["inputs_kg"] != 1000.0 || x["tolerance_kg"] != 5.0 || x["difference_kg"] == 0.0 {
						t.Fatalf("extras %v", x)
					}
				}
				for _, tb := range tables {
					if n := mustCount(t, svc, tb); n != before[tb] {
						t.Errorf("%s has %d rows after a refused transition, had %d", tb, n, before[tb])
					}
				}
				var after int
				_ = svc.db.QueryRow(ctx, `SELECT next FROM yard_counters WHERE name = 'lot'`).Scan(&after)
				if after != counter {
					t.Errorf("lot counter moved from %d to %d", counter, after)
				}
			})
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	onBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		svc, _ := newServiceOn(t, open)
		ctx := context.Background()
		l := receivedLot(t, svc, 100)
		req := TransitionRequest{Kind: KindSort, Inputs: []string{l.ID}, RDCode: "R12", At: day,
			Outputs: []OutputLot{{Material: "PET", EWC: "150102", Kg: 100}}}
		first, err := svc.Apply(ctx, req, "key-1", "op")
		if err != nil {
			t.Fatal(err)
		}
		again, err := svc.Apply(ctx, req, "key-1", "op")
		if err != nil || !again.Replayed || again.Transition.ID != first.Transition.ID || again.Lots[0].ID != first.Lots[0].ID {
			t.Fatalf("retry = %+v, %v", again, err)
		}
		req.Outputs[0].Kg = 99
		if _, err := svc.Apply(ctx, req, "key-1", "op"); !errors.Is(err, revloop.ErrConflict) {
			t.Fatalf("different body under the same key: %v", err)
		}
		if n := mustCount(t, svc, "yard_transitions"); n != 2 {
			t.Fatalf("%d transitions stored, want 2 (receive, sort)", n)
		}
	})
}

func TestTicketCorrectionsAndNumbers(t *testing.T) {
	onBackends(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		svc, _ := newServiceOn(t, open)
		ctx := context.Background()
		if err := svc.PutTare(ctx, Tare{Vehicle: "truck-2", Kg: 7000}); err != nil {
			t.Fatal(err)
		}
		a, err := svc.CreateTicket(ctx, ManualTicket{Yard: "y1", Vehicle: "truck-1", GrossKg: 12000, Reason: "scale down"}, "op")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateTicket(ctx, ManualTicket{Yard: "y1", Vehicle: "truck-1", GrossKg: 1000, TareKg: ptr(2000), Reason: "x"}, "op"); !errors.Is(err, revloop.ErrInvalid) {
			t.Fatalf("tare above gross accepted: %v", err)
		}
		b, err := svc.CreateTicket(ctx, ManualTicket{Yard: "y1", Vehicle: "truck-2", GrossKg: 9000, UseStoredTare: true, Reason: "scale down"}, "op")
		if err != nil {
			t.Fatal(err)
		}
		other, err := svc.CreateTicket(ctx, ManualTicket{Yard: "y2", Vehicle: "truck-2", GrossKg: 9000, Reason: "scale down"}, "op")
		if err != nil {
			t.Fatal(err)
		}
		if a.Number != 1 || b.Number != 2 || other.Number != 1 || *b.NetKg != 2000 || b.Status != TicketComplete || a.Status != TicketOpen {
			t.Fatalf("numbers/net: %+v %+v %+v", a, b, other)
		}
		c, err := svc.CorrectTicket(ctx, a.ID, Correction{TareKg: ptr(8000), RouteID: strp("R-7"), Reason: "tare read off the display"}, "sup")
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != 2 || *c.NetKg != 4000 || c.RouteID != "R-7" || c.Status != TicketComplete {
			t.Fatalf("corrected %+v", c)
		}
		if _, err := svc.CorrectTicket(ctx, a.ID, Correction{GrossKg: ptr(1), Reason: "x", ExpectedVersion: 1}, "sup"); !errors.Is(err, revloop.ErrConflict) {
			t.Fatalf("stale version accepted: %v", err)
		}
		if _, err := svc.CorrectTicket(ctx, a.ID, Correction{GrossKg: ptr(13000)}, "sup"); !errors.Is(err, revloop.ErrInvalid) {
			t.Fatalf("correction without reason accepted: %v", err)
		}
		h, err := svc.TicketHistory(ctx, a.ID)
		if err != nil || len(h) != 2 || h[0].TareKg != nil || *h[1].TareKg != 8000 || h[1].Reason == "" {
			t.Fatalf("history %+v %v", h, err)
		}
	})
}

func strp(s string) *string { return &s }

func TestEWC(t *testing.T) {
	for code, ok := range map[string]bool{"150102": true, "160601*": true, "15010": false, "1501022": false, "15010a": false, "*150102": false, "": false} {
		if ValidEWC(code) != ok {
			t.Errorf("ValidEWC(%q) = %v", code, !ok)
		}
	}
	if NormalizeEWC("15 01 02*") != "150102*" {
		t.Error("NormalizeEWC")
	}
}

func TestOptionsRegister(t *testing.T) {
	var o Options
	set := config.NewSet("test", io.Discard)
	o.Register(set)
	t.Setenv("REVLOOP_YARD_TOLERANCE_KG", "5")
	if err := set.Parse([]string{"--yard-depart", "4s"}); err != nil {
		t.Fatal(err)
	}
	if o.Detector.Depart != 4*time.Second || o.Tolerance.Kg != 5 || o.Tolerance.Pct != 0.5 || o.LinkWindow != 2*time.Minute {
		t.Fatalf("options %+v", o)
	}
}

func TestUnmatchedWeighing(t *testing.T) {
	svc, c := newService(t)
	configure(t, svc)
	sim := yardtest.New("gate-1", "scale-1", 3)
	sim.Weigh(day.Add(time.Minute), 9000) // a truck nobody saw at the gate
	obs := NewObserver(svc, nil)
	feed(t, obs, c, sim.Records(40), 1)
	ctx := context.Background()
	ws, err := svc.Weighings(ctx, WeighingFilter{})
	if err != nil || len(ws) != 1 || ws[0].Status != WeighingUnmatched || ws[0].Ticket != "" {
		t.Fatalf("weighings %+v %v", ws, err)
	}
	if n := mustCount(t, svc, "yard_tickets"); n != 0 {
		t.Fatalf("%d tickets made from an unmatched weighing", n)
	}
}

func TestFutureTimesRefused(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	l := receivedLot(t, svc, 100)
	_, err := svc.Apply(ctx, TransitionRequest{Kind: KindDispose, Inputs: []string{l.ID}, RDCode: "D1", At: day.Add(time.Hour)}, "", "op")
	if !errors.Is(err, revloop.ErrInvalid) {
		t.Fatalf("future transition: %v", err)
	}
	if _, err := svc.CreateTicket(ctx, ManualTicket{Yard: "y1", Vehicle: "v", GrossKg: 9000, Reason: "r", At: day.Add(time.Hour)}, "op"); !errors.Is(err, revloop.ErrInvalid) {
		t.Fatalf("future ticket: %v", err)
	}
}
