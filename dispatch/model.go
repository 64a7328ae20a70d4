package dispatch

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// Scope limits what a caller sees: CustomerID "" sees everything, any other
// value only that customer's objects.
type Scope struct {
	CustomerID string
}

// All is the unrestricted scope.
var All = Scope{}

func (s Scope) restricted() bool { return s.CustomerID != "" }

// Page asks for at most Limit items whose id sorts after After.
type Page struct {
	Limit int
	After string
}

func (p Page) limit() int {
	if p.Limit <= 0 || p.Limit > 1000 {
		return 50
	}
	return p.Limit
}

// Customer is who the operator serves.
type Customer struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Kind    string    `json:"kind,omitempty"` // municipality, retailer, producer, ...
	Email   string    `json:"email,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Site kinds.
const (
	SiteDepot        = "depot"
	SiteYard         = "yard"
	SiteDropPoint    = "drop_point"
	SiteCustomerSite = "customer_site"
)

// SiteKinds lists the valid site kinds.
var SiteKinds = []string{SiteDepot, SiteYard, SiteDropPoint, SiteCustomerSite}

// Site is a place with a geofence.
type Site struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	CustomerID string          `json:"customer_id,omitempty"`
	Address    string          `json:"address,omitempty"`
	Location   [2]float64      `json:"location"` // [lon, lat]; the fence's centre
	Geofence   json.RawMessage `json:"geofence"` // GeoJSON Feature: Polygon, or Point with properties.radius_m
	Created    time.Time       `json:"created"`
	Updated    time.Time       `json:"updated"`
}

// Fuel types of vehicles.
var FuelTypes = []string{"diesel", "hvo", "petrol", "cng", "lng", "lpg", "electric", "hydrogen", "hybrid"}

// Vehicle is a collection truck.
type Vehicle struct {
	ID                  string    `json:"id"`
	Plate               string    `json:"plate"`
	CapacityKg          float64   `json:"capacity_kg"`
	CapacityM3          float64   `json:"capacity_m3"`
	DepotSiteID         string    `json:"depot_site_id,omitempty"`
	FuelType            string    `json:"fuel_type"`
	ConsumptionPer100Km float64   `json:"consumption_per_100km"`
	ConsumptionUnit     string    `json:"consumption_unit"` // l, kg or kWh; default from the fuel type
	TrackerDeviceID     string    `json:"tracker_device_id,omitempty"`
	RFIDTag             string    `json:"rfid_tag,omitempty"`
	Created             time.Time `json:"created"`
	Updated             time.Time `json:"updated"`
}

// Bin is a container at a site.
type Bin struct {
	ID                 string    `json:"id"`
	SiteID             string    `json:"site_id"`
	CustomerID         string    `json:"customer_id,omitempty"` // the site's customer; read-only
	Material           string    `json:"material"`
	EWCCode            string    `json:"ewc_code"` // "15 01 07", hazardous with a trailing "*"
	VolumeL            float64   `json:"volume_l"`
	RFIDTag            string    `json:"rfid_tag,omitempty"`
	FillSensorDeviceID string    `json:"fill_sensor_device_id,omitempty"`
	ThresholdPct       float64   `json:"threshold_pct"` // default 80
	Created            time.Time `json:"created"`
	Updated            time.Time `json:"updated"`
}

// Pickup states.
const (
	PickupRequested = "requested"
	PickupPlanned   = "planned"
	PickupCollected = "collected"
	PickupDelivered = "delivered"
	PickupCancelled = "cancelled"
	PickupMissed    = "missed"
)

// pickupNext lists the states each state may move to.
var pickupNext = map[string][]string{
	PickupRequested: {PickupPlanned, PickupCancelled},
	PickupPlanned:   {PickupCollected, PickupMissed, PickupCancelled, PickupRequested},
	PickupCollected: {PickupDelivered},
	PickupDelivered: nil,
	PickupCancelled: nil,
	PickupMissed:    nil,
}

// PickupStates lists every pickup state.
var PickupStates = []string{PickupRequested, PickupPlanned, PickupCollected, PickupDelivered, PickupCancelled, PickupMissed}

// AllowedPickupTransitions returns the states a pickup in state from may
// move to.
func AllowedPickupTransitions(from string) []string { return slices.Clone(pickupNext[from]) }

// Pickup is a customer's request to collect material at a site.
type Pickup struct {
	ID          string       `json:"id"`
	CustomerID  string       `json:"customer_id"`
	SiteID      string       `json:"site_id"`
	Material    string       `json:"material"`
	EstimatedKg float64      `json:"estimated_kg,omitempty"`
	EstimatedM3 float64      `json:"estimated_m3,omitempty"`
	WindowFrom  time.Time    `json:"window_from"`
	WindowTo    time.Time    `json:"window_to"`
	Priority    int          `json:"priority"` // 1 (most urgent) to 5; default 3
	Status      string       `json:"status"`
	Created     time.Time    `json:"created"`
	Updated     time.Time    `json:"updated"`
	History     []Transition `json:"history,omitempty"`
}

// Transition is one recorded change of a pickup's state.
type Transition struct {
	From  string    `json:"from"`
	To    string    `json:"to"`
	Actor string    `json:"actor"`
	Note  string    `json:"note,omitempty"`
	At    time.Time `json:"at"`
}

// Complaint subject kinds.
var ComplaintSubjects = []string{"pickup", "site", "invoice", "other"}

// Complaint is a customer's complaint and how it was resolved.
type Complaint struct {
	ID             string    `json:"id"`
	CustomerID     string    `json:"customer_id"`
	SubjectKind    string    `json:"subject_kind"`
	SubjectRef     string    `json:"subject_ref,omitempty"`
	Text           string    `json:"text"`
	Opened         time.Time `json:"opened"`
	Resolved       time.Time `json:"resolved,omitzero"`
	Outcome        string    `json:"outcome,omitempty"`
	TimeToResolveS float64   `json:"time_to_resolve_s,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

func checkID(field, id string, required bool) error {
	if id == "" {
		if required {
			return revloop.Invalid(field, "required")
		}
		return nil
	}
	if !idPattern.MatchString(id) {
		return revloop.Invalid(field, "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
	}
	return nil
}

func checkText(field, s string, required bool, max int) error {
	if required && strings.TrimSpace(s) == "" {
		return revloop.Invalid(field, "required")
	}
	if len(s) > max {
		return revloop.Invalid(field, "at most %d bytes", max)
	}
	if strings.ContainsRune(s, 0) {
		return revloop.Invalid(field, "must not contain NUL")
	}
	return nil
}

func checkNumber(field string, v, min, max float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < min || v > max {
		return revloop.Invalid(field, "must be between %g and %g", min, max)
	}
	return nil
}

func checkDevice(field, id string) error {
	if id == "" {
		return nil
	}
	if _, err := revloop.ParseDeviceID(id); err != nil {
		return revloop.Invalid(field, "%v", err)
	}
	return nil
}

func oneOf(field, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return revloop.Invalid(field, "must be one of %s", strings.Join(allowed, ", "))
	}
	return nil
}

var ewcPattern = regexp.MustCompile(`^(\d{2}) ?(\d{2}) ?(\d{2})(\*?)$`)

// NormalizeEWC checks a European Waste Catalogue code ("15 01 07", or
// "150107"; hazardous entries end in "*") and returns it as "NN NN NN[*]".
func NormalizeEWC(code string) (string, error) {
	m := ewcPattern.FindStringSubmatch(strings.TrimSpace(code))
	if m == nil {
		return "", revloop.Invalid("ewc_code", "want a European Waste Catalogue code like \"15 01 07\" (hazardous: \"16 06 01*\")")
	}
	if ch := (m[1][0]-'0')*10 + m[1][1] - '0'; ch < 1 || ch > 20 {
		return "", revloop.Invalid("ewc_code", "chapter %s does not exist (01 to 20)", m[1])
	}
	return fmt.Sprintf("%s %s %s%s", m[1], m[2], m[3], m[4]), nil
}

// DefaultConsumptionUnit is the unit of a fuel type's consumption per 100 km.
func DefaultConsumptionUnit(fuel string) string {
	switch fuel {
	case "electric":
		return "kWh"
	case "cng", "lng", "hydrogen":
		return "kg"
	}
	return "l"
}

// Validate checks c and fills defaults.
func (c *Customer) Validate() error {
	return firstErr(
		checkID("id", c.ID, false),
		checkText("name", c.Name, true, 200),
		checkText("kind", c.Kind, false, 50),
		checkText("email", c.Email, false, 200),
	)
}

// Validate checks s, normalizes its geofence and sets Location from it.
func (s *Site) Validate() error {
	if err := firstErr(
		checkID("id", s.ID, false),
		checkText("name", s.Name, true, 200),
		oneOf("kind", s.Kind, SiteKinds),
		checkID("customer_id", s.CustomerID, s.Kind == SiteCustomerSite),
		checkText("address", s.Address, false, 500),
	); err != nil {
		return err
	}
	f, center, err := ParseGeofence(s.Geofence)
	if err != nil {
		return err
	}
	s.Geofence, s.Location = f, center
	return nil
}

// Validate checks v and fills defaults.
func (v *Vehicle) Validate() error {
	if v.ConsumptionUnit == "" {
		v.ConsumptionUnit = DefaultConsumptionUnit(v.FuelType)
	}
	v.Plate = strings.ToUpper(strings.TrimSpace(v.Plate))
	return firstErr(
		checkID("id", v.ID, false),
		checkText("plate", v.Plate, true, 20),
		checkNumber("capacity_kg", v.CapacityKg, 1, 100000),
		checkNumber("capacity_m3", v.CapacityM3, 0.1, 500),
		checkID("depot_site_id", v.DepotSiteID, false),
		oneOf("fuel_type", v.FuelType, FuelTypes),
		checkNumber("consumption_per_100km", v.ConsumptionPer100Km, 0, 1000),
		oneOf("consumption_unit", v.ConsumptionUnit, []string{"l", "kg", "kWh"}),
		checkDevice("tracker_device_id", v.TrackerDeviceID),
		checkText("rfid_tag", v.RFIDTag, false, 64),
	)
}

// Validate checks b and fills defaults.
func (b *Bin) Validate() error {
	if b.ThresholdPct == 0 {
		b.ThresholdPct = 80
	}
	if err := firstErr(
		checkID("id", b.ID, false),
		checkID("site_id", b.SiteID, true),
		checkText("material", b.Material, true, 50),
		checkNumber("volume_l", b.VolumeL, 1, 100000),
		checkText("rfid_tag", b.RFIDTag, false, 64),
		checkDevice("fill_sensor_device_id", b.FillSensorDeviceID),
		checkNumber("threshold_pct", b.ThresholdPct, 1, 100),
	); err != nil {
		return err
	}
	ewc, err := NormalizeEWC(b.EWCCode)
	if err != nil {
		return err
	}
	b.EWCCode = ewc
	return nil
}

// Validate checks p and fills defaults.
func (p *Pickup) Validate() error {
	if p.Priority == 0 {
		p.Priority = 3
	}
	if err := firstErr(
		checkID("id", p.ID, false),
		checkID("customer_id", p.CustomerID, true),
		checkID("site_id", p.SiteID, true),
		checkText("material", p.Material, true, 50),
		checkNumber("estimated_kg", p.EstimatedKg, 0, 100000),
		checkNumber("estimated_m3", p.EstimatedM3, 0, 500),
		checkNumber("priority", float64(p.Priority), 1, 5),
	); err != nil {
		return err
	}
	switch {
	case p.WindowFrom.IsZero():
		return revloop.Invalid("window_from", "required")
	case p.WindowTo.IsZero():
		return revloop.Invalid("window_to", "required")
	case !p.WindowTo.After(p.WindowFrom):
		return revloop.Invalid("window_to", "must be after window_from")
	case p.WindowTo.Sub(p.WindowFrom) > 92*24*time.Hour:
		return revloop.Invalid("window_to", "a time window spans at most 92 days")
	}
	return nil
}

// Validate checks c.
func (c *Complaint) Validate() error {
	return firstErr(
		checkID("id", c.ID, false),
		checkID("customer_id", c.CustomerID, true),
		oneOf("subject_kind", c.SubjectKind, ComplaintSubjects),
		checkText("subject_ref", c.SubjectRef, c.SubjectKind == "pickup" || c.SubjectKind == "site", 64),
		checkText("text", c.Text, true, 10000),
	)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
