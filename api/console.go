package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// mountConsole adds what the web console needs besides the resources: who
// the signed-in token is.
func (s *Server) mountConsole(v1 *gin.RouterGroup) {
	v1.GET("/auth/whoami", s.require(RoleDispatcher, RoleYard, RoleAuditor, RoleCustomer), func(c *gin.Context) {
		p := principal(c)
		c.JSON(http.StatusOK, gin.H{"token_id": p.TokenID, "role": p.Role, "customer_id": p.CustomerID})
	})
}

// consoleServes hands a request outside /api/ to the console, reporting
// whether it did.
func (s *Server) consoleServes(c *gin.Context) bool {
	path := c.Request.URL.Path
	if s.opts.Console == nil || strings.HasPrefix(path, "/api/") || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
		return false
	}
	c.Status(http.StatusOK)
	s.opts.Console.ServeHTTP(c.Writer, c.Request)
	c.Abort()
	return true
}
