package api

import "github.com/gin-gonic/gin"

// RoutesDeps are the services the routes area needs.
type RoutesDeps struct{}

func (s *Server) mountRoutes(v1 *gin.RouterGroup) {}
