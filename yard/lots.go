package yard

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/store"
)

// Lot stages.
const (
	StageReceived  = "received"
	StageSorted    = "sorted"
	StageCompacted = "compacted"
	StageShredded  = "shredded"
	StageShipped   = "shipped"
	StageDisposed  = "disposed"
)

// nextStages is the stage graph (see the package doc).
var nextStages = map[string][]string{
	StageReceived:  {StageSorted, StageDisposed},
	StageSorted:    {StageCompacted, StageShredded, StageShipped, StageDisposed},
	StageCompacted: {StageShredded, StageShipped, StageDisposed},
	StageShredded:  {StageShipped, StageDisposed},
	StageShipped:   {},
	StageDisposed:  {},
}

// AllowedNext returns the stages a lot at stage may move to.
func AllowedNext(stage string) []string { return slices.Clone(nextStages[stage]) }

// Transition kinds.
const (
	KindReceive = "receive"
	KindSort    = "sort"
	KindCompact = "compact"
	KindShred   = "shred"
	KindDispose = "dispose"
	KindShip    = "ship"
	// KindStore moves lots to another location in the yard (storage,
	// R13/D15); their stage stays.
	KindStore = "store"
)

var kindStage = map[string]string{
	KindReceive: StageReceived, KindSort: StageSorted, KindCompact: StageCompacted,
	KindShred: StageShredded, KindDispose: StageDisposed, KindShip: StageShipped,
}

var (
	rCode = regexp.MustCompile(`^R(1[0-3]|[1-9])$`)
	dCode = regexp.MustCompile(`^D(1[0-5]|[1-9])$`)
)

// checkRD checks the recovery/disposal code a transition kind may carry:
// reception is storage (R13 or D15), sorting, compacting and shredding are
// preliminary operations (R12 or D13), disposal takes a D code and shipping
// any R or D code.
func checkRD(kind, code string) error {
	ok := false
	switch kind {
	case KindReceive, KindStore:
		ok = code == "R13" || code == "D15"
	case KindSort, KindCompact, KindShred:
		ok = code == "R12" || code == "D13"
	case KindDispose:
		ok = dCode.MatchString(code)
	case KindShip:
		ok = rCode.MatchString(code) || dCode.MatchString(code)
	}
	if !ok {
		want := map[string]string{KindReceive: "R13 or D15", KindStore: "R13 or D15", KindSort: "R12 or D13", KindCompact: "R12 or D13",
			KindShred: "R12 or D13", KindDispose: "D1..D15", KindShip: "R1..R13 or D1..D15"}[kind]
		return revloop.Invalid("rd_code", "%s needs %s, got %q", kind, want, code)
	}
	return nil
}

// Lot is an amount of one material in the yard.
type Lot struct {
	ID         string    `json:"id"`
	Yard       string    `json:"yard"`
	Material   string    `json:"material"`
	EWC        string    `json:"ewc"`
	Stage      string    `json:"stage"`
	Kg         float64   `json:"kg"`
	Residue    bool      `json:"residue"`
	ConsumedBy string    `json:"consumed_by,omitempty"`
	Tag        string    `json:"tag,omitempty"`
	Location   string    `json:"location,omitempty"`
	Customer   string    `json:"customer,omitempty"`
	Ticket     string    `json:"ticket,omitempty"`
	Pickups    []string  `json:"pickups"`
	Shipment   string    `json:"shipment,omitempty"`
	CreatedBy  string    `json:"created_by"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// OutputLot describes a lot a transition creates. Material and EWC default
// to the inputs' when they all share one.
type OutputLot struct {
	Material string  `json:"material,omitempty"`
	EWC      string  `json:"ewc,omitempty"`
	Kg       float64 `json:"kg"`
	Tag      string  `json:"tag,omitempty"`
	Location string  `json:"location,omitempty"`
	Residue  bool    `json:"residue,omitempty"`
}

// TransitionRequest asks for a lot transition.
//
// receive: Ticket (complete), Customer, Pickups and Outputs (one or more
// lots, with EWC codes) — the ticket's net weight is the input.
// sort, compact, shred: Inputs (lot ids, consumed whole) and Outputs.
// dispose: Inputs only; the lots move to disposed.
// store: Inputs and Location; the lots move there and keep their stage.
type TransitionRequest struct {
	Kind     string      `json:"kind"`
	Ticket   string      `json:"ticket,omitempty"`
	Customer string      `json:"customer,omitempty"`
	Pickups  []string    `json:"pickups,omitempty"`
	Inputs   []string    `json:"inputs,omitempty"`
	Outputs  []OutputLot `json:"outputs,omitempty"`
	LossKg   float64     `json:"loss_kg,omitempty"`
	RDCode   string      `json:"rd_code"`
	Station  string      `json:"station,omitempty"`
	Operator string      `json:"operator,omitempty"`
	// Location is where store moves its input lots.
	Location string    `json:"location,omitempty"`
	At       time.Time `json:"ts,omitzero"`
	Note     string    `json:"note,omitempty"`
}

// TransitionInput is one input lot as it was when consumed.
type TransitionInput struct {
	Lot   string  `json:"lot"`
	Stage string  `json:"stage"`
	Kg    float64 `json:"kg"`
}

// Transition is a recorded lot transition.
type Transition struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Yard     string            `json:"yard"`
	Time     time.Time         `json:"ts"`
	ToStage  string            `json:"to_stage"`
	Ticket   string            `json:"ticket,omitempty"`
	Inputs   []TransitionInput `json:"inputs"`
	Outputs  []string          `json:"outputs"`
	KgIn     float64           `json:"kg_in"`
	KgOut    float64           `json:"kg_out"`
	LossKg   float64           `json:"loss_kg"`
	RDCode   string            `json:"rd_code"`
	Station  string            `json:"station,omitempty"`
	Operator string            `json:"operator"`
	Note     string            `json:"note,omitempty"`
	Shipment string            `json:"shipment,omitempty"`
}

// TransitionResult is what a transition did: the record and the lots it
// created (or, for disposal, moved).
type TransitionResult struct {
	Transition Transition `json:"transition"`
	Lots       []Lot      `json:"lots"`
	// Replayed is true when an earlier request with the same idempotency
	// key is answered again.
	Replayed bool `json:"-"`
}

const lotCols = `id, yard, material, ewc, stage, kg, residue, consumed_by, tag, location, customer, ticket, pickups,
	shipment, created_by, created_ms, updated_ms`

func scanLot(sc interface{ Scan(...any) error }) (Lot, error) {
	var l Lot
	var p string
	var c, u int64
	if err := sc.Scan(&l.ID, &l.Yard, &l.Material, &l.EWC, &l.Stage, &l.Kg, &l.Residue, &l.ConsumedBy, &l.Tag,
		&l.Location, &l.Customer, &l.Ticket, &p, &l.Shipment, &l.CreatedBy, &c, &u); err != nil {
		return l, err
	}
	l.Created, l.Updated = store.FromMillis(c), store.FromMillis(u)
	if err := json.Unmarshal([]byte(p), &l.Pickups); err != nil {
		return l, fmt.Errorf("lot %s pickups: %w", l.ID, err)
	}
	return l, nil
}

func lotTx(ctx context.Context, q store.Querier, id string) (Lot, error) {
	l, err := scanLot(q.QueryRow(ctx, `SELECT `+lotCols+` FROM yard_lots WHERE id = ?`, id))
	if isNoRows(err) {
		return l, fmt.Errorf("lot %q: %w", id, store.ErrNotFound)
	}
	return l, err
}

func (s *Service) validateTransition(r *TransitionRequest, actor string) error {
	if _, ok := kindStage[r.Kind]; (!ok && r.Kind != KindStore) || r.Kind == KindShip {
		return revloop.Invalid("kind", "want receive, sort, compact, shred, dispose or store, got %q (ship through a shipment)", r.Kind)
	}
	r.RDCode = strings.ToUpper(strings.TrimSpace(r.RDCode))
	if err := checkRD(r.Kind, r.RDCode); err != nil {
		return err
	}
	if r.Operator == "" {
		r.Operator = actor
	}
	for _, c := range []struct{ f, v string }{{"operator", r.Operator}, {"station", r.Station}, {"note", r.Note},
		{"customer", r.Customer}, {"ticket", r.Ticket}, {"location", r.Location}} {
		if err := checkText(c.f, c.v, c.f == "operator"); err != nil {
			return err
		}
	}
	if r.LossKg < 0 || r.LossKg != r.LossKg {
		return revloop.Invalid("loss_kg", "must not be negative")
	}
	switch r.Kind {
	case KindReceive:
		if r.Ticket == "" {
			return revloop.Invalid("ticket", "required to receive a load")
		}
		if r.Customer == "" {
			return revloop.Invalid("customer", "required to receive a load")
		}
		if len(r.Inputs) > 0 {
			return revloop.Invalid("inputs", "a reception has no input lots; its input is the ticket")
		}
	default:
		if len(r.Inputs) == 0 {
			return revloop.Invalid("inputs", "at least one input lot")
		}
		if r.Ticket != "" || r.Customer != "" || len(r.Pickups) > 0 {
			return revloop.Invalid("ticket", "ticket, customer and pickups belong to a reception")
		}
	}
	seen := map[string]bool{}
	for _, id := range r.Inputs {
		if seen[id] {
			return revloop.Invalid("inputs", "lot %q listed twice", id)
		}
		seen[id] = true
	}
	if (r.Kind == KindStore) != (r.Location != "") {
		return revloop.Invalid("location", "store needs the new location; other kinds set it per output")
	}
	if r.Kind == KindDispose || r.Kind == KindStore {
		if len(r.Outputs) > 0 {
			return revloop.Invalid("outputs", "%s moves its inputs; it creates no lots", r.Kind)
		}
		if r.LossKg != 0 {
			return revloop.Invalid("loss_kg", "%s records no loss", r.Kind)
		}
		return nil
	}
	if len(r.Outputs) == 0 {
		return revloop.Invalid("outputs", "at least one output lot")
	}
	if len(r.Outputs) > 1000 || len(r.Inputs) > 1000 || len(r.Pickups) > 1000 {
		return revloop.Invalid("outputs", "at most 1000 inputs, outputs and pickups")
	}
	for i := range r.Outputs {
		o := &r.Outputs[i]
		f := fmt.Sprintf("outputs[%d].", i)
		if err := checkKg(f+"kg", o.Kg); err != nil {
			return err
		}
		o.EWC = NormalizeEWC(o.EWC)
		if o.EWC != "" && !ValidEWC(o.EWC) {
			return revloop.Invalid(f+"ewc", "want six digits with an optional trailing * (hazardous), got %q", o.EWC)
		}
		for _, c := range []struct{ f, v string }{{"material", o.Material}, {"tag", o.Tag}, {"location", o.Location}} {
			if err := checkText(f+c.f, c.v, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Apply performs a lot transition: it checks the stage rules and the mass
// balance, consumes the inputs, creates the outputs, links them in the lot
// graph, records the transition with weights in and out, and appends it to
// the custody log — all in one transaction, so a refused transition stores
// nothing. With a non-empty idemKey a retry of the same request returns the
// original result, and a different request under the same key is a
// conflict.
func (s *Service) Apply(ctx context.Context, r TransitionRequest, idemKey, actor string) (TransitionResult, error) {
	if err := s.validateTransition(&r, actor); err != nil {
		return TransitionResult{}, fmt.Errorf("transition: %w", err)
	}
	if err := s.checkTime(&r.At); err != nil {
		return TransitionResult{}, fmt.Errorf("transition: %w", err)
	}
	hash := requestHash(r)
	var res TransitionResult
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		res = TransitionResult{}
		if done, err := replay(ctx, tx, "yard_transitions", idemKey, hash, &res); done || err != nil {
			return err
		}
		tr, lots, err := s.apply(ctx, tx, r, "")
		if err != nil {
			return err
		}
		res = TransitionResult{Transition: tr, Lots: lots}
		return s.recordTransition(ctx, tx, res, idemKey, hash)
	})
	if err != nil {
		return TransitionResult{}, fmt.Errorf("transition: %w", err)
	}
	return res, nil
}

// ErrIdempotencyKeyReused refuses a request whose idempotency key was used
// before for a different request. It is an ErrConflict.
var ErrIdempotencyKeyReused = fmt.Errorf("idempotency key reused with a different request: %w", revloop.ErrConflict)

// MaxIdempotencyKeyLen bounds an idempotency key.
const MaxIdempotencyKeyLen = 255

// replay answers a request whose idempotency key was seen before.
func replay(ctx context.Context, tx *store.Tx, table, key, hash string, into any) (bool, error) {
	if key == "" {
		return false, nil
	}
	if len(key) > MaxIdempotencyKeyLen || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return false, revloop.Invalid("Idempotency-Key", "at most %d printable ASCII characters", MaxIdempotencyKeyLen)
	}
	var h, result string
	col := "result"
	if table == "yard_shipments" {
		col = "body"
	}
	err := tx.QueryRow(ctx, `SELECT request_hash, `+col+` FROM `+table+` WHERE idem_key = ?`, key).Scan(&h, &result)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if h != hash {
		return true, fmt.Errorf("Idempotency-Key %q: %w", key, ErrIdempotencyKeyReused)
	}
	if err := json.Unmarshal([]byte(result), into); err != nil {
		return true, err
	}
	switch v := into.(type) {
	case *TransitionResult:
		v.Replayed = true
	case *Shipment:
		v.Replayed = true
	}
	return true, nil
}

// apply does the work of a transition in tx; shipment is set for KindShip.
func (s *Service) apply(ctx context.Context, tx *store.Tx, r TransitionRequest, shipment string) (Transition, []Lot, error) {
	to := kindStage[r.Kind]
	tr := Transition{Kind: r.Kind, Time: r.At, ToStage: to, Ticket: r.Ticket, Inputs: []TransitionInput{}, Outputs: []string{},
		LossKg: r.LossKg, RDCode: r.RDCode, Station: r.Station, Operator: r.Operator, Note: r.Note, Shipment: shipment}
	var inputs []Lot
	if r.Kind == KindReceive {
		t, err := ticketTx(ctx, tx, r.Ticket)
		if err != nil {
			return tr, nil, revloop.Invalid("ticket", "%v", err)
		}
		if t.Status != TicketComplete || t.NetKg == nil {
			return tr, nil, &revloop.TransitionError{Entity: "ticket " + t.ID, From: t.Status, To: "received",
				Allowed: map[bool][]string{true: {"received"}}[t.Status == TicketComplete]}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM yard_lots WHERE ticket = ?`, t.ID).Scan(&n); err != nil {
			return tr, nil, err
		}
		if n > 0 {
			return tr, nil, fmt.Errorf("ticket %s was already received: %w", t.ID, revloop.ErrConflict)
		}
		tr.Yard, tr.KgIn = t.Yard, *t.NetKg
	} else {
		for _, id := range r.Inputs {
			l, err := lotTx(ctx, tx, id)
			if err != nil {
				return tr, nil, revloop.Invalid("inputs", "%v", err)
			}
			if l.ConsumedBy != "" {
				return tr, nil, &revloop.TransitionError{Entity: "lot " + l.ID, From: l.Stage + " (consumed by " + l.ConsumedBy + ")", To: to}
			}
			if r.Kind == KindStore {
				if len(nextStages[l.Stage]) == 0 {
					return tr, nil, &revloop.TransitionError{Entity: "lot " + l.ID, From: l.Stage, To: "stored"}
				}
			} else if !slices.Contains(nextStages[l.Stage], to) {
				return tr, nil, &revloop.TransitionError{Entity: "lot " + l.ID, From: l.Stage, To: to, Allowed: AllowedNext(l.Stage)}
			}
			if tr.Yard == "" {
				tr.Yard = l.Yard
			} else if l.Yard != tr.Yard {
				return tr, nil, revloop.Invalid("inputs", "lots of yards %s and %s cannot be processed together", tr.Yard, l.Yard)
			}
			inputs = append(inputs, l)
			tr.Inputs = append(tr.Inputs, TransitionInput{Lot: l.ID, Stage: l.Stage, Kg: l.Kg})
			tr.KgIn += l.Kg
		}
	}
	if r.Kind == KindDispose || r.Kind == KindShip || r.Kind == KindStore {
		tr.KgOut = tr.KgIn
	}
	for _, o := range r.Outputs {
		tr.KgOut += o.Kg
	}
	tr.KgIn, tr.KgOut = round3(tr.KgIn), round3(tr.KgOut)
	if err := s.checkBalance(r.Kind, tr.KgIn, tr.KgOut, tr.LossKg); err != nil {
		return tr, nil, err
	}
	n, err := nextNumber(ctx, tx, "transition")
	if err != nil {
		return tr, nil, err
	}
	tr.ID = fmt.Sprintf("TR-%08d", n)
	now := store.Millis(s.opts.Now())
	ts := store.Millis(tr.Time)
	var lots []Lot
	// Inherit material and code when the inputs share them.
	var material, ewc string
	for i, l := range inputs {
		if i == 0 {
			material, ewc = l.Material, l.EWC
		} else if l.Material != material || l.EWC != ewc {
			material, ewc = "", ""
		}
	}
	for i, o := range r.Outputs {
		if o.Material == "" {
			o.Material = material
		}
		if o.EWC == "" {
			o.EWC = ewc
		}
		if o.Material == "" || o.EWC == "" {
			return tr, nil, revloop.Invalid(fmt.Sprintf("outputs[%d]", i), "material and ewc are required (the inputs do not share one)")
		}
		n, err := nextNumber(ctx, tx, "lot")
		if err != nil {
			return tr, nil, err
		}
		l := Lot{ID: fmt.Sprintf("LOT-%08d", n), Yard: tr.Yard, Material: o.Material, EWC: o.EWC, Stage: to, Kg: o.Kg,
			Residue: o.Residue, Tag: o.Tag, Location: o.Location, Customer: r.Customer, Ticket: r.Ticket,
			Pickups: r.Pickups, CreatedBy: r.Operator, Created: store.FromMillis(now), Updated: store.FromMillis(now)}
		if l.Pickups == nil {
			l.Pickups = []string{}
		}
		if l.Customer == "" && len(inputs) > 0 {
			l.Customer = commonCustomer(inputs)
		}
		pk, _ := json.Marshal(l.Pickups)
		if _, err := tx.Exec(ctx, `INSERT INTO yard_lots (`+lotCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, '', ?, ?, ?)`,
			l.ID, l.Yard, l.Material, l.EWC, l.Stage, l.Kg, l.Residue, l.Tag, l.Location, l.Customer, l.Ticket, string(pk),
			l.CreatedBy, now, now); err != nil {
			return tr, nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO yard_lot_history (lot, transition, role, from_stage, to_stage, ts_ms) VALUES (?, ?, 'output', '', ?, ?)`,
			l.ID, tr.ID, to, ts); err != nil {
			return tr, nil, err
		}
		for _, in := range inputs {
			if _, err := tx.Exec(ctx, `INSERT INTO yard_lot_links (parent, child, transition) VALUES (?, ?, ?)`, in.ID, l.ID, tr.ID); err != nil {
				return tr, nil, err
			}
		}
		tr.Outputs = append(tr.Outputs, l.ID)
		lots = append(lots, l)
	}
	for _, in := range inputs {
		consumed := tr.ID
		if r.Kind == KindDispose || r.Kind == KindShip || r.Kind == KindStore {
			consumed = "" // the lot itself moves on
		}
		to, location := to, in.Location
		if r.Kind == KindStore {
			to, location = in.Stage, r.Location
		}
		if _, err := tx.Exec(ctx, `UPDATE yard_lots SET stage = ?, consumed_by = ?, shipment = ?, location = ?, updated_ms = ? WHERE id = ?`,
			to, consumed, shipment, location, now, in.ID); err != nil {
			return tr, nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO yard_lot_history (lot, transition, role, from_stage, to_stage, ts_ms) VALUES (?, ?, 'input', ?, ?, ?)`,
			in.ID, tr.ID, in.Stage, to, ts); err != nil {
			return tr, nil, err
		}
		if consumed == "" {
			in.Stage, in.Shipment, in.Location, in.Updated = to, shipment, location, store.FromMillis(now)
			lots = append(lots, in)
		}
	}
	if lots == nil {
		lots = []Lot{}
	}
	return tr, lots, nil
}

func commonCustomer(ls []Lot) string {
	c := ls[0].Customer
	for _, l := range ls[1:] {
		if l.Customer != c {
			return ""
		}
	}
	return c
}

// recordTransition stores the transition row and appends it to the custody
// log, in tx.
func (s *Service) recordTransition(ctx context.Context, tx *store.Tx, res TransitionResult, idemKey, hash string) error {
	tr := res.Transition
	body, err := json.Marshal(res)
	if err != nil {
		return err
	}
	var key any
	if idemKey != "" {
		key = idemKey
	}
	if _, err := tx.Exec(ctx, `INSERT INTO yard_transitions (id, kind, yard, ts_ms, idem_key, request_hash, to_stage, kg_in, kg_out,
		loss_kg, rd_code, station, operator, result, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tr.ID, tr.Kind, tr.Yard, store.Millis(tr.Time), key, hash, tr.ToStage, tr.KgIn, tr.KgOut, tr.LossKg, tr.RDCode,
		tr.Station, tr.Operator, string(body), store.Millis(s.opts.Now())); err != nil {
		if store.IsUniqueViolation(err) && idemKey != "" {
			return fmt.Errorf("Idempotency-Key %q is being used by a concurrent request: %w", idemKey, revloop.ErrConflict)
		}
		return err
	}
	_, err = s.custody.Append(ctx, tx, custody.Record{Kind: "lot." + tr.Kind, Subject: tr.ID, Payload: res})
	return err
}
