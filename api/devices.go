package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/devices"
)

// DeviceRegistry is what the devices area reads and changes.
type DeviceRegistry interface {
	Add(ctx context.Context, s devices.Spec) (devices.Device, devices.Credential, error)
	Get(ctx context.Context, id revloop.DeviceID) (devices.Device, error)
	List(ctx context.Context, f devices.Filter) ([]devices.Device, error)
	Update(ctx context.Context, s devices.Spec) (devices.Device, error)
	Rotate(ctx context.Context, id revloop.DeviceID) (devices.Credential, error)
	SetState(ctx context.Context, id revloop.DeviceID, to devices.State) error
	Import(ctx context.Context, rows []devices.Row, progress func(done, total int)) ([]devices.Credential, error)
	HealthOf(ctx context.Context, id revloop.DeviceID) (devices.HealthInfo, error)
	Events(ctx context.Context, id revloop.DeviceID, limit int) ([]devices.Event, error)
	OfflineIDs(ctx context.Context) (map[revloop.DeviceID]bool, error)
	ConfigOf(ctx context.Context, id revloop.DeviceID) (devices.ConfigState, error)
	CreateClaim(ctx context.Context, id revloop.DeviceID, ttl time.Duration) (devices.Claim, error)
	RedeemClaim(ctx context.Context, token string) (devices.Credential, error)
}

var _ DeviceRegistry = (*devices.Registry)(nil)

// ConfigPusher publishes downlink configuration.
type ConfigPusher interface {
	Push(ctx context.Context, id revloop.DeviceID, spec devices.ConfigSpec) (devices.DeviceConfig, error)
}

var _ ConfigPusher = (*devices.Downlink)(nil)

// HealthSnapshotter gives the in-memory (fresher than stored) health.
type HealthSnapshotter interface {
	Snapshot(id revloop.DeviceID) (devices.HealthInfo, bool)
}

var _ HealthSnapshotter = (*devices.Health)(nil)

// DevicesDeps are the services the devices area needs. Registry nil leaves
// the area unmounted; Downlink nil answers config changes with 503; Health
// nil serves health as last flushed to the store.
type DevicesDeps struct {
	Registry DeviceRegistry
	Downlink ConfigPusher
	Health   HealthSnapshotter
}

type deviceCreated struct {
	Device devices.Device `json:"device"`
	Secret string         `json:"secret"`
}

type deviceHealth struct {
	devices.HealthInfo
	Events []devices.Event `json:"events"`
}

type importResult struct {
	Imported    int                  `json:"imported"`
	Credentials []devices.Credential `json:"credentials"`
}

type claimRequest struct {
	TTLS int64 `json:"ttl_s"`
}

type redeemRequest struct {
	Token string `json:"token"`
}

func deviceParam(c *gin.Context) (revloop.DeviceID, error) {
	id, err := revloop.ParseDeviceID(c.Param("id"))
	if err != nil {
		return "", revloop.Invalid("id", "%v", err)
	}
	return id, nil
}

func (s *Server) mountDevices(v1 *gin.RouterGroup) {
	d := s.deps.Devices
	if d.Registry == nil {
		return
	}
	reg := d.Registry
	admin := s.require()
	withID := func(fn func(c *gin.Context, id revloop.DeviceID)) gin.HandlerFunc {
		return func(c *gin.Context) {
			id, err := deviceParam(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			fn(c, id)
		}
	}

	v1.GET("/devices", admin, func(c *gin.Context) {
		p, err := pageOf(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		f := devices.Filter{After: revloop.DeviceID(p.After)}
		if k := c.Query("kind"); k != "" {
			if f.Kind, err = devices.ParseKind(k); err != nil {
				s.fail(c, err)
				return
			}
		}
		state := c.Query("state")
		if state != "" && state != "offline" {
			if f.State, err = devices.ParseState(state); err != nil {
				s.fail(c, revloop.Invalid("state", "unknown state %q (want active, disabled, revoked or offline)", state))
				return
			}
		}
		if f.Label, err = devices.ParseLabels(c.Query("label")); err != nil {
			s.fail(c, err)
			return
		}
		var offline map[revloop.DeviceID]bool
		if state == "offline" {
			if offline, err = reg.OfflineIDs(c.Request.Context()); err != nil {
				s.fail(c, err)
				return
			}
		} else {
			f.Limit = p.Limit + 1
		}
		list, err := reg.List(c.Request.Context(), f)
		if err != nil {
			s.fail(c, err)
			return
		}
		if offline != nil {
			kept := list[:0]
			for _, dv := range list {
				if offline[dv.ID] {
					kept = append(kept, dv)
				}
			}
			list = kept
		}
		next := ""
		if len(list) > p.Limit {
			list = list[:p.Limit]
			next = string(list[len(list)-1].ID)
		}
		writePage(c, list, next)
	})
	v1.POST("/devices", admin, func(c *gin.Context) {
		var in devices.Spec
		if !s.bind(c, &in) {
			return
		}
		dv, cred, err := reg.Add(c.Request.Context(), in)
		s.created(c, "/api/v1/devices/", string(dv.ID), deviceCreated{Device: dv, Secret: cred.Secret}, err)
	})
	v1.POST("/devices/import", admin, func(c *gin.Context) {
		// The body is bounded by the server's MaxBodyBytes (1 MiB by
		// default, about 15,000 rows); larger files go through the CLI.
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			s.fail(c, err)
			return
		}
		rows, err := devices.ParseCSV(bytes.NewReader(body))
		if err != nil {
			s.fail(c, err)
			return
		}
		creds, err := reg.Import(c.Request.Context(), rows, nil)
		if creds == nil {
			creds = []devices.Credential{}
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, importResult{Imported: len(creds), Credentials: creds})
	})
	v1.POST("/devices/claim", func(c *gin.Context) {
		var in redeemRequest
		if !s.bind(c, &in) {
			return
		}
		cred, err := reg.RedeemClaim(c.Request.Context(), in.Token)
		s.ok(c, cred, err)
	})
	v1.GET("/devices/:id", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		dv, err := reg.Get(c.Request.Context(), id)
		s.ok(c, dv, err)
	}))
	v1.PUT("/devices/:id", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		var in devices.Spec
		if !s.bind(c, &in) || !s.sameID(c, &in.ID) {
			return
		}
		cur, err := reg.Get(c.Request.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		if in.Kind == "" {
			in.Kind = string(cur.Kind)
		}
		if in.Kind != string(cur.Kind) {
			s.fail(c, revloop.Invalid("kind", "cannot change from %s to %s; provision a new device", cur.Kind, in.Kind))
			return
		}
		dv, err := reg.Update(c.Request.Context(), in)
		s.ok(c, dv, err)
	}))
	v1.POST("/devices/:id/rotate", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		cred, err := reg.Rotate(c.Request.Context(), id)
		s.ok(c, cred, err)
	}))
	for op, to := range map[string]devices.State{"revoke": devices.StateRevoked, "disable": devices.StateDisabled, "enable": devices.StateActive} {
		v1.POST("/devices/:id/"+op, admin, withID(func(c *gin.Context, id revloop.DeviceID) {
			if err := reg.SetState(c.Request.Context(), id, to); err != nil {
				s.fail(c, err)
				return
			}
			dv, err := reg.Get(c.Request.Context(), id)
			s.ok(c, dv, err)
		}))
	}
	v1.POST("/devices/:id/claims", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		in := claimRequest{TTLS: 86400}
		if c.Request.ContentLength != 0 && !s.bind(c, &in) {
			return
		}
		cl, err := reg.CreateClaim(c.Request.Context(), id, time.Duration(in.TTLS)*time.Second)
		s.created(c, "/api/v1/devices/", string(id), cl, err)
	}))
	v1.GET("/devices/:id/health", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		h, err := reg.HealthOf(c.Request.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		if d.Health != nil {
			if live, ok := d.Health.Snapshot(id); ok {
				h = live
			}
		}
		ev, err := reg.Events(c.Request.Context(), id, 50)
		if ev == nil {
			ev = []devices.Event{}
		}
		s.ok(c, deviceHealth{HealthInfo: h, Events: ev}, err)
	}))
	v1.GET("/devices/:id/config", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		cs, err := reg.ConfigOf(c.Request.Context(), id)
		if err == nil && d.Health != nil {
			if live, ok := d.Health.Snapshot(id); ok && live.ConfigVersion > cs.AckedVersion {
				cs.AckedVersion = live.ConfigVersion
			}
		}
		s.ok(c, cs, err)
	}))
	v1.PUT("/devices/:id/config", admin, withID(func(c *gin.Context, id revloop.DeviceID) {
		var in devices.ConfigSpec
		if !s.bind(c, &in) {
			return
		}
		if d.Downlink == nil {
			s.fail(c, fmt.Errorf("device config: no MQTT downlink configured: %w", revloop.ErrUnavailable))
			return
		}
		cfg, err := d.Downlink.Push(c.Request.Context(), id, in)
		s.ok(c, cfg, err)
	}))
}
