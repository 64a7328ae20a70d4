package api

import "github.com/gin-gonic/gin"

// DispatchDeps are the services the dispatch area needs.
type DispatchDeps struct{}

func (s *Server) mountDispatch(v1 *gin.RouterGroup) {}
