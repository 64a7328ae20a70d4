package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/dispatch"
)

// DispatchStore is what the dispatch area reads and changes.
type DispatchStore interface {
	CreateCustomer(ctx context.Context, c dispatch.Customer) (dispatch.Customer, error)
	Customer(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Customer, error)
	ListCustomers(ctx context.Context, sc dispatch.Scope, f dispatch.CustomerFilter, p dispatch.Page) ([]dispatch.Customer, string, error)
	UpdateCustomer(ctx context.Context, c dispatch.Customer) (dispatch.Customer, error)
	DeleteCustomer(ctx context.Context, id string) error

	CreateSite(ctx context.Context, s dispatch.Site) (dispatch.Site, error)
	Site(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Site, error)
	ListSites(ctx context.Context, sc dispatch.Scope, f dispatch.SiteFilter, p dispatch.Page) ([]dispatch.Site, string, error)
	UpdateSite(ctx context.Context, s dispatch.Site) (dispatch.Site, error)
	DeleteSite(ctx context.Context, id string) error

	CreateVehicle(ctx context.Context, v dispatch.Vehicle) (dispatch.Vehicle, error)
	Vehicle(ctx context.Context, id string) (dispatch.Vehicle, error)
	ListVehicles(ctx context.Context, f dispatch.VehicleFilter, p dispatch.Page) ([]dispatch.Vehicle, string, error)
	UpdateVehicle(ctx context.Context, v dispatch.Vehicle) (dispatch.Vehicle, error)
	DeleteVehicle(ctx context.Context, id string) error

	CreateBin(ctx context.Context, b dispatch.Bin) (dispatch.Bin, error)
	Bin(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Bin, error)
	ListBins(ctx context.Context, sc dispatch.Scope, f dispatch.BinFilter, p dispatch.Page) ([]dispatch.Bin, string, error)
	UpdateBin(ctx context.Context, b dispatch.Bin) (dispatch.Bin, error)
	DeleteBin(ctx context.Context, id string) error
	BinsGeoJSON(ctx context.Context, sc dispatch.Scope, f dispatch.BinFilter, fills dispatch.FillLookup) ([]byte, error)

	CreatePickup(ctx context.Context, sc dispatch.Scope, p dispatch.Pickup, actor string) (dispatch.Pickup, error)
	Pickup(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Pickup, error)
	ListPickups(ctx context.Context, sc dispatch.Scope, f dispatch.PickupFilter, p dispatch.Page) ([]dispatch.Pickup, string, error)
	TransitionPickup(ctx context.Context, sc dispatch.Scope, id, to, note, actor string) (dispatch.Pickup, error)

	CreateComplaint(ctx context.Context, sc dispatch.Scope, c dispatch.Complaint) (dispatch.Complaint, error)
	Complaint(ctx context.Context, sc dispatch.Scope, id string) (dispatch.Complaint, error)
	ListComplaints(ctx context.Context, sc dispatch.Scope, f dispatch.ComplaintFilter, p dispatch.Page) ([]dispatch.Complaint, string, error)
	ResolveComplaint(ctx context.Context, id, outcome string) (dispatch.Complaint, error)
}

var _ DispatchStore = (*dispatch.Store)(nil)

// LiveView is the in-memory view of the fleet and the bins.
type LiveView interface {
	Positions() *dispatch.Snapshot
	Fill(dev revloop.DeviceID) (revloop.FillReading, bool)
	Hub() *dispatch.Hub
	Invalidate()
}

var _ LiveView = (*dispatch.Live)(nil)

// TrackReader reads a tracker's stored fixes (timeseries.Reader has it).
type TrackReader interface {
	Positions(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.Position, error)
}

// DispatchDeps are the services the dispatch area needs. Store nil leaves
// the area unmounted; Live and Tracks nil leave the live routes
// (fleet/positions, bins.geojson, stream, vehicle tracks) unmounted.
type DispatchDeps struct {
	Store  DispatchStore
	Live   LiveView
	Tracks TrackReader
	// StreamKeepAlive is the interval of comment lines on the live stream;
	// default 15 s.
	StreamKeepAlive time.Duration
}

// MaxTrackSpan bounds the time range of a vehicle track.
const MaxTrackSpan = 31 * 24 * time.Hour

var (
	readFleet     = []Role{RoleDispatcher, RoleYard, RoleAuditor}
	readCustomers = []Role{RoleDispatcher, RoleAuditor, RoleCustomer}
	readSites     = []Role{RoleDispatcher, RoleYard, RoleAuditor, RoleCustomer}
	writeDispatch = []Role{RoleDispatcher}
	customerOrDsp = []Role{RoleDispatcher, RoleCustomer}
)

func scopeOf(c *gin.Context) dispatch.Scope {
	return dispatch.Scope{CustomerID: principal(c).CustomerScope()}
}

func pageIn(c *gin.Context) (dispatch.Page, error) {
	p, err := pageOf(c)
	return dispatch.Page{Limit: p.Limit, After: p.After}, err
}

func (s *Server) mountDispatch(v1 *gin.RouterGroup) {
	d := s.deps.Dispatch
	if d.Store == nil {
		return
	}
	st := d.Store
	invalidate := func() {
		if d.Live != nil {
			d.Live.Invalidate()
		}
	}

	// customers
	v1.GET("/customers", s.require(readCustomers...), func(c *gin.Context) {
		p, err := pageIn(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListCustomers(c.Request.Context(), scopeOf(c), dispatch.CustomerFilter{Kind: c.Query("kind")}, p)
		respondPage(s, c, items, next, err)
	})
	v1.POST("/customers", s.require(writeDispatch...), s.idempotent(), func(c *gin.Context) {
		var in dispatch.Customer
		if s.bind(c, &in) {
			out, err := st.CreateCustomer(c.Request.Context(), in)
			s.created(c, "/api/v1/customers/", out.ID, out, err)
		}
	})
	v1.GET("/customers/:id", s.require(readCustomers...), func(c *gin.Context) {
		out, err := st.Customer(c.Request.Context(), scopeOf(c), c.Param("id"))
		s.ok(c, out, err)
	})
	v1.PUT("/customers/:id", s.require(writeDispatch...), func(c *gin.Context) {
		var in dispatch.Customer
		if s.bind(c, &in) && s.sameID(c, &in.ID) {
			out, err := st.UpdateCustomer(c.Request.Context(), in)
			s.ok(c, out, err)
		}
	})
	v1.DELETE("/customers/:id", s.require(writeDispatch...), func(c *gin.Context) {
		s.deleted(c, st.DeleteCustomer(c.Request.Context(), c.Param("id")))
	})

	// sites
	v1.GET("/sites", s.require(readSites...), func(c *gin.Context) {
		p, err := pageIn(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListSites(c.Request.Context(), scopeOf(c), dispatch.SiteFilter{Kind: c.Query("kind"), CustomerID: c.Query("customer_id")}, p)
		respondPage(s, c, items, next, err)
	})
	v1.POST("/sites", s.require(writeDispatch...), s.idempotent(), func(c *gin.Context) {
		var in dispatch.Site
		if s.bind(c, &in) {
			out, err := st.CreateSite(c.Request.Context(), in)
			s.created(c, "/api/v1/sites/", out.ID, out, err)
		}
	})
	v1.GET("/sites/:id", s.require(readSites...), func(c *gin.Context) {
		out, err := st.Site(c.Request.Context(), scopeOf(c), c.Param("id"))
		s.ok(c, out, err)
	})
	v1.PUT("/sites/:id", s.require(writeDispatch...), func(c *gin.Context) {
		var in dispatch.Site
		if s.bind(c, &in) && s.sameID(c, &in.ID) {
			out, err := st.UpdateSite(c.Request.Context(), in)
			s.ok(c, out, err)
		}
	})
	v1.DELETE("/sites/:id", s.require(writeDispatch...), func(c *gin.Context) {
		s.deleted(c, st.DeleteSite(c.Request.Context(), c.Param("id")))
	})

	// vehicles
	v1.GET("/vehicles", s.require(readFleet...), func(c *gin.Context) {
		p, err := pageIn(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		f := dispatch.VehicleFilter{FuelType: c.Query("fuel_type"), DepotSiteID: c.Query("depot_site_id"), TrackerDeviceID: c.Query("tracker_device_id")}
		items, next, err := st.ListVehicles(c.Request.Context(), f, p)
		respondPage(s, c, items, next, err)
	})
	v1.POST("/vehicles", s.require(writeDispatch...), s.idempotent(), func(c *gin.Context) {
		var in dispatch.Vehicle
		if s.bind(c, &in) {
			out, err := st.CreateVehicle(c.Request.Context(), in)
			if err == nil {
				invalidate()
			}
			s.created(c, "/api/v1/vehicles/", out.ID, out, err)
		}
	})
	v1.GET("/vehicles/:id", s.require(readFleet...), func(c *gin.Context) {
		out, err := st.Vehicle(c.Request.Context(), c.Param("id"))
		s.ok(c, out, err)
	})
	v1.PUT("/vehicles/:id", s.require(writeDispatch...), func(c *gin.Context) {
		var in dispatch.Vehicle
		if s.bind(c, &in) && s.sameID(c, &in.ID) {
			out, err := st.UpdateVehicle(c.Request.Context(), in)
			if err == nil {
				invalidate()
			}
			s.ok(c, out, err)
		}
	})
	v1.DELETE("/vehicles/:id", s.require(writeDispatch...), func(c *gin.Context) {
		err := st.DeleteVehicle(c.Request.Context(), c.Param("id"))
		if err == nil {
			invalidate()
		}
		s.deleted(c, err)
	})

	// bins
	v1.GET("/bins", s.require(readSites...), func(c *gin.Context) {
		f := dispatch.BinFilter{SiteID: c.Query("site_id"), Material: c.Query("material")}
		switch c.Query("format") {
		case "geojson":
			s.binsGeoJSON(c, f)
			return
		case "", "json":
		default:
			s.fail(c, revloop.Invalid("format", "want json or geojson"))
			return
		}
		p, err := pageIn(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListBins(c.Request.Context(), scopeOf(c), f, p)
		respondPage(s, c, items, next, err)
	})
	v1.POST("/bins", s.require(writeDispatch...), s.idempotent(), func(c *gin.Context) {
		var in dispatch.Bin
		if s.bind(c, &in) {
			out, err := st.CreateBin(c.Request.Context(), in)
			s.created(c, "/api/v1/bins/", out.ID, out, err)
		}
	})
	v1.GET("/bins/:id", s.require(readSites...), func(c *gin.Context) {
		out, err := st.Bin(c.Request.Context(), scopeOf(c), c.Param("id"))
		s.ok(c, out, err)
	})
	v1.PUT("/bins/:id", s.require(writeDispatch...), func(c *gin.Context) {
		var in dispatch.Bin
		if s.bind(c, &in) && s.sameID(c, &in.ID) {
			out, err := st.UpdateBin(c.Request.Context(), in)
			s.ok(c, out, err)
		}
	})
	v1.DELETE("/bins/:id", s.require(writeDispatch...), func(c *gin.Context) {
		s.deleted(c, st.DeleteBin(c.Request.Context(), c.Param("id")))
	})
	v1.GET("/bins.geojson", s.require(readSites...), func(c *gin.Context) {
		s.binsGeoJSON(c, dispatch.BinFilter{SiteID: c.Query("site_id"), Material: c.Query("material")})
	})

	// pickups
	v1.GET("/pickups", s.require(readCustomers...), func(c *gin.Context) {
		p, err := pageIn(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		f := dispatch.PickupFilter{Status: c.Query("status"), CustomerID: c.Query("customer_id"), SiteID: c.Query("site_id")}
		items, next, err := st.ListPickups(c.Request.Context(), scopeOf(c), f, p)
		respondPage(s, c, items, next, err)
	})
	v1.POST("/pickups", s.require(customerOrDsp...), s.idempotent(), func(c *gin.Context) {
		var in dispatch.Pickup
		if s.bind(c, &in) {
			in.Status, in.History = "", nil
			out, err := st.CreatePickup(c.Request.Context(), scopeOf(c), in, principal(c).Actor())
			s.created(c, "/api/v1/pickups/", out.ID, out, err)
		}
	})
	v1.GET("/pickups/:id", s.require(readCustomers...), func(c *gin.Context) {
		out, err := st.Pickup(c.Request.Context(), scopeOf(c), c.Param("id"))
		s.ok(c, out, err)
	})
	v1.POST("/pickups/:id/transitions", s.require(customerOrDsp...), s.idempotent(), func(c *gin.Context) {
		var in struct {
			To   string `json:"to"`
			Note string `json:"note"`
		}
		if !s.bind(c, &in) {
			return
		}
		if principal(c).Role == RoleCustomer && in.To != dispatch.PickupCancelled {
			// Check visibility first so that another customer's pickup stays a 404.
			if _, err := st.Pickup(c.Request.Context(), scopeOf(c), c.Param("id")); err != nil {
				s.fail(c, err)
				return
			}
			s.fail(c, fmt.Errorf("%w: a customer may only cancel its pickup requests", revloop.ErrForbidden))
			return
		}
		out, err := st.TransitionPickup(c.Request.Context(), scopeOf(c), c.Param("id"), in.To, in.Note, principal(c).Actor())
		s.ok(c, out, err)
	})

	// complaints
	v1.GET("/complaints", s.require(readCustomers...), func(c *gin.Context) {
		p, err := pageIn(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		f := dispatch.ComplaintFilter{CustomerID: c.Query("customer_id"), SubjectKind: c.Query("subject_kind"), Open: c.Query("open")}
		items, next, err := st.ListComplaints(c.Request.Context(), scopeOf(c), f, p)
		respondPage(s, c, items, next, err)
	})
	v1.POST("/complaints", s.require(customerOrDsp...), s.idempotent(), func(c *gin.Context) {
		var in dispatch.Complaint
		if s.bind(c, &in) {
			in.Opened, in.Resolved, in.Outcome, in.TimeToResolveS = time.Time{}, time.Time{}, "", 0
			out, err := st.CreateComplaint(c.Request.Context(), scopeOf(c), in)
			s.created(c, "/api/v1/complaints/", out.ID, out, err)
		}
	})
	v1.GET("/complaints/:id", s.require(readCustomers...), func(c *gin.Context) {
		out, err := st.Complaint(c.Request.Context(), scopeOf(c), c.Param("id"))
		s.ok(c, out, err)
	})
	v1.POST("/complaints/:id/resolve", s.require(writeDispatch...), s.idempotent(), func(c *gin.Context) {
		var in struct {
			Outcome string `json:"outcome"`
		}
		if s.bind(c, &in) {
			out, err := st.ResolveComplaint(c.Request.Context(), c.Param("id"), in.Outcome)
			s.ok(c, out, err)
		}
	})

	if d.Live != nil && d.Tracks != nil {
		s.mountLive(v1)
	}
}

// mountLive adds the live view: fleet positions, vehicle tracks and the
// event stream.
func (s *Server) mountLive(v1 *gin.RouterGroup) {
	d := s.deps.Dispatch
	v1.GET("/fleet/positions", s.require(readFleet...), func(c *gin.Context) {
		snap := d.Live.Positions()
		c.Header("ETag", snap.ETag)
		c.Header("Cache-Control", "no-cache")
		c.Header("Last-Modified", snap.Built.UTC().Format(http.TimeFormat))
		if inm := c.GetHeader("If-None-Match"); inm != "" && inm == snap.ETag {
			c.Status(http.StatusNotModified)
			return
		}
		c.Header("Vary", "Accept-Encoding")
		body := snap.JSON
		if strings.Contains(c.GetHeader("Accept-Encoding"), "gzip") {
			c.Header("Content-Encoding", "gzip")
			body = snap.Gzip
		}
		// An explicit length spares the chunked encoding of a large body.
		c.Header("Content-Length", strconv.Itoa(len(body)))
		c.Data(http.StatusOK, "application/geo+json", body)
	})
	v1.GET("/vehicles/:id/track", s.require(readFleet...), func(c *gin.Context) {
		ctx := c.Request.Context()
		to, from := time.Now().UTC(), time.Time{}
		var err error
		if v := c.Query("to"); v != "" {
			if to, err = time.Parse(time.RFC3339Nano, v); err != nil {
				s.fail(c, revloop.Invalid("to", "want an RFC 3339 time"))
				return
			}
		}
		from = to.Add(-24 * time.Hour)
		if v := c.Query("from"); v != "" {
			if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
				s.fail(c, revloop.Invalid("from", "want an RFC 3339 time"))
				return
			}
		}
		switch {
		case !to.After(from):
			s.fail(c, revloop.Invalid("to", "must be after from"))
			return
		case to.Sub(from) > MaxTrackSpan:
			s.fail(c, revloop.Invalid("from", "a track spans at most %s", MaxTrackSpan))
			return
		}
		format := c.DefaultQuery("format", "geojson")
		if !slices.Contains([]string{"geojson", "gpx"}, format) {
			s.fail(c, revloop.Invalid("format", "want geojson or gpx"))
			return
		}
		v, err := d.Store.Vehicle(ctx, c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		if v.TrackerDeviceID == "" {
			s.fail(c, fmt.Errorf("%w: vehicle %s has no tracker", revloop.ErrNotFound, v.ID))
			return
		}
		ps, err := d.Tracks.Positions(ctx, revloop.DeviceID(v.TrackerDeviceID), from, to)
		if err != nil {
			s.fail(c, err)
			return
		}
		if format == "gpx" {
			c.Header("Content-Disposition", `attachment; filename="`+v.ID+`.gpx"`)
			c.Data(http.StatusOK, "application/gpx+xml", dispatch.TrackGPX(v, ps))
			return
		}
		b, err := dispatch.TrackGeoJSON(v, from, to, ps)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Data(http.StatusOK, "application/geo+json", b)
	})
	v1.GET("/stream", s.require(readFleet...), s.stream)
}

var streamTypes = []string{"position", "event"}

// stream serves Server-Sent Events of positions and events. A client that
// cannot keep up is disconnected rather than slowing ingest down; it may
// reconnect.
func (s *Server) stream(c *gin.Context) {
	d := s.deps.Dispatch
	var types []string
	if v := c.Query("types"); v != "" {
		for _, t := range strings.Split(v, ",") {
			if !slices.Contains(streamTypes, t) {
				s.fail(c, revloop.Invalid("types", "unknown type %q (want position, event)", t))
				return
			}
			types = append(types, t)
		}
	}
	keep := d.StreamKeepAlive
	if keep <= 0 {
		keep = 15 * time.Second
	}
	hub := d.Live.Hub()
	sub := hub.Subscribe(types...)
	defer hub.Unsubscribe(sub)
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.WriteString(": revloop live stream\n\n")
	w.Flush()
	tick := time.NewTicker(keep)
	defer tick.Stop()
	for {
		select {
		case <-c.Request.Context().Done():
			return
		case <-tick.C:
			if _, err := w.WriteString(": keep-alive\n\n"); err != nil {
				return
			}
			w.Flush()
		case m, ok := <-sub.C:
			if !ok {
				w.WriteString("event: dropped\ndata: {\"reason\":\"client too slow\"}\n\n")
				w.Flush()
				return
			}
			if _, err := w.WriteString("event: " + m.Type + "\ndata: " + string(m.Data) + "\n\n"); err != nil {
				return
			}
			// Flush when the buffer is drained, to batch bursts.
			if len(sub.C) == 0 {
				w.Flush()
			}
		}
	}
}

func (s *Server) binsGeoJSON(c *gin.Context, f dispatch.BinFilter) {
	d := s.deps.Dispatch
	var fills dispatch.FillLookup
	if d.Live != nil {
		fills = d.Live
	}
	b, err := d.Store.BinsGeoJSON(c.Request.Context(), scopeOf(c), f, fills)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/geo+json", b)
}

// bind decodes the body strictly, answering a problem when it cannot.
func (s *Server) bind(c *gin.Context, v any) bool {
	if err := bindJSON(c, v); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// sameID takes the path's id for a replacing request; a different id in
// the body is an error.
func (s *Server) sameID(c *gin.Context, id *string) bool {
	if *id != "" && *id != c.Param("id") {
		s.fail(c, revloop.Invalid("id", "differs from the id in the path"))
		return false
	}
	*id = c.Param("id")
	return true
}

func (s *Server) ok(c *gin.Context, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, v)
}

func (s *Server) created(c *gin.Context, prefix, id string, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", prefix+id)
	writeJSON(c, http.StatusCreated, v)
}

func (s *Server) deleted(c *gin.Context, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// respondPage answers one page of a list, or the error.
func respondPage[T any](s *Server, c *gin.Context, items []T, next string, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	writePage(c, items, next)
}
