package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/store"
)

// DefaultIdempotencyTTL is how long a stored response can be replayed.
const DefaultIdempotencyTTL = 24 * time.Hour

// Idempotency stores the responses of requests sent with an Idempotency-Key
// in the state store, so that a retry is answered by any API replica.
type Idempotency struct {
	db  *store.DB
	ttl time.Duration
	now func() time.Time

	lastPurge atomic.Int64 // Unix ms
}

// purgeEvery is how often Begin deletes expired keys in passing.
const purgeEvery = 10 * time.Minute

var _ api.IdempotencyStore = (*Idempotency)(nil)

// NewIdempotency returns the store; ttl <= 0 means DefaultIdempotencyTTL.
func NewIdempotency(db *store.DB, ttl time.Duration) *Idempotency {
	if ttl <= 0 {
		ttl = DefaultIdempotencyTTL
	}
	return &Idempotency{db: db, ttl: ttl, now: time.Now}
}

// Begin reserves k. It returns the stored response when k was completed
// before with the same body, api.ErrIdempotencyMismatch when the body
// differs and api.ErrIdempotencyInFlight while the first request still runs.
func (s *Idempotency) Begin(ctx context.Context, k api.IdempotencyKey) (*api.StoredResponse, error) {
	now := store.Millis(s.now())
	if last := s.lastPurge.Load(); now-last > purgeEvery.Milliseconds() && s.lastPurge.CompareAndSwap(last, now) {
		if _, err := s.Purge(ctx); err != nil {
			return nil, err
		}
	}
	for attempt := 0; attempt < 2; attempt++ {
		_, err := s.db.Exec(ctx, `INSERT INTO idempotency_keys (principal, idem_key, method, path, body_hash, status, content_type, response, created_ms)
			VALUES (?, ?, ?, ?, ?, 0, '', '', ?)`, k.Principal, k.Key, k.Method, k.Path, k.BodyHash, now)
		if err == nil {
			return nil, nil
		}
		if !store.IsUniqueViolation(err) {
			return nil, fmt.Errorf("idempotency begin: %w", err)
		}
		var hash, ctype, body string
		var status int
		var created int64
		err = s.db.QueryRow(ctx, `SELECT body_hash, status, content_type, response, created_ms FROM idempotency_keys
			WHERE principal = ? AND idem_key = ? AND method = ? AND path = ?`, k.Principal, k.Key, k.Method, k.Path).
			Scan(&hash, &status, &ctype, &body, &created)
		if errors.Is(err, sql.ErrNoRows) {
			continue // abandoned meanwhile: try to reserve again
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency begin: %w", err)
		}
		if now-created > s.ttl.Milliseconds() {
			if _, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE principal = ? AND idem_key = ? AND method = ? AND path = ? AND created_ms = ?`,
				k.Principal, k.Key, k.Method, k.Path, created); err != nil {
				return nil, fmt.Errorf("idempotency begin: %w", err)
			}
			continue
		}
		if hash != k.BodyHash {
			return nil, api.ErrIdempotencyMismatch
		}
		if status == 0 {
			return nil, api.ErrIdempotencyInFlight
		}
		return &api.StoredResponse{Status: status, ContentType: ctype, Body: []byte(body)}, nil
	}
	return nil, api.ErrIdempotencyInFlight
}

// Finish stores the response of a reserved key.
func (s *Idempotency) Finish(ctx context.Context, k api.IdempotencyKey, r api.StoredResponse) error {
	_, err := s.db.Exec(ctx, `UPDATE idempotency_keys SET status = ?, content_type = ?, response = ? WHERE principal = ? AND idem_key = ? AND method = ? AND path = ?`,
		r.Status, r.ContentType, string(r.Body), k.Principal, k.Key, k.Method, k.Path)
	if err != nil {
		return fmt.Errorf("idempotency finish: %w", err)
	}
	return nil
}

// Abandon releases a reserved key whose request failed, so that a retry
// runs again.
func (s *Idempotency) Abandon(ctx context.Context, k api.IdempotencyKey) error {
	_, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE principal = ? AND idem_key = ? AND method = ? AND path = ? AND status = 0`,
		k.Principal, k.Key, k.Method, k.Path)
	if err != nil {
		return fmt.Errorf("idempotency abandon: %w", err)
	}
	return nil
}

// Purge deletes stored responses older than the TTL.
func (s *Idempotency) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_ms < ?`, store.Millis(s.now().Add(-s.ttl)))
	if err != nil {
		return 0, fmt.Errorf("idempotency purge: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
