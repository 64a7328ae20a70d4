package api

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/alerts"
	"github.com/revloop/revloop/fleet"
	"github.com/revloop/revloop/geo"
)

// FleetEvents lists geofence events and keeps sites' opening hours
// (*fleet.Fences has it).
type FleetEvents interface {
	ListEvents(ctx context.Context, f fleet.EventFilter, after string, limit int) ([]fleet.Event, error)
	SiteHours(ctx context.Context, customerID, siteID string) (*fleet.SiteHours, error)
	PutSiteHours(ctx context.Context, h fleet.SiteHours) (*fleet.SiteHours, error)
}

// FleetTrips computes trips and stops (*fleet.Trips has it).
type FleetTrips interface {
	ParseDate(field, s string) (time.Time, error)
	Day(ctx context.Context, vehicleID string, date time.Time, o geo.TripOptions) (fleet.VehicleDay, error)
	Report(ctx context.Context, from, to time.Time, o geo.TripOptions) ([]geo.DaySummary, error)
}

// FleetForecasts predicts bin fill (*fleet.Forecasts has it).
type FleetForecasts interface {
	Due(ctx context.Context, customerID string, horizon time.Duration) ([]fleet.BinForecast, error)
	Bin(ctx context.Context, customerID, binID string) (fleet.BinHistory, error)
}

// FleetAlerts lists and retries alerts and manages webhooks
// (*alerts.Service has it).
type FleetAlerts interface {
	List(ctx context.Context, f alerts.Filter, after string, limit int) ([]alerts.Alert, error)
	Retry(ctx context.Context, id string) (alerts.Alert, error)
	CreateWebhook(ctx context.Context, w alerts.Webhook) (alerts.Webhook, error)
	Webhooks(ctx context.Context) ([]alerts.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
}

var (
	_ FleetEvents    = (*fleet.Fences)(nil)
	_ FleetTrips     = (*fleet.Trips)(nil)
	_ FleetForecasts = (*fleet.Forecasts)(nil)
	_ FleetAlerts    = (*alerts.Service)(nil)
)

// FleetDeps are the services the fleet area needs: geofence events, trips
// and stops, fill forecasts and alerts. Each nil service leaves its routes
// unmounted.
type FleetDeps struct {
	Events    FleetEvents
	Trips     FleetTrips
	Forecasts FleetForecasts
	Alerts    FleetAlerts
}

// MaxForecastHorizon bounds ?horizon= of the bins forecast.
const MaxForecastHorizon = 60 * 24 * time.Hour

var (
	readEvents = []Role{RoleDispatcher, RoleAuditor, RoleCustomer}
	readTrips  = []Role{RoleDispatcher, RoleAuditor}
)

// durationQuery reads a duration given as Go duration ("90s", "48h") or as
// seconds; def when absent.
func durationQuery(c *gin.Context, name string, def, max time.Duration) (time.Duration, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s, err2 := strconv.ParseFloat(v, 64)
		if err2 != nil || math.IsNaN(s) || math.IsInf(s, 0) || s > max.Seconds() {
			return 0, revloop.Invalid(name, "want a duration such as 90s or 48h, got %q", v)
		}
		d = time.Duration(s * float64(time.Second))
	}
	if d < 0 || d > max {
		return 0, revloop.Invalid(name, "want a duration from 0 to %s", max)
	}
	return d, nil
}

// tripOptions reads min_stop and min_trip_m.
func tripOptions(c *gin.Context) (geo.TripOptions, error) {
	var o geo.TripOptions
	d, err := durationQuery(c, "min_stop", 0, 24*time.Hour)
	if err != nil {
		return o, err
	}
	o.MinStop = d
	if v := c.Query("min_trip_m"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil || !(m >= 0 && m <= 1e6) {
			return o, revloop.Invalid("min_trip_m", "want meters from 0 to 1000000, got %q", v)
		}
		o.MinTripDistanceM = m
	}
	return o, nil
}

func (s *Server) mountFleet(v1 *gin.RouterGroup) {
	d := s.deps.Fleet
	if d.Events != nil {
		v1.GET("/events", s.require(readEvents...), s.fleetEvents)
		v1.GET("/sites/:id/hours", s.require(readSites...), func(c *gin.Context) {
			h, err := d.Events.SiteHours(c.Request.Context(), principal(c).CustomerScope(), c.Param("id"))
			s.ok(c, h, err)
		})
		v1.PUT("/sites/:id/hours", s.require(), func(c *gin.Context) {
			var in fleet.SiteHours
			if !s.bind(c, &in) || !s.sameSiteID(c, &in.SiteID) {
				return
			}
			h, err := d.Events.PutSiteHours(c.Request.Context(), in)
			s.ok(c, h, err)
		})
	}
	if d.Trips != nil {
		v1.GET("/vehicles/:id/trips", s.require(readFleet...), s.vehicleTrips)
		v1.GET("/reports/trips", s.require(readTrips...), s.tripsReport)
	}
	if d.Forecasts != nil {
		v1.GET("/bins/forecast", s.require(readSites...), func(c *gin.Context) {
			h, err := durationQuery(c, "horizon", 48*time.Hour, MaxForecastHorizon)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, err := d.Forecasts.Due(c.Request.Context(), principal(c).CustomerScope(), h)
			if items == nil {
				items = []fleet.BinForecast{}
			}
			s.ok(c, gin.H{"horizon_s": h.Seconds(), "items": items}, err)
		})
		v1.GET("/bins/:id/forecast", s.require(readSites...), func(c *gin.Context) {
			out, err := d.Forecasts.Bin(c.Request.Context(), principal(c).CustomerScope(), c.Param("id"))
			s.ok(c, out, err)
		})
	}
	if d.Alerts != nil {
		v1.GET("/alerts", s.require(readEvents...), s.alertList)
		v1.POST("/alerts/:id/retry", s.require(RoleDispatcher), func(c *gin.Context) {
			a, err := d.Alerts.Retry(c.Request.Context(), c.Param("id"))
			s.ok(c, a, err)
		})
		v1.GET("/webhooks", s.require(), func(c *gin.Context) {
			ws, err := d.Alerts.Webhooks(c.Request.Context())
			if ws == nil {
				ws = []alerts.Webhook{}
			}
			s.ok(c, gin.H{"items": ws}, err)
		})
		v1.POST("/webhooks", s.require(), s.idempotent(), func(c *gin.Context) {
			var in alerts.Webhook
			if s.bind(c, &in) {
				in.ID = ""
				out, err := d.Alerts.CreateWebhook(c.Request.Context(), in)
				s.created(c, "/api/v1/webhooks/", out.ID, out, err)
			}
		})
		v1.DELETE("/webhooks/:id", s.require(), func(c *gin.Context) {
			s.deleted(c, d.Alerts.DeleteWebhook(c.Request.Context(), c.Param("id")))
		})
	}
}

// sameSiteID takes the path's site id; a different one in the body is an
// error.
func (s *Server) sameSiteID(c *gin.Context, id *string) bool {
	if *id != "" && *id != c.Param("id") {
		s.fail(c, revloop.Invalid("site_id", "differs from the id in the path"))
		return false
	}
	*id = c.Param("id")
	return true
}

func (s *Server) fleetEvents(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := fleet.EventFilter{Kind: c.Query("kind"), Vehicle: c.Query("vehicle"), SiteID: c.Query("site"),
		CustomerID: principal(c).CustomerScope(), From: from, To: to}
	items, err := s.deps.Fleet.Events.ListEvents(c.Request.Context(), f, p.After, p.Limit)
	yardPage(s, c, p, items, err)
}

func (s *Server) alertList(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := alerts.Filter{Kind: c.Query("kind"), State: c.Query("state"), CustomerID: principal(c).CustomerScope(), From: from, To: to}
	items, err := s.deps.Fleet.Alerts.List(c.Request.Context(), f, p.After, p.Limit)
	yardPage(s, c, p, items, err)
}

func (s *Server) vehicleTrips(c *gin.Context) {
	tr := s.deps.Fleet.Trips
	o, err := tripOptions(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := c.Query("date")
	if v == "" {
		s.fail(c, revloop.Invalid("date", "required: a day YYYY-MM-DD"))
		return
	}
	date, err := tr.ParseDate("date", v)
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := tr.Day(c.Request.Context(), c.Param("id"), date, o)
	s.ok(c, out, err)
}

func (s *Server) tripsReport(c *gin.Context) {
	tr := s.deps.Fleet.Trips
	o, err := tripOptions(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "csv" {
		s.fail(c, revloop.Invalid("format", "want json or csv"))
		return
	}
	var days [2]time.Time
	for i, name := range []string{"from", "to"} {
		v := c.Query(name)
		if v == "" {
			s.fail(c, revloop.Invalid(name, "required: a day YYYY-MM-DD"))
			return
		}
		if days[i], err = tr.ParseDate(name, v); err != nil {
			s.fail(c, err)
			return
		}
	}
	items, err := tr.Report(c.Request.Context(), days[0], days[1], o)
	if err != nil {
		s.fail(c, err)
		return
	}
	if format == "csv" {
		var b bytes.Buffer
		if err := geo.WriteSummaryCSV(&b, items); err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Content-Disposition", `attachment; filename="trips-`+days[0].Format(time.DateOnly)+`-`+days[1].Format(time.DateOnly)+`.csv"`)
		c.Data(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
		return
	}
	if items == nil {
		items = []geo.DaySummary{}
	}
	writeJSON(c, http.StatusOK, gin.H{"from": days[0].Format(time.DateOnly), "to": days[1].Format(time.DateOnly), "items": items})
}
