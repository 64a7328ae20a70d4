package api

import "github.com/gin-gonic/gin"

// FleetDeps are the services the fleet area needs: geofence events, trips
// and stops, fill forecasts and alerts.
type FleetDeps struct{}

func (s *Server) mountFleet(v1 *gin.RouterGroup) {}
