package devices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// ErrBadClaim is returned for an unknown, used or expired claim token.
var ErrBadClaim = fmt.Errorf("devices: claim token unknown, used or expired: %w", revloop.ErrUnauthorized)

// MaxClaimTTL caps how long a claim token stays valid.
const MaxClaimTTL = 30 * 24 * time.Hour

// Claim is a one-time token a gateway exchanges for its credential.
type Claim struct {
	Device  revloop.DeviceID `json:"device_id"`
	Token   string           `json:"token"`
	Expires time.Time        `json:"expires"`
}

func claimHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// CreateClaim issues a single-use claim token for an existing, non-revoked
// device, valid for ttl. Only a SHA-256 of the token is kept.
func (r *Registry) CreateClaim(ctx context.Context, id revloop.DeviceID, ttl time.Duration) (Claim, error) {
	if ttl <= 0 || ttl > MaxClaimTTL {
		return Claim{}, fmt.Errorf("create claim: %w", revloop.Invalid("ttl", "must be between 1s and %s", MaxClaimTTL))
	}
	st, err := r.status(ctx, id)
	if err != nil {
		return Claim{}, fmt.Errorf("create claim %s: %w", id, err)
	}
	if st.State == StateRevoked {
		return Claim{}, fmt.Errorf("create claim %s: %w", id, &revloop.TransitionError{Entity: "device " + string(id), From: string(st.State), To: "claimed"})
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Claim{}, fmt.Errorf("create claim: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := r.opts.Now()
	exp := now.Add(ttl)
	if _, err := r.db.Exec(ctx, `INSERT INTO device_claims (token_hash, device_id, expires_ms, used_ms, created_ms) VALUES (?, ?, ?, 0, ?)`,
		claimHash(tok), string(id), store.Millis(exp), store.Millis(now)); err != nil {
		return Claim{}, fmt.Errorf("create claim %s: %w", id, err)
	}
	return Claim{Device: id, Token: tok, Expires: time.UnixMilli(exp.UnixMilli()).UTC()}, nil
}

// RedeemClaim exchanges a claim token for a fresh credential of its device:
// the secret is rotated (any earlier secret stops working) and the token is
// spent, in one transaction.
func (r *Registry) RedeemClaim(ctx context.Context, token string) (Credential, error) {
	if token == "" || len(token) > 256 {
		return Credential{}, ErrBadClaim
	}
	h, err := r.newHashed()
	if err != nil {
		return Credential{}, fmt.Errorf("redeem claim: %w", err)
	}
	var id revloop.DeviceID
	var state State
	now := r.opts.Now()
	err = r.db.InTx(ctx, func(tx *store.Tx) error {
		var dev string
		var exp, used int64
		err := tx.QueryRow(ctx, `SELECT device_id, expires_ms, used_ms FROM device_claims WHERE token_hash = ?`, claimHash(token)).
			Scan(&dev, &exp, &used)
		if isNoRows(err) {
			return ErrBadClaim
		}
		if err != nil {
			return err
		}
		if used != 0 || store.Millis(now) >= exp {
			return ErrBadClaim
		}
		res, err := tx.Exec(ctx, `UPDATE device_claims SET used_ms = ? WHERE token_hash = ? AND used_ms = 0`, store.Millis(now), claimHash(token))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrBadClaim
		}
		id = revloop.DeviceID(dev)
		state, err = rotateTx(ctx, tx, id, h, now)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadClaim) {
			return Credential{}, err
		}
		return Credential{}, fmt.Errorf("redeem claim: %w", err)
	}
	r.announce(Change{Device: id, Kind: ChangeRotated, State: state})
	return Credential{Device: id, Secret: h.secret}, nil
}
