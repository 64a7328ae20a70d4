package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

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

// TokenVerifier checks a bearer token; it returns an error matching
// revloop.ErrUnauthorized for an unknown, revoked or expired token.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

const principalKey = "revloop.principal"

// require authenticates the request and lets it through only for the given
// roles (admin is always allowed).
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
