package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/ingest"
)

// PositionReader answers position queries (timeseries.Reader has both).
type PositionReader interface {
	LatestPositions(ctx context.Context, devices ...revloop.DeviceID) ([]revloop.Position, error)
	Positions(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.Position, error)
}

// DeadLetterLister lists the messages ingest could not accept.
type DeadLetterLister interface {
	List(ctx context.Context, q ingest.DeadLetterQuery) ([]ingest.DeadLetter, error)
}

var _ DeadLetterLister = (*ingest.DeadLetters)(nil)

// HealthCheck is one component /healthz reports; Check returns nil when the
// component works.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// TelemetryDeps are the services the telemetry area needs. /healthz and
// /metrics are always served (the latter answers 503 without Metrics); the
// position routes when
// Positions is set; the dead-letter route when DeadLetters is set.
type TelemetryDeps struct {
	Positions   PositionReader
	DeadLetters DeadLetterLister
	// Metrics serves the Prometheus exposition of the process's registry.
	Metrics http.Handler
	Health  []HealthCheck
	// MaxRange bounds a positions query; default 31 days.
	MaxRange time.Duration
}

// positionJSON is a Position with absent values as null.
type positionJSON struct {
	Device     revloop.DeviceID `json:"device"`
	Vehicle    string           `json:"vehicle,omitempty"`
	Time       time.Time        `json:"ts"`
	Lat        float64          `json:"lat"`
	Lon        float64          `json:"lon"`
	SpeedKmh   *float64         `json:"speed_kmh"`
	HeadingDeg *float64         `json:"heading_deg"`
	HDOP       *float64         `json:"hdop"`
	Sats       *int             `json:"sats"`
	OdometerKm *float64         `json:"odometer_km"`
	Ignition   *bool            `json:"ignition"`
}

func opt(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func toPositionJSON(p revloop.Position) positionJSON {
	out := positionJSON{Device: p.Device, Vehicle: p.Vehicle, Time: p.Time.UTC(), Lat: p.Lat, Lon: p.Lon,
		SpeedKmh: opt(p.SpeedKmh), HeadingDeg: opt(p.HeadingDeg), HDOP: opt(p.HDOP),
		OdometerKm: opt(p.OdometerKm), Ignition: p.Ignition}
	if p.Sats >= 0 {
		n := p.Sats
		out.Sats = &n
	}
	return out
}

type positionsPage struct {
	Device    revloop.DeviceID `json:"device"`
	From      time.Time        `json:"from"`
	To        time.Time        `json:"to"`
	Positions []positionJSON   `json:"positions"`
}

type deadLetterJSON struct {
	ingest.DeadLetter
	// PayloadText is the payload as text when it is valid UTF-8.
	PayloadText *string `json:"payload_text,omitempty"`
}

type deadLetterPage struct {
	Items []deadLetterJSON `json:"items"`
}

func queryTime(c *gin.Context, name string, def time.Time) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, revloop.Invalid(name, "want an RFC 3339 time, got %q", v)
	}
	return t.UTC(), nil
}

func (s *Server) mountTelemetry(root *gin.Engine, v1 *gin.RouterGroup) {
	d := s.deps.Telemetry
	if d.MaxRange <= 0 {
		d.MaxRange = 31 * 24 * time.Hour
	}
	root.GET("/healthz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
		defer cancel()
		comps := map[string]string{}
		status, code := "ok", http.StatusOK
		for _, h := range d.Health {
			if err := h.Check(ctx); err != nil {
				comps[h.Name] = "down: " + err.Error()
				status, code = "down", http.StatusServiceUnavailable
			} else {
				comps[h.Name] = "ok"
			}
		}
		c.JSON(code, gin.H{"status": status, "components": comps})
	})
	root.GET("/metrics", func(c *gin.Context) {
		if d.Metrics == nil {
			problem(c, http.StatusServiceUnavailable, "unavailable", "metrics are not configured", "")
			return
		}
		d.Metrics.ServeHTTP(c.Writer, c.Request)
	})
	read := s.require(RoleDispatcher, RoleAuditor, RoleYard)
	if d.Positions != nil {
		v1.GET("/devices/:id/positions", read, func(c *gin.Context) {
			id, err := deviceParam(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			now := time.Now().UTC()
			to, err := queryTime(c, "to", now)
			if err != nil {
				s.fail(c, err)
				return
			}
			from, err := queryTime(c, "from", to.Add(-24*time.Hour))
			if err != nil {
				s.fail(c, err)
				return
			}
			switch {
			case !from.Before(to):
				s.fail(c, revloop.Invalid("from", "must be before to"))
				return
			case to.Sub(from) > d.MaxRange:
				s.fail(c, revloop.Invalid("to", "range longer than %s", d.MaxRange))
				return
			}
			ps, err := d.Positions.Positions(c.Request.Context(), id, from, to)
			if err != nil {
				s.fail(c, err)
				return
			}
			page := positionsPage{Device: id, From: from, To: to, Positions: make([]positionJSON, 0, len(ps))}
			for _, p := range ps {
				page.Positions = append(page.Positions, toPositionJSON(p))
			}
			c.JSON(http.StatusOK, page)
		})
		v1.GET("/devices/:id/positions/latest", read, func(c *gin.Context) {
			id, err := deviceParam(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			ps, err := d.Positions.LatestPositions(c.Request.Context(), id)
			if err != nil {
				s.fail(c, err)
				return
			}
			for _, p := range ps {
				if p.Device == id {
					c.JSON(http.StatusOK, toPositionJSON(p))
					return
				}
			}
			problem(c, http.StatusNotFound, "not-found", "not found", "device "+string(id)+" has no position")
		})
	}
	if d.DeadLetters != nil {
		v1.GET("/deadletters", read, func(c *gin.Context) {
			var q ingest.DeadLetterQuery
			var err error
			if q.Since, err = queryTime(c, "since", time.Time{}); err != nil {
				s.fail(c, err)
				return
			}
			if r := c.Query("reason"); r != "" {
				known := false
				for _, k := range ingest.Reasons {
					known = known || k == r
				}
				if !known {
					s.fail(c, revloop.Invalid("reason", "unknown reason %q", r))
					return
				}
				q.Reason = r
			}
			if dev := c.Query("device"); dev != "" {
				id, err := revloop.ParseDeviceID(dev)
				if err != nil {
					s.fail(c, revloop.Invalid("device", "%v", err))
					return
				}
				q.Device = string(id)
			}
			q.Limit = 100
			if l := c.Query("limit"); l != "" {
				n, err := strconv.Atoi(l)
				if err != nil || n < 1 || n > 1000 {
					s.fail(c, revloop.Invalid("limit", "want 1..1000, got %q", l))
					return
				}
				q.Limit = n
			}
			dls, err := d.DeadLetters.List(c.Request.Context(), q)
			if err != nil {
				s.fail(c, err)
				return
			}
			page := deadLetterPage{Items: make([]deadLetterJSON, 0, len(dls))}
			for _, dl := range dls {
				j := deadLetterJSON{DeadLetter: dl}
				if utf8.Valid(dl.Payload) {
					t := string(dl.Payload)
					j.PayloadText = &t
				}
				page.Items = append(page.Items, j)
			}
			c.JSON(http.StatusOK, page)
		})
	}
}
