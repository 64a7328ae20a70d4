package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/store"
)

// TokenPrefix starts every API token secret, so that leaked tokens are easy
// to recognise in logs and by secret scanners.
const TokenPrefix = "rlt_"

// DefaultCacheTTL is how long a verified token is trusted without asking the
// state store again.
const DefaultCacheTTL = 30 * time.Second

// ErrBadToken is returned by Verify for an unknown, malformed or revoked token.
var ErrBadToken = fmt.Errorf("accounts: %w: unknown or revoked token", revloop.ErrUnauthorized)

// Token is a stored API token, without its secret.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       api.Role  `json:"role"`
	CustomerID string    `json:"customer_id,omitempty"`
	Created    time.Time `json:"created"`
	Revoked    time.Time `json:"revoked,omitzero"`
}

// Store keeps API tokens in the state store and verifies bearer tokens.
type Store struct {
	db  *store.DB
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cached // by hash
}

type cached struct {
	p     api.Principal
	until time.Time
}

var _ api.TokenVerifier = (*Store)(nil)

// New returns a token store over db (already migrated). ttl <= 0 means
// DefaultCacheTTL.
func New(db *store.DB, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Store{db: db, ttl: ttl, now: time.Now, cache: map[string]cached{}}
}

// Roles lists the roles a token may have.
var Roles = []api.Role{api.RoleAdmin, api.RoleDispatcher, api.RoleYard, api.RoleAuditor, api.RoleCustomer}

// ParseRole validates a role name.
func ParseRole(s string) (api.Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", revloop.Invalid("role", "unknown role %q (want admin, dispatcher, yard, auditor or customer)", s)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Create makes a token and returns it with its secret, which is never
// stored and cannot be shown again. Customer tokens need a customer id; the
// other roles must not have one.
func (s *Store) Create(ctx context.Context, role api.Role, customerID, name string) (Token, string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Token{}, "", fmt.Errorf("token create: %w", err)
	}
	customerID = strings.TrimSpace(customerID)
	switch {
	case role == api.RoleCustomer && customerID == "":
		return Token{}, "", fmt.Errorf("token create: %w", revloop.Invalid("customer", "a customer token needs a customer id"))
	case role != api.RoleCustomer && customerID != "":
		return Token{}, "", fmt.Errorf("token create: %w", revloop.Invalid("customer", "only customer tokens are bound to a customer"))
	}
	idPart, err := randomString(6)
	if err != nil {
		return Token{}, "", fmt.Errorf("token create: %w", err)
	}
	secretPart, err := randomString(32)
	if err != nil {
		return Token{}, "", fmt.Errorf("token create: %w", err)
	}
	t := Token{ID: "tok_" + idPart, Name: name, Role: role, CustomerID: customerID, Created: s.now().UTC().Truncate(time.Millisecond)}
	if t.Name == "" {
		t.Name = string(role)
	}
	secret := TokenPrefix + secretPart
	_, err = s.db.Exec(ctx, `INSERT INTO api_tokens (id, name, role, customer_id, hash, created_ms, revoked_ms) VALUES (?, ?, ?, ?, ?, ?, 0)`,
		t.ID, t.Name, string(t.Role), t.CustomerID, hashSecret(secret), store.Millis(t.Created))
	if err != nil {
		return Token{}, "", fmt.Errorf("token create: %w", err)
	}
	return t, secret, nil
}

// List returns every token, oldest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name, role, customer_id, created_ms, revoked_ms FROM api_tokens ORDER BY created_ms, id`)
	if err != nil {
		return nil, fmt.Errorf("token list: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var role string
		var created, revoked int64
		if err := rows.Scan(&t.ID, &t.Name, &role, &t.CustomerID, &created, &revoked); err != nil {
			return nil, fmt.Errorf("token list: %w", err)
		}
		t.Role, t.Created, t.Revoked = api.Role(role), store.FromMillis(created), store.FromMillis(revoked)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("token list: %w", err)
	}
	return out, nil
}

// Revoke disables a token at once for this process (and for others within
// their cache TTL). Revoking an already revoked token is not an error.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `UPDATE api_tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0`, store.Millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("token revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := s.db.QueryRow(ctx, `SELECT 1 FROM api_tokens WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token revoke %s: %w", id, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("token revoke: %w", err)
		}
	}
	s.mu.Lock()
	for h, c := range s.cache {
		if c.p.TokenID == id {
			delete(s.cache, h)
		}
	}
	s.mu.Unlock()
	return nil
}

// Verify checks a bearer token and returns who it belongs to.
func (s *Store) Verify(ctx context.Context, token string) (api.Principal, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 128 {
		return api.Principal{}, ErrBadToken
	}
	h := hashSecret(token)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[h]
	s.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.p, nil
	}
	var p api.Principal
	var role, stored string
	var revoked int64
	err := s.db.QueryRow(ctx, `SELECT id, role, customer_id, hash, revoked_ms FROM api_tokens WHERE hash = ?`, h).
		Scan(&p.TokenID, &role, &p.CustomerID, &stored, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return api.Principal{}, ErrBadToken
	}
	if err != nil {
		return api.Principal{}, fmt.Errorf("token verify: %w: %v", revloop.ErrUnavailable, err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) != 1 || revoked != 0 {
		return api.Principal{}, ErrBadToken
	}
	p.Role = api.Role(role)
	s.mu.Lock()
	if len(s.cache) >= 10000 {
		clear(s.cache)
	}
	s.cache[h] = cached{p: p, until: now.Add(s.ttl)}
	s.mu.Unlock()
	return p, nil
}
