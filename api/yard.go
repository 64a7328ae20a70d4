package api

import "github.com/gin-gonic/gin"

// YardDeps are the services the yard area needs.
type YardDeps struct{}

func (s *Server) mountYard(v1 *gin.RouterGroup) {}
