package api

import "github.com/gin-gonic/gin"

// ExportsDeps are the services the exports area needs.
type ExportsDeps struct{}

func (s *Server) mountExports(v1 *gin.RouterGroup) {}
