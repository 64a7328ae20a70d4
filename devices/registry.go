package devices

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// Sentinel errors of the registry.
var (
	// ErrUnknownDevice is returned for a device id that is not registered.
	ErrUnknownDevice = fmt.Errorf("devices: unknown device: %w", revloop.ErrNotFound)
	// ErrBadCredentials is returned when a presented secret does not match.
	ErrBadCredentials = fmt.Errorf("devices: bad credentials: %w", revloop.ErrUnauthorized)
	// ErrRevoked is returned when a revoked device tries to authenticate.
	ErrRevoked = fmt.Errorf("devices: device revoked: %w", revloop.ErrUnauthorized)
	// ErrDisabled is returned when a disabled device tries to authenticate.
	ErrDisabled = fmt.Errorf("devices: device disabled: %w", revloop.ErrUnauthorized)
	// ErrExists is returned when a device id is already registered.
	ErrExists = fmt.Errorf("devices: device already exists: %w", revloop.ErrConflict)
)

// ChangeKind says what happened to a device.
type ChangeKind string

// The changes a Registry announces.
const (
	ChangeAdded   ChangeKind = "added"
	ChangeRotated ChangeKind = "rotated"
	ChangeState   ChangeKind = "state"
	ChangeUpdated ChangeKind = "updated"
)

// Change is one announced change to a device.
type Change struct {
	Device revloop.DeviceID
	Kind   ChangeKind
	State  State // the device's state after the change
}

// Options tune a Registry; the zero value is usable.
type Options struct {
	Argon2 Argon2Params
	// MosquittoIterations is the PBKDF2 count of the kept Mosquitto hash;
	// default MosquittoIterations.
	MosquittoIterations int
	// NoMosquittoHash skips keeping the Mosquitto form of each secret.
	NoMosquittoHash bool
	// HashConcurrency bounds concurrent argon2 verifications (each takes
	// Argon2.MemoryKiB of memory); default GOMAXPROCS.
	HashConcurrency int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Registry is the device registry over the state store.
type Registry struct {
	db   *store.DB
	log  *slog.Logger
	opts Options
	sem  chan struct{}

	mu        sync.RWMutex
	verified  map[revloop.DeviceID]verifiedCred
	listeners []func(Change)

	hits, misses atomic.Int64

	stmtMu sync.Mutex
	stmt   *sql.Stmt
}

type verifiedCred struct {
	sum  [32]byte // SHA-256 of the presented secret
	hash string   // the stored hash it was verified against
}

// NewRegistry returns a registry over db, which must be migrated.
func NewRegistry(db *store.DB, log *slog.Logger, opts Options) *Registry {
	if opts.HashConcurrency <= 0 {
		opts.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Argon2 = opts.Argon2.withDefaults()
	return &Registry{db: db, log: log, opts: opts, sem: make(chan struct{}, opts.HashConcurrency),
		verified: map[revloop.DeviceID]verifiedCred{}}
}

// DB returns the state store the registry works on.
func (r *Registry) DB() *store.DB { return r.db }

// Subscribe registers fn to be called after every change made through r.
// fn must not block.
func (r *Registry) Subscribe(fn func(Change)) {
	r.mu.Lock()
	r.listeners = append(r.listeners, fn)
	r.mu.Unlock()
}

func (r *Registry) announce(c Change) {
	r.mu.Lock()
	delete(r.verified, c.Device)
	ls := slices.Clone(r.listeners)
	r.mu.Unlock()
	for _, fn := range ls {
		fn(c)
	}
}

// Credential is a freshly issued secret, shown once.
type Credential struct {
	Device revloop.DeviceID `json:"device_id"`
	Secret string           `json:"secret"`
}

type hashed struct {
	secret, argon, mosq string
}

func (r *Registry) newHashed() (hashed, error) {
	secret, err := NewSecret()
	if err != nil {
		return hashed{}, err
	}
	return r.hashSecret(secret)
}

func (r *Registry) hashSecret(secret string) (hashed, error) {
	h := hashed{secret: secret}
	var err error
	if h.argon, err = HashSecret(secret, r.opts.Argon2); err != nil {
		return hashed{}, err
	}
	if !r.opts.NoMosquittoHash {
		if h.mosq, err = MosquittoHash(secret, r.opts.MosquittoIterations); err != nil {
			return hashed{}, err
		}
	}
	return h, nil
}

// deviceCols and deviceFrom select a device with its last-seen time, the
// later of the registry's and the health tracker's.
const (
	deviceCols = `d.id, d.kind, d.attached_kind, d.attached_id, d.labels, d.firmware, d.state, d.cred_version, d.created_ms,
		CASE WHEN h.last_seen_ms > d.last_seen_ms THEN h.last_seen_ms ELSE d.last_seen_ms END`
	deviceFrom = ` FROM devices d LEFT JOIN device_health h ON h.device_id = d.id`
)

func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var id, kind, ak, labels, state string
	var created, seen int64
	if err := row.Scan(&id, &kind, &ak, &d.Attached.ID, &labels, &d.Firmware, &state, &d.CredentialVersion, &created, &seen); err != nil {
		return Device{}, err
	}
	d.ID, d.Kind, d.Attached.Kind, d.State = revloop.DeviceID(id), Kind(kind), AttachedKind(ak), State(state)
	d.Created, d.LastSeen = store.FromMillis(created), store.FromMillis(seen)
	var err error
	if d.Labels, err = decodeLabels(labels); err != nil {
		return Device{}, fmt.Errorf("device %s: %w", id, err)
	}
	return d, nil
}

// Add provisions one device and returns it with its secret, which is not
// kept anywhere and cannot be shown again.
func (r *Registry) Add(ctx context.Context, s Spec) (Device, Credential, error) {
	id, kind, att, labels, err := validSpec(s)
	if err != nil {
		return Device{}, Credential{}, fmt.Errorf("add device: %w", err)
	}
	h, err := r.newHashed()
	if err != nil {
		return Device{}, Credential{}, fmt.Errorf("add device: %w", err)
	}
	now := r.opts.Now()
	d := Device{ID: id, Kind: kind, Attached: att, Labels: labels, Firmware: s.Firmware, State: StateActive,
		Created: time.UnixMilli(now.UnixMilli()).UTC(), CredentialVersion: 1}
	if err := insertDevice(ctx, r.db, d, h); err != nil {
		return Device{}, Credential{}, fmt.Errorf("add device %s: %w", id, err)
	}
	r.announce(Change{Device: id, Kind: ChangeAdded, State: StateActive})
	return d, Credential{Device: id, Secret: h.secret}, nil
}

func insertDevice(ctx context.Context, q store.Querier, d Device, h hashed) error {
	ms := store.Millis(d.Created)
	_, err := q.Exec(ctx, `INSERT INTO devices (id, kind, attached_kind, attached_id, labels, firmware, state,
		secret_hash, mosquitto_hash, cred_version, created_ms, updated_ms, last_seen_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 0)`,
		string(d.ID), string(d.Kind), string(d.Attached.Kind), d.Attached.ID, encodeLabels(d.Labels), d.Firmware,
		string(d.State), h.argon, h.mosq, ms, ms)
	if store.IsUniqueViolation(err) {
		return ErrExists
	}
	return err
}

// Get returns one device.
func (r *Registry) Get(ctx context.Context, id revloop.DeviceID) (Device, error) {
	d, err := scanDevice(r.db.QueryRow(ctx, `SELECT `+deviceCols+deviceFrom+` WHERE d.id = ?`, string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("get device %s: %w", id, ErrUnknownDevice)
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device %s: %w", id, err)
	}
	return d, nil
}

// Filter selects devices in List; zero fields match everything.
type Filter struct {
	Kind  Kind
	State State
	// Label matches devices carrying every given label.
	Label map[string]string
	// After continues a listing after this id (ids are listed in order).
	After revloop.DeviceID
	// Limit caps the result; 0 means no limit.
	Limit int
}

// List returns the devices matching f, ordered by id.
func (r *Registry) List(ctx context.Context, f Filter) ([]Device, error) {
	q := `SELECT ` + deviceCols + deviceFrom + ` WHERE 1 = 1`
	var args []any
	if f.Kind != "" {
		q += ` AND d.kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.State != "" {
		q += ` AND d.state = ?`
		args = append(args, string(f.State))
	}
	if f.After != "" {
		q += ` AND d.id > ?`
		args = append(args, string(f.After))
	}
	q += ` ORDER BY d.id`
	rows, err := r.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		if !hasLabels(d.Labels, f.Label) {
			continue
		}
		out = append(out, d)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Rotate issues a new secret for an active or disabled device; the old one
// stops working at once.
func (r *Registry) Rotate(ctx context.Context, id revloop.DeviceID) (Credential, error) {
	h, err := r.newHashed()
	if err != nil {
		return Credential{}, fmt.Errorf("rotate %s: %w", id, err)
	}
	var state State
	err = r.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		state, err = rotateTx(ctx, tx, id, h, r.opts.Now())
		return err
	})
	if err != nil {
		return Credential{}, fmt.Errorf("rotate %s: %w", id, err)
	}
	r.announce(Change{Device: id, Kind: ChangeRotated, State: state})
	return Credential{Device: id, Secret: h.secret}, nil
}

func rotateTx(ctx context.Context, tx *store.Tx, id revloop.DeviceID, h hashed, now time.Time) (State, error) {
	var st string
	err := tx.QueryRow(ctx, `SELECT state FROM devices WHERE id = ?`, string(id)).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrUnknownDevice
	}
	if err != nil {
		return "", err
	}
	if State(st) == StateRevoked {
		return "", &revloop.TransitionError{Entity: "device " + string(id), From: st, To: "rotated", Allowed: nil}
	}
	_, err = tx.Exec(ctx, `UPDATE devices SET secret_hash = ?, mosquitto_hash = ?, cred_version = cred_version + 1,
		updated_ms = ? WHERE id = ?`, h.argon, h.mosq, store.Millis(now), string(id))
	return State(st), err
}

// Revoke revokes a device for good: it can no longer connect or publish
// and its live sessions are closed.
func (r *Registry) Revoke(ctx context.Context, id revloop.DeviceID) error {
	return r.SetState(ctx, id, StateRevoked)
}

// Disable suspends a device until it is enabled again.
func (r *Registry) Disable(ctx context.Context, id revloop.DeviceID) error {
	return r.SetState(ctx, id, StateDisabled)
}

// Enable re-activates a disabled device.
func (r *Registry) Enable(ctx context.Context, id revloop.DeviceID) error {
	return r.SetState(ctx, id, StateActive)
}

// SetState moves a device to state to. Revoked is final; setting the state a
// device already has is a no-op.
func (r *Registry) SetState(ctx context.Context, id revloop.DeviceID, to State) error {
	if _, err := ParseState(string(to)); err != nil {
		return fmt.Errorf("set state %s: %w", id, err)
	}
	changed := false
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		changed = false
		var st string
		err := tx.QueryRow(ctx, `SELECT state FROM devices WHERE id = ?`, string(id)).Scan(&st)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUnknownDevice
		}
		if err != nil {
			return err
		}
		from := State(st)
		if from == to {
			return nil
		}
		allowed := allowedFrom[from]
		ok := false
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
			ok = ok || a == to
		}
		if !ok {
			return &revloop.TransitionError{Entity: "device " + string(id), From: st, To: string(to), Allowed: names}
		}
		changed = true
		_, err = tx.Exec(ctx, `UPDATE devices SET state = ?, updated_ms = ? WHERE id = ?`,
			string(to), store.Millis(r.opts.Now()), string(id))
		return err
	})
	if err != nil {
		return fmt.Errorf("set state %s: %w", id, err)
	}
	if changed {
		r.announce(Change{Device: id, Kind: ChangeState, State: to})
	}
	return nil
}

// Update replaces a device's attachment, labels and firmware.
func (r *Registry) Update(ctx context.Context, s Spec) (Device, error) {
	id, _, att, labels, err := validSpec(s)
	if err != nil {
		return Device{}, fmt.Errorf("update device: %w", err)
	}
	res, err := r.db.Exec(ctx, `UPDATE devices SET attached_kind = ?, attached_id = ?, labels = ?, firmware = ?, updated_ms = ?
		WHERE id = ?`, string(att.Kind), att.ID, encodeLabels(labels), s.Firmware, store.Millis(r.opts.Now()), string(id))
	if err != nil {
		return Device{}, fmt.Errorf("update device %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Device{}, fmt.Errorf("update device %s: %w", id, ErrUnknownDevice)
	}
	r.announce(Change{Device: id, Kind: ChangeUpdated})
	return r.Get(ctx, id)
}

// Status is what the authentication path needs to know about a device.
type Status struct {
	State       State
	Kind        Kind
	CredVersion int64
	hash        string
}

const statusQuery = `SELECT state, kind, cred_version, secret_hash FROM devices WHERE id = ?`

// statusStmt prepares the status query once; it runs on every CONNECT and
// every ingest re-check that misses its cache.
func (r *Registry) statusStmt(ctx context.Context) (*sql.Stmt, error) {
	r.stmtMu.Lock()
	defer r.stmtMu.Unlock()
	if r.stmt != nil {
		return r.stmt, nil
	}
	st, err := r.db.SQL().PrepareContext(ctx, r.db.Dialect().Rebind(statusQuery))
	if err != nil {
		return nil, err
	}
	r.stmt = st
	return st, nil
}

func (r *Registry) status(ctx context.Context, id revloop.DeviceID) (Status, error) {
	var s Status
	var st, kind string
	stmt, err := r.statusStmt(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("device status %s: %w", id, err)
	}
	err = stmt.QueryRowContext(ctx, string(id)).Scan(&st, &kind, &s.CredVersion, &s.hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Status{}, ErrUnknownDevice
	}
	if err != nil {
		return Status{}, fmt.Errorf("device status %s: %w", id, err)
	}
	s.State, s.Kind = State(st), Kind(kind)
	return s, nil
}

// StateOf returns a device's current state and credential version.
func (r *Registry) StateOf(ctx context.Context, id revloop.DeviceID) (Status, error) {
	return r.status(ctx, id)
}

// Authenticate checks a presented secret. A secret already verified against
// the currently stored hash is accepted from memory; otherwise the argon2id
// hash is checked (at most HashConcurrency at a time). It returns
// ErrUnknownDevice, ErrRevoked, ErrDisabled or ErrBadCredentials.
func (r *Registry) Authenticate(ctx context.Context, id revloop.DeviceID, secret string) error {
	_, err := r.authenticate(ctx, id, secret)
	return err
}

func (r *Registry) authenticate(ctx context.Context, id revloop.DeviceID, secret string) (Status, error) {
	st, err := r.status(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if err := st.usable(); err != nil {
		return Status{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	r.mu.RLock()
	v, ok := r.verified[id]
	r.mu.RUnlock()
	if ok && v.hash == st.hash && v.sum == sum {
		r.hits.Add(1)
		return st, nil
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return Status{}, fmt.Errorf("authenticate %s: %w", id, ctx.Err())
	}
	good, err := VerifySecret(secret, st.hash)
	<-r.sem
	r.misses.Add(1)
	if err != nil {
		return Status{}, fmt.Errorf("authenticate %s: %w", id, err)
	}
	if !good {
		return Status{}, ErrBadCredentials
	}
	r.mu.Lock()
	r.verified[id] = verifiedCred{sum: sum, hash: st.hash}
	r.mu.Unlock()
	return st, nil
}

// usable returns nil for an active device and ErrRevoked or ErrDisabled
// otherwise.
func (s Status) usable() error {
	switch s.State {
	case StateActive:
		return nil
	case StateRevoked:
		return ErrRevoked
	case StateDisabled:
		return ErrDisabled
	}
	return fmt.Errorf("devices: device in unknown state %q: %w", s.State, revloop.ErrUnauthorized)
}

// CacheStats reports how many authentications were answered from the
// verified-credential cache (hits) and how many paid for argon2 (misses).
func (r *Registry) CacheStats() (hits, misses int64) { return r.hits.Load(), r.misses.Load() }

// ForgetVerified drops every cached verification (for benchmarks and tests
// of the cold path).
func (r *Registry) ForgetVerified() {
	r.mu.Lock()
	r.verified = map[revloop.DeviceID]verifiedCred{}
	r.mu.Unlock()
}

// TouchSeen records last-seen times in one transaction.
func (r *Registry) TouchSeen(ctx context.Context, seen map[revloop.DeviceID]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	return r.db.InTx(ctx, func(tx *store.Tx) error {
		for id, t := range seen {
			if _, err := tx.Exec(ctx, `UPDATE devices SET last_seen_ms = ? WHERE id = ? AND last_seen_ms < ?`,
				store.Millis(t), string(id), store.Millis(t)); err != nil {
				return fmt.Errorf("touch seen %s: %w", id, err)
			}
		}
		return nil
	})
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
