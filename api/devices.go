package api

import "github.com/gin-gonic/gin"

// DevicesDeps are the services the devices area needs.
type DevicesDeps struct{}

func (s *Server) mountDevices(v1 *gin.RouterGroup) {}
