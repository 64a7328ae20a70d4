package api

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
)

// Role is what an API token may do.
type Role string

// The roles of API tokens.
const (
	RoleAdmin      Role = "admin"
	RoleDispatcher Role = "dispatcher"
	RoleYard       Role = "yard"
	RoleAuditor    Role = "auditor"
	RoleCustomer   Role = "customer"
)

// Principal is who made a request.
type Principal struct {
	TokenID    string
	Role       Role
	CustomerID string // set only for customer tokens
}

// Actor names the principal in history records ("dispatcher:tok_x").
func (p Principal) Actor() string { return string(p.Role) + ":" + p.TokenID }

// CustomerScope is the customer whose objects alone p may see, or "" when
// p is not bound to a customer.
//
// Object-level authorization answers another customer's object with 404
// Not Found, never 403 Forbidden: a customer token must not learn that an
// object id exists. 403 is kept for requests the role may never make.
func (p Principal) CustomerScope() string {
	if p.Role == RoleCustomer {
		if p.CustomerID == "" {
			return "\x00unbound" // matches nothing
		}
		return p.CustomerID
	}
	return ""
}

// TokenVerifier checks a bearer token; it returns an error matching
// revloop.ErrUnauthorized for an unknown, revoked or expired token.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// rateLimiter is implemented by verifiers that also limit each token's
// request rate (see WithRateLimit).
type rateLimiter interface {
	Allow(tokenID string) (ok bool, retryAfter time.Duration)
}

const principalKey = "revloop.principal"

// require authenticates the request and lets it through only for the given
// roles (admin is always allowed). A token over its rate limit is answered
// 429 with Retry-After.
func (s *Server) require(roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.deps.Auth == nil {
			problem(c, http.StatusServiceUnavailable, "auth-unavailable", "authentication is not configured", "")
			return
		}
		h := c.GetHeader("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			c.Header("WWW-Authenticate", `Bearer realm="revloop"`)
			problem(c, http.StatusUnauthorized, "unauthorized", "authentication required", "send Authorization: Bearer <token>")
			return
		}
		p, err := s.deps.Auth.Verify(c.Request.Context(), tok)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="revloop", error="invalid_token"`)
			s.fail(c, err)
			return
		}
		if l, ok := s.deps.Auth.(rateLimiter); ok {
			if ok, wait := l.Allow(p.TokenID); !ok {
				secs := int(math.Ceil(wait.Seconds()))
				if secs < 1 {
					secs = 1
				}
				c.Header("Retry-After", strconv.Itoa(secs))
				problem(c, http.StatusTooManyRequests, "rate-limited", "too many requests for this token",
					"retry after "+strconv.Itoa(secs)+" s")
				return
			}
		}
		if p.Role != RoleAdmin && !slices.Contains(roles, p.Role) {
			s.fail(c, revloop.ErrForbidden)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// principal returns the authenticated caller of a request that passed require.
func principal(c *gin.Context) Principal {
	p, _ := c.Get(principalKey)
	pp, _ := p.(Principal)
	return pp
}

// RateLimit is the per-token request budget: a token bucket of Burst
// requests refilled at PerSecond. A zero PerSecond disables the limit.
type RateLimit struct {
	PerSecond float64 // default 50
	Burst     int     // default 2 × PerSecond
}

// DefaultRateLimit is the budget of a token when none is configured.
var DefaultRateLimit = RateLimit{PerSecond: 50, Burst: 100}

// WithRateLimit wraps v so that require answers 429 once a token exceeds
// rl. Buckets live in memory, one per token id; with several API replicas
// each enforces the limit on its own share of the traffic.
func WithRateLimit(v TokenVerifier, rl RateLimit) TokenVerifier {
	if rl.PerSecond <= 0 {
		return v
	}
	if rl.Burst <= 0 {
		rl.Burst = int(math.Ceil(2 * rl.PerSecond))
	}
	return &limitedVerifier{TokenVerifier: v, rl: rl, now: time.Now, buckets: map[string]*bucket{}}
}

type limitedVerifier struct {
	TokenVerifier
	rl  RateLimit
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

var _ rateLimiter = (*limitedVerifier)(nil)

// Allow takes one request from the token's bucket.
func (l *limitedVerifier) Allow(tokenID string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		// Forget buckets that have been full for a while.
		for id, b := range l.buckets {
			if now.Sub(b.last) > time.Minute {
				delete(l.buckets, id)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[tokenID]
	if !ok {
		b = &bucket{tokens: float64(l.rl.Burst), last: now}
		l.buckets[tokenID] = b
	}
	b.tokens = math.Min(float64(l.rl.Burst), b.tokens+now.Sub(b.last).Seconds()*l.rl.PerSecond)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rl.PerSecond * float64(time.Second))
}
