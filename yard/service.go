package yard

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/store"
)

// Tolerance is the scale tolerance mass balance is checked against: the
// larger of Pct percent of the input weight and Kg.
type Tolerance struct {
	Pct float64 `json:"pct"`
	Kg  float64 `json:"kg"`
}

// Of returns the tolerance for an input weight.
func (t Tolerance) Of(inputKg float64) float64 { return math.Max(math.Abs(inputKg)*t.Pct/100, t.Kg) }

// Options are the yard's settings.
type Options struct {
	Detector DetectorOptions
	Weigh    WeighOptions
	// LinkWindow is how far in time a weighing and a vehicle's gate passage
	// may be apart to be matched; default 2 min.
	LinkWindow time.Duration
	// Tolerance bounds mass-balance differences; default max(0.5 %, 2 kg).
	Tolerance Tolerance
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	o.Detector.defaults()
	o.Weigh.defaults()
	if o.LinkWindow <= 0 {
		o.LinkWindow = 2 * time.Minute
	}
	if o.Tolerance == (Tolerance{}) {
		o.Tolerance = Tolerance{Pct: 0.5, Kg: 2}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Tolerance.Pct < 0 || o.Tolerance.Kg < 0 {
		return fmt.Errorf("yard options: tolerance must not be negative")
	}
	return nil
}

// Service is the yard's state: configuration, passages, tickets, lots and
// shipments, kept in the state store.
type Service struct {
	db      *store.DB
	log     *slog.Logger
	opts    Options
	custody *custody.Log
}

// New returns a Service over db.
func New(db *store.DB, log *slog.Logger, opts Options) (*Service, error) {
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, log: log, opts: opts, custody: custody.New(opts.Now)}, nil
}

// Options returns the effective options.
func (s *Service) Options() Options { return s.opts }

// DB returns the state store the service writes to.
func (s *Service) DB() *store.DB { return s.db }

var ewcRe = regexp.MustCompile(`^[0-9]{6}\*?$`)

// ValidEWC reports whether code has the form of a European Waste Catalogue
// code: six digits, with a trailing * for hazardous waste. Spaces between
// the digit pairs ("15 01 02") are accepted by NormalizeEWC.
func ValidEWC(code string) bool { return ewcRe.MatchString(code) }

// NormalizeEWC removes the spaces of the printed form ("15 01 02*").
func NormalizeEWC(code string) string {
	b := make([]byte, 0, len(code))
	for i := 0; i < len(code); i++ {
		if code[i] != ' ' {
			b = append(b, code[i])
		}
	}
	return string(b)
}

// requestHash fingerprints a request for idempotency checks.
func requestHash(v any) string {
	b, err := custody.Canonical(v)
	if err != nil {
		b, _ = json.Marshal(v)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// nextNumber takes the next value of a named counter inside tx. The counter
// lives in the same transaction as the row that uses it, so numbers are
// gap-free: a rolled-back transaction gives its number back.
func nextNumber(ctx context.Context, tx store.Querier, name string) (int64, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO yard_counters (name, next) VALUES (?, 0) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return 0, fmt.Errorf("counter %s: %w", name, err)
	}
	var n int64
	if err := tx.QueryRow(ctx, `UPDATE yard_counters SET next = next + 1 WHERE name = ? RETURNING next`, name).Scan(&n); err != nil {
		return 0, fmt.Errorf("counter %s: %w", name, err)
	}
	return n, nil
}

// maxFuture is how far ahead of the clock a recorded time may lie.
const maxFuture = 5 * time.Minute

// checkTime defaults *t to now, refuses times in the future and cuts it to
// the stored millisecond.
func (s *Service) checkTime(t *time.Time) error {
	now := s.opts.Now()
	if t.IsZero() {
		*t = now
	}
	if t.After(now.Add(maxFuture)) {
		return revloop.Invalid("ts", "%s lies in the future", t.Format(time.RFC3339))
	}
	*t = store.FromMillis(store.Millis(*t))
	return nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// MassBalanceError refuses a change whose outputs plus loss differ from its
// inputs by more than the tolerance. It is an ErrInvalid: the request's
// figures are wrong, not the state it meets.
type MassBalanceError struct {
	Op                          string
	InputsKg, OutputsKg, LossKg float64
	DifferenceKg, ToleranceKg   float64
}

func (e *MassBalanceError) Error() string {
	return fmt.Sprintf("%s: mass balance broken: inputs %.3f kg, outputs %.3f kg, loss %.3f kg: difference %.3f kg exceeds tolerance %.3f kg",
		e.Op, e.InputsKg, e.OutputsKg, e.LossKg, e.DifferenceKg, e.ToleranceKg)
}

// Is makes a MassBalanceError match revloop.ErrInvalid.
func (e *MassBalanceError) Is(target error) bool { return target == revloop.ErrInvalid }

// Extras adds the figures to an API problem body.
func (e *MassBalanceError) Extras() map[string]any {
	return map[string]any{"inputs_kg": round3(e.InputsKg), "outputs_kg": round3(e.OutputsKg),
		"loss_kg": round3(e.LossKg), "difference_kg": round3(e.DifferenceKg), "tolerance_kg": round3(e.ToleranceKg)}
}

func (s *Service) checkBalance(op string, in, out, loss float64) error {
	diff := in - out - loss
	tol := s.opts.Tolerance.Of(in)
	if math.Abs(diff) > tol+1e-9 {
		return &MassBalanceError{Op: op, InputsKg: in, OutputsKg: out, LossKg: loss, DifferenceKg: diff, ToleranceKg: tol}
	}
	return nil
}

// Tag kinds.
const (
	TagVehicle   = "vehicle"
	TagContainer = "container"
	TagBale      = "bale"
	TagUnknown   = "unknown"
)

// Tag says what an EPC is attached to.
type Tag struct {
	EPC  string `json:"epc"`
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
}

var epcRe = regexp.MustCompile(`^[0-9A-Fa-f]{4,64}$`)

// Validate checks a tag.
func (t Tag) Validate() error {
	if !epcRe.MatchString(t.EPC) {
		return revloop.Invalid("epc", "want 4 to 64 hex digits, got %q", t.EPC)
	}
	if !slices.Contains([]string{TagVehicle, TagContainer, TagBale}, t.Kind) {
		return revloop.Invalid("kind", "want vehicle, container or bale, got %q", t.Kind)
	}
	if t.Ref == "" || len(t.Ref) > 128 {
		return revloop.Invalid("ref", "required, at most 128 characters")
	}
	return nil
}

// Scale is a weighbridge and the yard it serves.
type Scale struct {
	Scale revloop.DeviceID `json:"scale"`
	Yard  string           `json:"yard"`
	Name  string           `json:"name,omitempty"`
}

// Validate checks a scale.
func (sc Scale) Validate() error {
	if _, err := revloop.ParseDeviceID(string(sc.Scale)); err != nil {
		return revloop.Invalid("scale", "%v", err)
	}
	if sc.Yard == "" {
		return revloop.Invalid("yard", "required")
	}
	return nil
}

// Tare is a regular vehicle's stored empty weight.
type Tare struct {
	Vehicle   string    `json:"vehicle"`
	Kg        float64   `json:"kg"`
	UpdatedBy string    `json:"updated_by"`
	Updated   time.Time `json:"updated"`
}

// PutGate stores a gate's configuration.
func (s *Service) PutGate(ctx context.Context, g Gate) error {
	if err := g.Validate(); err != nil {
		return err
	}
	out, _ := json.Marshal(nonNil(g.Outside))
	in, _ := json.Marshal(nonNil(g.Inside))
	_, err := s.db.Exec(ctx, `INSERT INTO yard_gates (reader, yard, name, outside_antennas, inside_antennas, updated_ms)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (reader) DO UPDATE SET yard = excluded.yard, name = excluded.name,
		outside_antennas = excluded.outside_antennas, inside_antennas = excluded.inside_antennas, updated_ms = excluded.updated_ms`,
		string(g.Reader), g.Yard, g.Name, string(out), string(in), store.Millis(s.opts.Now()))
	if err != nil {
		return fmt.Errorf("put gate: %w", err)
	}
	return nil
}

func nonNil(a []int) []int {
	if a == nil {
		return []int{}
	}
	return a
}

// Gates lists the configured gates.
func (s *Service) Gates(ctx context.Context) ([]Gate, error) {
	rows, err := s.db.Query(ctx, `SELECT reader, yard, name, outside_antennas, inside_antennas FROM yard_gates ORDER BY reader`)
	if err != nil {
		return nil, fmt.Errorf("gates: %w", err)
	}
	defer rows.Close()
	out := []Gate{}
	for rows.Next() {
		var g Gate
		var o, i string
		if err := rows.Scan(&g.Reader, &g.Yard, &g.Name, &o, &i); err != nil {
			return nil, fmt.Errorf("gates: %w", err)
		}
		if err := errors.Join(json.Unmarshal([]byte(o), &g.Outside), json.Unmarshal([]byte(i), &g.Inside)); err != nil {
			return nil, fmt.Errorf("gates: reader %s: %w", g.Reader, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// PutScale stores a scale's configuration.
func (s *Service) PutScale(ctx context.Context, sc Scale) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO yard_scales (scale, yard, name, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (scale) DO UPDATE SET yard = excluded.yard, name = excluded.name, updated_ms = excluded.updated_ms`,
		string(sc.Scale), sc.Yard, sc.Name, store.Millis(s.opts.Now()))
	if err != nil {
		return fmt.Errorf("put scale: %w", err)
	}
	return nil
}

// Scales lists the configured scales.
func (s *Service) Scales(ctx context.Context) ([]Scale, error) {
	rows, err := s.db.Query(ctx, `SELECT scale, yard, name FROM yard_scales ORDER BY scale`)
	if err != nil {
		return nil, fmt.Errorf("scales: %w", err)
	}
	defer rows.Close()
	out := []Scale{}
	for rows.Next() {
		var sc Scale
		if err := rows.Scan(&sc.Scale, &sc.Yard, &sc.Name); err != nil {
			return nil, fmt.Errorf("scales: %w", err)
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// PutTag stores what an EPC is attached to.
func (s *Service) PutTag(ctx context.Context, t Tag) error {
	t.EPC = upperHex(t.EPC)
	if err := t.Validate(); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO yard_tags (epc, kind, ref, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (epc) DO UPDATE SET kind = excluded.kind, ref = excluded.ref, updated_ms = excluded.updated_ms`,
		t.EPC, t.Kind, t.Ref, store.Millis(s.opts.Now()))
	if err != nil {
		return fmt.Errorf("put tag: %w", err)
	}
	return nil
}

func upperHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// Tags lists the known tags by EPC, after the EPC after.
func (s *Service) Tags(ctx context.Context, after string, n int) ([]Tag, error) {
	w := store.Where{Q: `SELECT epc, kind, ref FROM yard_tags WHERE 1 = 1`}
	w.AfterID(after, "epc")
	rows, err := s.db.Query(ctx, w.Q+` ORDER BY epc LIMIT ?`, append(w.Args, limit(n, 100, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	defer rows.Close()
	out := []Tag{}
	for rows.Next() {
		var t Tag
		if err := rows.Scan(&t.EPC, &t.Kind, &t.Ref); err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// PutTare stores a regular vehicle's tare.
func (s *Service) PutTare(ctx context.Context, t Tare) error {
	if t.Vehicle == "" || len(t.Vehicle) > 128 {
		return revloop.Invalid("vehicle", "required, at most 128 characters")
	}
	if !(t.Kg > 0 && t.Kg < 100000) {
		return revloop.Invalid("kg", "want a tare between 0 and 100000 kg, got %v", t.Kg)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO yard_tares (vehicle, kg, updated_by, updated_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (vehicle) DO UPDATE SET kg = excluded.kg, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms`,
		t.Vehicle, t.Kg, t.UpdatedBy, store.Millis(s.opts.Now()))
	if err != nil {
		return fmt.Errorf("put tare: %w", err)
	}
	return nil
}

// Tares lists the stored tares by vehicle, after the vehicle after.
func (s *Service) Tares(ctx context.Context, after string, n int) ([]Tare, error) {
	w := store.Where{Q: `SELECT vehicle, kg, updated_by, updated_ms FROM yard_tares WHERE 1 = 1`}
	w.AfterID(after, "vehicle")
	rows, err := s.db.Query(ctx, w.Q+` ORDER BY vehicle LIMIT ?`, append(w.Args, limit(n, 100, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("tares: %w", err)
	}
	defer rows.Close()
	out := []Tare{}
	for rows.Next() {
		var t Tare
		var ms int64
		if err := rows.Scan(&t.Vehicle, &t.Kg, &t.UpdatedBy, &ms); err != nil {
			return nil, fmt.Errorf("tares: %w", err)
		}
		t.Updated = store.FromMillis(ms)
		out = append(out, t)
	}
	return out, rows.Err()
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func sortBy[T any](xs []T, key func(T) string) {
	slices.SortFunc(xs, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}
