package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/ingest"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
	"github.com/revloop/revloop/yard/yardtest"
)

// fakeTokens maps bearer tokens to roles.
type fakeTokens map[string]Role

func (f fakeTokens) Verify(_ context.Context, tok string) (Principal, error) {
	r, ok := f[tok]
	if !ok {
		return Principal{}, fmt.Errorf("token: %w", revloop.ErrUnauthorized)
	}
	return Principal{TokenID: "tok-" + tok, Role: r}, nil
}

var _ TokenVerifier = fakeTokens(nil)

type ingestRecord = ingest.Record

type yardClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *yardClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *yardClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// fakeReads serves raw reads like the time-series store does.
type fakeReads struct{ reads []revloop.RFIDRead }

func (f *fakeReads) RFIDReads(_ context.Context, dev revloop.DeviceID, from, to time.Time) ([]revloop.RFIDRead, error) {
	var out []revloop.RFIDRead
	for _, r := range f.reads {
		if r.Device == dev && !r.Time.Before(from) && r.Time.Before(to) {
			out = append(out, r)
		}
	}
	return out, nil
}

var _ RFIDReadSource = (*fakeReads)(nil)

type yardEnv struct {
	reads *fakeReads
	t     *testing.T
	db    *store.DB
	svc   *yard.Service
	obs   *yard.Observer
	clock *yardClock
	url   string
}

var yardDay = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)

func newYardEnv(t *testing.T) *yardEnv {
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
	clk := &yardClock{t: yardDay}
	reads := &fakeReads{}
	svc, err := yard.New(db, nil, yard.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(slog.New(slog.DiscardHandler), Options{}, Deps{
		Auth: fakeTokens{"yard": RoleYard, "disp": RoleDispatcher, "aud": RoleAuditor, "admin": RoleAdmin, "cust": RoleCustomer},
		Yard: YardDeps{Yard: svc, Custody: custody.Auditor{Q: db}, Reads: reads},
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &yardEnv{reads: reads, t: t, db: db, svc: svc, obs: yard.NewObserver(svc, nil), clock: clk, url: ts.URL}
}

// call sends a request and decodes the JSON answer into out (when not nil);
// it returns the status and the raw body.
func (e *yardEnv) call(token, method, path string, body any, out any, hdr ...string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.url+"/api/v1"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return res.StatusCode, raw
}

func (e *yardEnv) must(status int, token, method, path string, body, out any, hdr ...string) []byte {
	e.t.Helper()
	got, raw := e.call(token, method, path, body, out, hdr...)
	if got != status {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, got, raw, status)
	}
	return raw
}

const (
	apiTruck1 = "E28011700000020A1B2C0001"
	apiTruck2 = "E28011700000020A1B2C0002"
	apiBin    = "E2003412B802011826000C01"
)

func (e *yardEnv) configure() {
	e.must(200, "yard", "PUT", "/yard/gates/gate-1", map[string]any{"yard": "y1", "name": "main gate",
		"outside_antennas": yardtest.Outside, "inside_antennas": yardtest.Inside}, nil)
	e.must(200, "yard", "PUT", "/yard/scales/scale-1", map[string]any{"yard": "y1"}, nil)
	e.must(200, "yard", "PUT", "/yard/tags/"+apiTruck1, map[string]any{"kind": "vehicle", "ref": "truck-1"}, nil)
	e.must(200, "yard", "PUT", "/yard/tags/"+apiTruck2, map[string]any{"kind": "vehicle", "ref": "truck-2"}, nil)
	e.must(200, "yard", "PUT", "/yard/tags/"+apiBin, map[string]any{"kind": "container", "ref": "bin-7"}, nil)
	e.must(200, "yard", "PUT", "/yard/tares/truck-2", map[string]any{"kg": 7450}, nil)
}

// drive feeds the simulated gate and scale streams through the observer.
func (e *yardEnv) drive(sim *yardtest.Sim) {
	ctx := context.Background()
	for _, r := range sim.Records(40) {
		e.clock.Set(r.Received)
		if err := e.obs.Observe(ctx, []ingestRecord{r}); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.obs.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func TestYardEndToEnd(t *testing.T) {
	e := newYardEnv(t)
	e.configure()
	sim := yardtest.New("gate-1", "scale-1", 42)
	sim.Visit(yardtest.Visit{VehicleEPC: apiTruck1, Containers: []string{apiBin}, Arrive: yardDay.Add(time.Minute), GrossKg: 15230, TareKg: 8120})
	sim.Visit(yardtest.Visit{VehicleEPC: apiTruck2, Arrive: yardDay.Add(70 * time.Second), GrossKg: 11900, SkipTare: true, Stay: 4 * time.Minute})
	e.drive(sim)
	e.reads.reads = sim.Reads()

	var ps struct{ Items []yard.Passage }
	e.must(200, "disp", "GET", "/yard/passages?yard=y1", nil, &ps)
	var got []string
	for _, p := range ps.Items {
		got = append(got, p.TagRef+":"+string(p.Direction))
	}
	if want := "truck-1:in bin-7:in truck-2:in truck-2:out truck-1:out"; strings.Join(got, " ") != want {
		t.Fatalf("passages %v, want %s", got, want)
	}

	var truck yard.Passage
	e.must(200, "disp", "GET", "/yard/passages/"+ps.Items[0].ID, nil, &truck)
	if len(truck.Containers) != 1 || truck.Containers[0] != ps.Items[1].ID {
		t.Fatalf("truck passage %+v does not list its container", truck)
	}

	// The raw reads behind a passage, for audit.
	var raw struct {
		Passage yard.Passage
		Reads   []revloop.RFIDRead
	}
	e.must(200, "aud", "GET", "/yard/passages/"+ps.Items[1].ID+"/reads", nil, &raw)
	if len(raw.Reads) != raw.Passage.Reads || raw.Passage.TagRef != "bin-7" || raw.Passage.Vehicle != "truck-1" {
		t.Fatalf("passage %+v has %d raw reads", raw.Passage, len(raw.Reads))
	}
	for _, r := range raw.Reads {
		if r.EPC != raw.Passage.EPC {
			t.Fatalf("foreign read %+v", r)
		}
	}

	// Page through the passages two at a time.
	var paged []string
	for next := "/yard/passages?yard=y1&limit=2"; next != ""; {
		var page struct {
			Items      []yard.Passage
			NextCursor string `json:"next_cursor"`
			Next       string
		}
		e.must(200, "disp", "GET", next, nil, &page)
		if len(page.Items) > 2 || (page.Next == "") != (page.NextCursor == "") {
			t.Fatalf("page %+v", page)
		}
		for _, p := range page.Items {
			paged = append(paged, p.TagRef+":"+string(p.Direction))
		}
		next = strings.TrimPrefix(page.Next, "/api/v1")
	}
	if strings.Join(paged, " ") != strings.Join(got, " ") {
		t.Fatalf("paged passages %v, want %v", paged, got)
	}

	var ts struct{ Items []yard.Ticket }
	e.must(200, "aud", "GET", "/yard/tickets?yard=y1", nil, &ts)
	if len(ts.Items) != 2 {
		t.Fatalf("tickets %+v", ts.Items)
	}
	t1 := ts.Items[0]
	if t1.Vehicle != "truck-1" || t1.Status != yard.TicketComplete || math.Abs(*t1.NetKg-7110) > 10 {
		t.Fatalf("ticket 1 %+v", t1)
	}
	net := *t1.NetKg

	// Receive, sort, compact, shred, dispose, ship.
	var rec yard.TransitionResult
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "receive", "ticket": t1.ID, "customer": "cust-3",
		"pickups": []string{"PU-1", "PU-2"}, "rd_code": "R13", "station": "bay-2",
		"outputs": []map[string]any{{"material": "mixed packaging", "ewc": "150106", "kg": net, "location": "bay-2"}}}, &rec)
	lot := rec.Lots[0]
	if lot.Stage != "received" || lot.Kg != net || lot.Customer != "cust-3" || lot.Ticket != t1.ID {
		t.Fatalf("received lot %+v", lot)
	}
	pet, paper := math.Round(net*0.5), math.Round(net*0.4)
	residue := math.Round(net - pet - paper - 20)
	var sorted yard.TransitionResult
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "sort", "inputs": []string{lot.ID}, "rd_code": "R12",
		"station": "sort-line-1", "operator": "ana", "loss_kg": net - pet - paper - residue,
		"outputs": []map[string]any{{"material": "PET", "ewc": "150102", "kg": pet}, {"material": "paper", "ewc": "150101", "kg": paper},
			{"material": "residue", "ewc": "191212", "kg": residue, "residue": true}}}, &sorted)
	petLot, paperLot, resLot := sorted.Lots[0], sorted.Lots[1], sorted.Lots[2]

	compact := map[string]any{"kind": "compact", "inputs": []string{petLot.ID}, "rd_code": "R12", "station": "baler-1",
		"outputs": []map[string]any{{"kg": pet/2 - 1, "tag": "BALE-1"}, {"kg": pet/2 - 1, "tag": "BALE-2"}}, "loss_kg": 2, "ts": "2026-11-26T07:05:00Z"}
	var bales, again yard.TransitionResult
	e.must(201, "yard", "POST", "/yard/transitions", compact, &bales, "Idempotency-Key", "bale-run-1")
	code, _ := e.call("yard", "POST", "/yard/transitions", compact, &again, "Idempotency-Key", "bale-run-1")
	if code != 200 || again.Transition.ID != bales.Transition.ID || len(again.Lots) != 2 || again.Lots[0].ID != bales.Lots[0].ID {
		t.Fatalf("retry = %d %+v, want the original %s", code, again.Transition, bales.Transition.ID)
	}
	compact["loss_kg"] = 3
	if code, raw := e.call("yard", "POST", "/yard/transitions", compact, nil, "Idempotency-Key", "bale-run-1"); code != 422 || !strings.Contains(string(raw), "idempotency-key-reused") {
		t.Fatalf("same key, different body = %d %s", code, raw)
	}
	var shred yard.TransitionResult
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "shred", "inputs": []string{paperLot.ID}, "rd_code": "R12",
		"outputs": []map[string]any{{"kg": paper - 5}}, "loss_kg": 5}, &shred)
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "dispose", "inputs": []string{resLot.ID}, "rd_code": "D1"}, nil)

	var sh yard.Shipment
	e.must(201, "yard", "POST", "/yard/shipments", map[string]any{"lots": []string{bales.Lots[0].ID, bales.Lots[1].ID, shred.Lots[0].ID},
		"receiver": map[string]any{"name": "Polymer Recovery Ltd", "site": "Plant 2", "permit": "EPR/AB1234"}, "carrier": "Haul Co",
		"vehicle": "HX-12", "rd_code": "R3", "gross_kg": 8000 + pet - 2 + paper - 5, "tare_kg": 8000, "transfer_note": "TN-77"}, &sh, "Idempotency-Key", "ship-1")
	if len(sh.Lots) != 3 || sh.Lots[0].Stage != "shipped" || sh.Receiver.Permit != "EPR/AB1234" {
		t.Fatalf("shipment %+v", sh)
	}

	var detail yard.LotDetail
	e.must(200, "aud", "GET", "/yard/lots/"+bales.Lots[0].ID, nil, &detail)
	if detail.Lot.Stage != "shipped" || detail.Lot.Shipment != sh.ID || len(detail.Parents) != 1 || detail.Parents[0] != petLot.ID || len(detail.History) != 2 {
		t.Fatalf("bale detail %+v", detail)
	}
	var graph yard.LotGraph
	e.must(200, "aud", "GET", "/yard/lots/"+lot.ID+"/graph", nil, &graph)
	if len(graph.Lots) != 7 || len(graph.Edges) != 6 {
		t.Fatalf("graph of the received lot: %d lots %d edges", len(graph.Lots), len(graph.Edges))
	}
	var stock struct{ Items []yard.StockLine }
	e.must(200, "disp", "GET", "/yard/stock?yard=y1", nil, &stock)
	if len(stock.Items) != 0 {
		t.Fatalf("stock after everything shipped or disposed: %+v", stock.Items)
	}
	var bal yard.Balance
	e.must(200, "aud", "GET", "/yard/mass-balance?yard=y1&from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z", nil, &bal)
	if bal.ReceivedKg != net || math.Abs(bal.ShippedKg+bal.DisposedKg+bal.LossKg+bal.DifferenceKg-net) > 1e-6 || bal.StockDeltaKg != 0 {
		t.Fatalf("mass balance %+v (received %v)", bal, net)
	}

	var rep custody.Report
	e.must(200, "aud", "GET", "/custody/verify", nil, &rep)
	// 3 ticket versions, receive, sort, compact, shred, dispose, ship transition, shipment.
	if !rep.OK || rep.Entries != 10 {
		t.Fatalf("custody report %+v", rep)
	}
	var stream []byte
	stream = e.must(200, "admin", "GET", "/custody/verify", nil, nil, "Accept", "application/x-ndjson")
	if lines := strings.Split(strings.TrimSpace(string(stream)), "\n"); !strings.Contains(lines[len(lines)-1], `"ok":true`) {
		t.Fatalf("streamed verify %s", stream)
	}

	// One byte of one stored entry changed by hand.
	var es struct{ Items []custody.Entry }
	e.must(200, "aud", "GET", "/custody/entries?subject="+sorted.Transition.ID, nil, &es)
	if len(es.Items) != 1 {
		t.Fatalf("entries of %s: %+v", sorted.Transition.ID, es.Items)
	}
	seq := es.Items[0].Seq
	p := []byte(es.Items[0].Payload)
	i := bytes.Index(p, []byte(`"operator":"ana"`)) + len(`"operator":"a`)
	p[i] = 'x'
	if _, err := e.db.Exec(context.Background(), `UPDATE custody_log SET payload = ? WHERE seq = ?`, string(p), seq); err != nil {
		t.Fatal(err)
	}
	e.must(200, "aud", "GET", "/custody/verify", nil, &rep)
	if rep.OK || rep.FirstBad == nil || rep.FirstBad.Seq != seq {
		t.Fatalf("tampered log verified as %+v, want first bad entry %d", rep, seq)
	}
}

func TestYardBadInput(t *testing.T) {
	e := newYardEnv(t)
	var tk yard.Ticket
	e.must(201, "yard", "POST", "/yard/tickets", map[string]any{"yard": "y1", "vehicle": "truck-5", "gross_kg": 9000, "tare_kg": 8000,
		"reason": "weighbridge under calibration"}, &tk)
	var rec yard.TransitionResult
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "receive", "ticket": tk.ID, "customer": "c", "rd_code": "R13",
		"outputs": []map[string]any{{"material": "glass", "ewc": "150107", "kg": 1000}}}, &rec)
	lot := rec.Lots[0]
	var other yard.Ticket
	e.must(201, "yard", "POST", "/yard/tickets", map[string]any{"yard": "y1", "vehicle": "truck-6", "gross_kg": 8500, "tare_kg": 8000, "reason": "x"}, &other)
	var rec2, srt yard.TransitionResult
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "receive", "ticket": other.ID, "customer": "c", "rd_code": "R13",
		"outputs": []map[string]any{{"material": "glass", "ewc": "150107", "kg": 500}}}, &rec2)
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "sort", "inputs": []string{rec2.Lots[0].ID}, "rd_code": "R12",
		"outputs": []map[string]any{{"kg": 500}}}, &srt)
	e.must(201, "yard", "POST", "/yard/shipments", map[string]any{"lots": []string{srt.Lots[0].ID}, "receiver": map[string]any{"name": "G", "site": "S", "permit": "P"},
		"carrier": "C", "vehicle": "V", "rd_code": "R5"}, nil)
	shipped := srt.Lots[0].ID
	var rec3, srt3 yard.TransitionResult
	var tk3 yard.Ticket
	e.must(201, "yard", "POST", "/yard/tickets", map[string]any{"yard": "y1", "vehicle": "truck-7", "gross_kg": 8300, "tare_kg": 8000, "reason": "x"}, &tk3)
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "receive", "ticket": tk3.ID, "customer": "c", "rd_code": "D15",
		"outputs": []map[string]any{{"material": "glass", "ewc": "150107", "kg": 300}}}, &rec3)
	e.must(201, "yard", "POST", "/yard/transitions", map[string]any{"kind": "sort", "inputs": []string{rec3.Lots[0].ID}, "rd_code": "D13",
		"outputs": []map[string]any{{"kg": 300}}}, &srt3)
	sortedLot := srt3.Lots[0].ID

	counts := func() string {
		var b strings.Builder
		for _, tb := range []string{"yard_lots", "yard_transitions", "yard_lot_links", "yard_lot_history", "yard_shipments", "custody_log", "yard_tickets"} {
			var n int
			if err := e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+tb).Scan(&n); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s=%d ", tb, n)
		}
		var stage string
		for _, id := range []string{lot.ID, sortedLot} {
			var st string
			_ = e.db.QueryRow(context.Background(), `SELECT stage || consumed_by || shipment FROM yard_lots WHERE id = ?`, id).Scan(&st)
			stage += " " + st
		}
		return b.String() + stage
	}
	before := counts()
	cases := []struct {
		name, token, method, path string
		body                      any
		status                    int
		wantKeys                  []string
		want                      map[string]any
	}{
		{"creates mass", "yard", "POST", "/yard/transitions", map[string]any{"kind": "sort", "inputs": []string{lot.ID}, "rd_code": "R12",
			"outputs": []map[string]any{{"material": "glass", "ewc": "150107", "kg": 1200}}}, 400,
			[]string{"inputs_kg", "outputs_kg", "loss_kg", "difference_kg", "tolerance_kg"}, map[string]any{"inputs_kg": 1000.0, "outputs_kg": 1200.0, "tolerance_kg": 5.0}},
		{"skips sorting", "yard", "POST", "/yard/transitions", map[string]any{"kind": "shred", "inputs": []string{lot.ID}, "rd_code": "R12",
			"outputs": []map[string]any{{"kg": 1000}}}, 409, []string{"allowed"}, map[string]any{"from": "received", "to": "shredded"}},
		{"touches a shipped lot", "yard", "POST", "/yard/transitions", map[string]any{"kind": "dispose", "inputs": []string{shipped}, "rd_code": "D10"},
			409, []string{"allowed"}, map[string]any{"from": "shipped"}},
		{"ships a shipped lot", "yard", "POST", "/yard/shipments", map[string]any{"lots": []string{shipped}, "receiver": map[string]any{"name": "G", "site": "S", "permit": "P"},
			"carrier": "C", "vehicle": "V", "rd_code": "R5"}, 409, []string{"allowed"}, nil},
		{"ships a received lot", "yard", "POST", "/yard/shipments", map[string]any{"lots": []string{lot.ID}, "receiver": map[string]any{"name": "G", "site": "S", "permit": "P"},
			"carrier": "C", "vehicle": "V", "rd_code": "R5"}, 409, []string{"allowed"}, nil},
		{"shipment weight off", "yard", "POST", "/yard/shipments", map[string]any{"lots": []string{sortedLot}, "receiver": map[string]any{"name": "G", "site": "S", "permit": "P"},
			"carrier": "C", "vehicle": "V", "rd_code": "D1", "net_kg": 250}, 400, []string{"difference_kg"}, map[string]any{"inputs_kg": 300.0, "outputs_kg": 250.0}},
		{"shipment of a lot twice", "yard", "POST", "/yard/shipments", map[string]any{"lots": []string{sortedLot, sortedLot}, "receiver": map[string]any{"name": "G", "site": "S", "permit": "P"},
			"carrier": "C", "vehicle": "V", "rd_code": "D1"}, 400, nil, nil},
		{"receives a ticket twice", "yard", "POST", "/yard/transitions", map[string]any{"kind": "receive", "ticket": tk.ID, "customer": "c", "rd_code": "R13",
			"outputs": []map[string]any{{"material": "glass", "ewc": "150107", "kg": 1000}}}, 409, nil, nil},
		{"bad ewc", "yard", "POST", "/yard/transitions", map[string]any{"kind": "sort", "inputs": []string{lot.ID}, "rd_code": "R12",
			"outputs": []map[string]any{{"material": "glass", "ewc": "15-01-07", "kg": 1000}}}, 400, []string{"field"}, map[string]any{"field": "outputs[0].ewc"}},
		{"unknown field", "yard", "POST", "/yard/transitions", `{"kind":"sort","inputs":["` + lot.ID + `"],"rd_code":"R12","weight":3}`, 400, nil, nil},
		{"malformed json", "yard", "POST", "/yard/transitions", `{"kind":`, 400, nil, nil},
		{"dispatcher may not write", "disp", "POST", "/yard/transitions", map[string]any{"kind": "dispose", "inputs": []string{lot.ID}, "rd_code": "D1"}, 403, nil, nil},
		{"customer may not read", "cust", "GET", "/yard/lots", nil, 403, nil, nil},
		{"no token", "", "GET", "/yard/lots", nil, 401, nil, nil},
		{"yard may not verify custody", "yard", "GET", "/custody/verify", nil, 403, nil, nil},
		{"bad time", "aud", "GET", "/yard/transitions?from=yesterday", nil, 400, nil, nil},
		{"bad cursor", "aud", "GET", "/yard/lots?cursor=xyz", nil, 400, nil, nil},
		{"bad limit", "aud", "GET", "/yard/passages?limit=100000", nil, 400, nil, nil},
		{"unknown lot", "aud", "GET", "/yard/lots/LOT-404", nil, 404, nil, nil},
		{"correction without reason", "yard", "POST", "/yard/tickets/" + tk.ID + "/corrections", map[string]any{"gross_kg": 9100}, 400, nil, nil},
		{"correcting a received ticket", "yard", "POST", "/yard/tickets/" + tk.ID + "/corrections", map[string]any{"gross_kg": 9100, "reason": "r"}, 409, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, raw := e.call(c.token, c.method, c.path, c.body, nil)
			if code != c.status {
				t.Fatalf("status %d %s, want %d", code, raw, c.status)
			}
			var prob map[string]any
			if err := json.Unmarshal(raw, &prob); err != nil || prob["title"] == nil || prob["status"] != float64(c.status) {
				t.Fatalf("not a problem body: %s", raw)
			}
			for _, k := range c.wantKeys {
				if _, ok := prob[k]; !ok {
					t.Errorf("problem body lacks %q: %s", k, raw)
				}
			}
			for k, v := range c.want {
				if prob[k] != v {
					t.Errorf("problem %s = %v, want %v (%s)", k, prob[k], v, raw)
				}
			}
			if after := counts(); after != before {
				t.Errorf("state changed by a refused request:\n%s\n%s", before, after)
			}
		})
	}
	var hist struct {
		Ticket  yard.Ticket
		History []yard.Ticket
	}
	e.must(200, "aud", "GET", "/yard/tickets/"+other.ID, nil, &hist)
	if len(hist.History) != 1 || hist.Ticket.ID != other.ID {
		t.Fatalf("ticket history %+v", hist)
	}
}

func TestYardTicketCorrectionAPI(t *testing.T) {
	e := newYardEnv(t)
	var tk, fixed yard.Ticket
	e.must(201, "yard", "POST", "/yard/tickets", map[string]any{"yard": "y1", "vehicle": "truck-5", "gross_kg": 12000, "reason": "scale down"}, &tk)
	e.must(201, "yard", "POST", "/yard/tickets/"+tk.ID+"/corrections", map[string]any{"tare_kg": 7000, "route_id": "R-12", "reason": "tare from papers", "expected_version": 1}, &fixed)
	if fixed.Version != 2 || *fixed.NetKg != 5000 || fixed.Status != "complete" {
		t.Fatalf("corrected %+v", fixed)
	}
	code, raw := e.call("yard", "POST", "/yard/tickets/"+tk.ID+"/corrections", map[string]any{"tare_kg": 7100, "reason": "again", "expected_version": 1}, nil)
	if code != 409 {
		t.Fatalf("stale correction = %d %s", code, raw)
	}
	var hist struct{ History []yard.Ticket }
	e.must(200, "aud", "GET", "/yard/tickets/"+tk.ID, nil, &hist)
	if len(hist.History) != 2 || hist.History[0].TareKg != nil || hist.History[1].Reason != "tare from papers" {
		t.Fatalf("history %+v", hist.History)
	}
	var rep custody.Report
	e.must(200, "aud", "GET", "/custody/verify", nil, &rep)
	if !rep.OK || rep.Entries != 2 {
		t.Fatalf("custody %+v", rep)
	}
}

// TestYardOpenAPIFragment checks that every yard and custody route is in
// openapi/yard.json and every path there has a route.
func TestYardOpenAPIFragment(t *testing.T) {
	e := newYardEnv(t)
	_ = e
	frags, err := OpenAPIFragments()
	if err != nil {
		t.Fatal(err)
	}
	frag, ok := frags["yard"]
	if !ok {
		t.Fatal("no yard fragment")
	}
	if _, err := OpenAPIDocument(); err != nil {
		t.Fatalf("the yard fragment does not merge: %v", err)
	}
	db := e.db
	svc := e.svc
	srv := New(slog.New(slog.DiscardHandler), Options{}, Deps{Auth: fakeTokens{}, Yard: YardDeps{Yard: svc, Custody: custody.Auditor{Q: db}}})
	routes := map[string]bool{}
	for _, r := range srv.Engine().Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/yard") && !strings.HasPrefix(r.Path, "/api/v1/custody") {
			continue
		}
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
			}
		}
		key := strings.ToLower(r.Method) + " " + p
		routes[key] = true
		var ops map[string]json.RawMessage
		if err := json.Unmarshal(frag.Paths[p], &ops); err != nil || ops[strings.ToLower(r.Method)] == nil {
			t.Errorf("route %s is not documented in openapi/yard.json", key)
		}
	}
	for p, raw := range frag.Paths {
		var ops map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ops); err != nil {
			t.Fatal(err)
		}
		for m := range ops {
			if !routes[m+" "+p] {
				t.Errorf("documented %s %s has no route", m, p)
			}
		}
	}
}
