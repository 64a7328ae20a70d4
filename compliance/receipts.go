package compliance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/revloop/revloop/compliance/codes"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

// Receipt is one received load as a digital waste tracking receipt, in the
// shape of the UK Receipt of Waste API: the movement, its waste items with
// List of Waste codes, physical form, containers, weight (and whether it is
// estimated) and the R/D code per line, the carrier with the vehicle
// registration and means of transport, and the receiving site and permit.
// When sorting later splits the load into grades, Revision goes up and
// Grades lists them.
type Receipt struct {
	MovementID       string         `json:"movementId"`
	Revision         int            `json:"revision"`
	ReceiverRef      string         `json:"receiverReference"`
	DateTimeReceived time.Time      `json:"dateTimeReceived"`
	Producer         ReceiptParty   `json:"producer"`
	Carrier          ReceiptCarrier `json:"carrier"`
	Receiver         ReceiptSite    `json:"receiver"`
	Waste            []ReceiptWaste `json:"waste"`
	Grades           []ReceiptWaste `json:"grades,omitempty"`
	Acceptance       struct {
		AcceptingAll bool `json:"acceptingAll"`
	} `json:"acceptance"`
}

// ReceiptParty is an organisation on a receipt.
type ReceiptParty struct {
	OrganisationName string `json:"organisationName"`
	Address          string `json:"address,omitempty"`
}

// ReceiptCarrier is who moved the waste and how.
type ReceiptCarrier struct {
	OrganisationName    string `json:"organisationName"`
	RegistrationNumber  string `json:"registrationNumber,omitempty"`
	VehicleRegistration string `json:"vehicleRegistration"`
	MeansOfTransport    string `json:"meansOfTransport"`
}

// ReceiptSite is the receiving site and its permit.
type ReceiptSite struct {
	OrganisationName    string `json:"organisationName"`
	Address             string `json:"address,omitempty"`
	AuthorisationNumber string `json:"authorisationNumber"`
}

// ReceiptWeight is a mass in tonnes, with whether it was estimated.
type ReceiptWeight struct {
	Metric     string  `json:"metric"`
	Amount     float64 `json:"amount"`
	IsEstimate bool    `json:"isEstimate"`
}

// ReceiptCode is an R/D operation applied to a line, with its weight.
type ReceiptCode struct {
	Code   string        `json:"code"`
	Weight ReceiptWeight `json:"weight"`
}

// ReceiptWaste is one waste line of a receipt.
type ReceiptWaste struct {
	EWCCodes           []string      `json:"ewcCodes"`
	WasteDescription   string        `json:"wasteDescription"`
	PhysicalForm       string        `json:"physicalForm"`
	NumberOfContainers int           `json:"numberOfContainers"`
	TypeOfContainers   string        `json:"typeOfContainers"`
	Hazardous          bool          `json:"hazardous"`
	Weight             ReceiptWeight `json:"weight"`
	Codes              []ReceiptCode `json:"disposalOrRecoveryCodes"`
}

func tonnes(kg float64, estimate bool) ReceiptWeight {
	return ReceiptWeight{Metric: "Tonnes", Amount: kg / 1000, IsEstimate: estimate}
}

// ReceiptFor builds the receipt of the load received by a receive
// transition, including the grades that later sorting split it into.
func (s *Service) ReceiptFor(ctx context.Context, transitionID string) (Receipt, error) {
	n, err := s.loadNote(ctx, transitionID)
	if err != nil {
		return Receipt{}, err
	}
	tr, err := s.yard.Transition(ctx, transitionID)
	if err != nil {
		return Receipt{}, err
	}
	tk, err := s.yard.Ticket(ctx, tr.Transition.Ticket)
	if err != nil {
		return Receipt{}, err
	}
	r := Receipt{
		MovementID: "RCV-" + transitionID, Revision: 1, ReceiverRef: tk.ID, DateTimeReceived: tr.Transition.Time,
		Producer: ReceiptParty{OrganisationName: n.Producer.Name, Address: n.Producer.Address},
		Carrier: ReceiptCarrier{OrganisationName: n.Carrier.Name, RegistrationNumber: n.Carrier.Registration,
			VehicleRegistration: n.Vehicle, MeansOfTransport: "Road"},
		Receiver: ReceiptSite{OrganisationName: n.Receiver.Name, Address: n.Receiver.Address, AuthorisationNumber: n.Receiver.Permit},
	}
	r.Acceptance.AcceptingAll = true
	// A weighed load is actual; a manual ticket without both weighings is an estimate.
	estimate := tk.Source != "" && tk.Source != "weighbridge" && (tk.GrossKg == nil || tk.TareKg == nil)
	for _, it := range n.Items {
		r.Waste = append(r.Waste, wasteLine(it.EWC, it.Description, it.Hazardous, it.Containment, it.Kg, it.RDCode, estimate))
	}
	grades, err := s.gradesOf(ctx, tr.Lots)
	if err != nil {
		return r, err
	}
	if len(grades) > 0 {
		r.Revision++
		byKey := map[string]*ReceiptWaste{}
		var keys []string
		for _, g := range grades {
			k := g.lot.EWC + "\x00" + g.rd
			if byKey[k] == nil {
				desc, haz, disp := g.lot.Material, false, g.lot.EWC
				if w, err := codes.LookupWasteCode(g.lot.EWC); err == nil {
					desc, haz, disp = w.Description, w.Hazardous, w.Display()
				}
				line := wasteLine(disp, desc, haz, containment(g.lot), 0, g.rd, false)
				byKey[k] = &line
				keys = append(keys, k)
			}
			w := byKey[k]
			w.Weight.Amount += g.lot.Kg / 1000
			w.Codes[0].Weight.Amount += g.lot.Kg / 1000
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.Grades = append(r.Grades, *byKey[k])
		}
	}
	return r, nil
}

func wasteLine(ewc, desc string, hazardous bool, cont string, kg float64, rd string, estimate bool) ReceiptWaste {
	kind, n := "Loose", 0
	if c, ok := strings.CutPrefix(cont, "bale "); ok && c != "" {
		kind, n = "Bale", 1
	} else if c, ok := strings.CutPrefix(cont, "container "); ok && c != "" {
		kind, n = "Container", 1
	}
	return ReceiptWaste{
		EWCCodes: []string{strings.ReplaceAll(strings.TrimSuffix(ewc, "*"), " ", "")}, WasteDescription: desc,
		PhysicalForm: "Solid", NumberOfContainers: n, TypeOfContainers: kind, Hazardous: hazardous,
		Weight: tonnes(kg, estimate), Codes: []ReceiptCode{{Code: rd, Weight: tonnes(kg, estimate)}},
	}
}

type grade struct {
	lot yard.Lot
	rd  string
}

// gradesOf follows the received lots through sort transitions and returns
// the lots sorting made of them.
func (s *Service) gradesOf(ctx context.Context, received []yard.Lot) ([]grade, error) {
	var out []grade
	for _, l := range received {
		rows, err := s.db.Query(ctx, `SELECT k.child, t.rd_code FROM yard_lot_links k JOIN yard_transitions t ON t.id = k.transition
			WHERE k.parent = ? AND t.kind = 'sort' ORDER BY k.child`, l.ID)
		if err != nil {
			return nil, fmt.Errorf("receipt grades: %w", err)
		}
		var ids, rds []string
		for rows.Next() {
			var id, rd string
			if err := rows.Scan(&id, &rd); err != nil {
				rows.Close()
				return nil, fmt.Errorf("receipt grades: %w", err)
			}
			ids, rds = append(ids, id), append(rds, rd)
		}
		rows.Close()
		for i, id := range ids {
			d, err := s.yard.Lot(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, grade{lot: d.Lot, rd: rds[i]})
		}
	}
	return out, nil
}

// Receipts returns the receipts of every load received in the period.
func (s *Service) Receipts(ctx context.Context, p Period, progress func(done, total int)) ([]Receipt, error) {
	var out []Receipt
	err := s.EachReceipt(ctx, p, func(r Receipt) error { out = append(out, r); return nil }, progress)
	return out, err
}

// EachReceipt calls fn with the receipt of every load received in the
// period, oldest first, building one at a time so that a long period streams.
func (s *Service) EachReceipt(ctx context.Context, p Period, fn func(Receipt) error, progress func(done, total int)) error {
	rows, err := s.db.Query(ctx, `SELECT id FROM yard_transitions WHERE kind = 'receive' AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, id`,
		store.Millis(p.From), store.Millis(p.To))
	if err != nil {
		return fmt.Errorf("receipts: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("receipts: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for i, id := range ids {
		r, err := s.ReceiptFor(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		if progress != nil {
			progress(i+1, len(ids))
		}
	}
	return nil
}
