package yard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/store"
)

// Receiver is the site a shipment goes to and the permit it operates under.
type Receiver struct {
	Name   string `json:"name"`
	Site   string `json:"site"`
	Permit string `json:"permit"`
}

// ShipmentRequest asks to ship lots out of the yard. When NetKg (or GrossKg
// and TareKg) is given, it must match the lots' weight within the tolerance.
type ShipmentRequest struct {
	Lots         []string  `json:"lots"`
	Receiver     Receiver  `json:"receiver"`
	Carrier      string    `json:"carrier"`
	Vehicle      string    `json:"vehicle"`
	RDCode       string    `json:"rd_code"`
	GrossKg      *float64  `json:"gross_kg,omitempty"`
	TareKg       *float64  `json:"tare_kg,omitempty"`
	NetKg        *float64  `json:"net_kg,omitempty"`
	TransferNote string    `json:"transfer_note,omitempty"`
	Operator     string    `json:"operator,omitempty"`
	Station      string    `json:"station,omitempty"`
	At           time.Time `json:"ts,omitzero"`
}

// Shipment is an outbound load, the record compliance exports read.
type Shipment struct {
	ID           string    `json:"id"`
	Yard         string    `json:"yard"`
	Time         time.Time `json:"ts"`
	Lots         []Lot     `json:"lots"`
	Receiver     Receiver  `json:"receiver"`
	Carrier      string    `json:"carrier"`
	Vehicle      string    `json:"vehicle"`
	RDCode       string    `json:"rd_code"`
	Kg           float64   `json:"kg"`
	GrossKg      *float64  `json:"gross_kg,omitempty"`
	TareKg       *float64  `json:"tare_kg,omitempty"`
	NetKg        *float64  `json:"net_kg,omitempty"`
	TransferNote string    `json:"transfer_note,omitempty"`
	Operator     string    `json:"operator"`
	Transition   string    `json:"transition"`
	Replayed     bool      `json:"-"`
}

func (s *Service) validateShipment(r *ShipmentRequest, actor string) error {
	if len(r.Lots) == 0 || len(r.Lots) > 1000 {
		return revloop.Invalid("lots", "between 1 and 1000 lots")
	}
	seen := map[string]bool{}
	for _, id := range r.Lots {
		if seen[id] {
			return revloop.Invalid("lots", "lot %q listed twice", id)
		}
		seen[id] = true
	}
	if r.Operator == "" {
		r.Operator = actor
	}
	r.RDCode = strings.ToUpper(strings.TrimSpace(r.RDCode))
	if err := checkRD(KindShip, r.RDCode); err != nil {
		return err
	}
	for _, c := range []struct {
		f, v string
		req  bool
	}{{"receiver.name", r.Receiver.Name, true}, {"receiver.site", r.Receiver.Site, true}, {"receiver.permit", r.Receiver.Permit, true},
		{"carrier", r.Carrier, true}, {"vehicle", r.Vehicle, true}, {"operator", r.Operator, true},
		{"transfer_note", r.TransferNote, false}, {"station", r.Station, false}} {
		if err := checkText(c.f, c.v, c.req); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		f string
		v *float64
	}{{"gross_kg", r.GrossKg}, {"tare_kg", r.TareKg}, {"net_kg", r.NetKg}} {
		if k.v != nil {
			if err := checkKg(k.f, *k.v); err != nil {
				return err
			}
		}
	}
	if r.GrossKg != nil && r.TareKg != nil {
		net := round3(*r.GrossKg - *r.TareKg)
		if r.NetKg != nil && round3(*r.NetKg) != net {
			return revloop.Invalid("net_kg", "net %.3f kg is not gross minus tare (%.3f kg)", *r.NetKg, net)
		}
		if net <= 0 {
			return revloop.Invalid("tare_kg", "tare exceeds gross")
		}
		r.NetKg = &net
	}
	return nil
}

// Ship moves lots to shipped and records the shipment, the ship transition
// and their custody entries in one transaction. Idempotency works as for
// Apply.
func (s *Service) Ship(ctx context.Context, r ShipmentRequest, idemKey, actor string) (Shipment, error) {
	if err := s.validateShipment(&r, actor); err != nil {
		return Shipment{}, fmt.Errorf("ship: %w", err)
	}
	if err := s.checkTime(&r.At); err != nil {
		return Shipment{}, fmt.Errorf("ship: %w", err)
	}
	hash := requestHash(r)
	var sh Shipment
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		sh = Shipment{}
		if done, err := replay(ctx, tx, "yard_shipments", idemKey, hash, &sh); done || err != nil {
			return err
		}
		n, err := nextNumber(ctx, tx, "shipment")
		if err != nil {
			return err
		}
		id := fmt.Sprintf("SH-%08d", n)
		tr, lots, err := s.apply(ctx, tx, TransitionRequest{Kind: KindShip, Inputs: r.Lots, RDCode: r.RDCode,
			Station: r.Station, Operator: r.Operator, At: r.At, Note: "shipment " + id}, id)
		if err != nil {
			return err
		}
		if r.NetKg != nil {
			if err := s.checkBalance("ship", tr.KgIn, *r.NetKg, 0); err != nil {
				return err
			}
		}
		if err := s.recordTransition(ctx, tx, TransitionResult{Transition: tr, Lots: lots}, "", requestHash(tr)); err != nil {
			return err
		}
		sh = Shipment{ID: id, Yard: tr.Yard, Time: r.At, Lots: lots, Receiver: r.Receiver, Carrier: r.Carrier,
			Vehicle: r.Vehicle, RDCode: r.RDCode, Kg: tr.KgIn, GrossKg: r.GrossKg, TareKg: r.TareKg, NetKg: r.NetKg,
			TransferNote: r.TransferNote, Operator: r.Operator, Transition: tr.ID}
		body, err := json.Marshal(sh)
		if err != nil {
			return err
		}
		var key any
		if idemKey != "" {
			key = idemKey
		}
		if _, err := tx.Exec(ctx, `INSERT INTO yard_shipments (id, yard, ts_ms, idem_key, request_hash, transition, body, kg, rd_code, created_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sh.ID, sh.Yard, store.Millis(sh.Time), key, hash, tr.ID, string(body),
			sh.Kg, sh.RDCode, store.Millis(s.opts.Now())); err != nil {
			if store.IsUniqueViolation(err) && idemKey != "" {
				return fmt.Errorf("Idempotency-Key %q is being used by a concurrent request: %w", idemKey, revloop.ErrConflict)
			}
			return err
		}
		_, err = s.custody.Append(ctx, tx, custody.Record{Kind: "shipment", Subject: sh.ID, Payload: sh})
		return err
	})
	if err != nil {
		return Shipment{}, fmt.Errorf("ship: %w", err)
	}
	return sh, nil
}

// ShipmentFilter selects shipments; zero fields match all.
type ShipmentFilter struct {
	Yard     string
	From, To time.Time
	Limit    int
	After    string // a Shipment.Cursor
}

// Shipment returns one shipment.
func (s *Service) Shipment(ctx context.Context, id string) (Shipment, error) {
	var body string
	err := s.db.QueryRow(ctx, `SELECT body FROM yard_shipments WHERE id = ?`, id).Scan(&body)
	if isNoRows(err) {
		return Shipment{}, fmt.Errorf("shipment %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Shipment{}, fmt.Errorf("shipment %q: %w", id, err)
	}
	var sh Shipment
	if err := json.Unmarshal([]byte(body), &sh); err != nil {
		return sh, fmt.Errorf("shipment %q: %w", id, err)
	}
	return sh, nil
}

// Shipments lists shipments with from <= ts < to, oldest first.
func (s *Service) Shipments(ctx context.Context, f ShipmentFilter) ([]Shipment, error) {
	w := store.Where{Q: `SELECT body FROM yard_shipments WHERE 1 = 1`}
	w.Eq("yard", f.Yard)
	w.Span("ts_ms", f.From, f.To)
	if err := w.AfterTime(f.After, "ts_ms", "id"); err != nil {
		return nil, err
	}
	return queryJSON[Shipment](ctx, s.db, "shipments", w.Q+` ORDER BY ts_ms, id LIMIT ?`, append(w.Args, limit(f.Limit, 100, 1000))...)
}
