package api

import "github.com/gin-gonic/gin"

// TelemetryDeps are the services the telemetry area needs.
type TelemetryDeps struct{}

func (s *Server) mountTelemetry(root *gin.Engine, v1 *gin.RouterGroup) {}
