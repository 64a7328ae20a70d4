package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Options are the HTTP server's settings.
type Options struct {
	// MaxBodyBytes limits request bodies; default 1 MiB.
	MaxBodyBytes int64
	// Console, when set, serves the web console for every GET outside
	// /api/ that no API route takes.
	Console http.Handler
}

// Deps are the services the areas of the API read and change. A nil area
// dependency leaves that area unmounted.
type Deps struct {
	Auth        TokenVerifier
	Idempotency IdempotencyStore // nil: Idempotency-Key headers are ignored
	Telemetry   TelemetryDeps
	Devices     DevicesDeps
	Dispatch    DispatchDeps
	Yard        YardDeps
	Routes      RoutesDeps
	Exports     ExportsDeps
	Fleet       FleetDeps
}

// Server is the HTTP API.
type Server struct {
	log    *slog.Logger
	opts   Options
	deps   Deps
	engine *gin.Engine
}

// New builds the API with every area whose dependencies are given.
func New(log *slog.Logger, opts Options, deps Deps) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	s := &Server{log: log, opts: opts, deps: deps, engine: e}
	e.Use(s.recover, s.limitBody)
	e.NoRoute(func(c *gin.Context) {
		if s.consoleServes(c) {
			return
		}
		problem(c, http.StatusNotFound, "not-found", "no such route", c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) {
		problem(c, http.StatusMethodNotAllowed, "method-not-allowed", "method not allowed", c.Request.Method+" "+c.Request.URL.Path)
	})
	v1 := e.Group("/api/v1")
	s.mountOpenAPI(v1)
	s.mountTelemetry(e, v1)
	s.mountDevices(v1)
	s.mountDispatch(v1)
	s.mountYard(v1)
	s.mountRoutes(v1)
	s.mountExports(v1)
	s.mountFleet(v1)
	s.mountConsole(v1)
	return s
}

// Handler returns the http.Handler serving the API.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine exposes the gin engine so that the web console can be mounted beside
// the API.
func (s *Server) Engine() *gin.Engine { return s.engine }

// Serve answers requests on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.engine, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
		return err
	}
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("api: panic", "path", c.Request.URL.Path, "panic", r)
			problem(c, http.StatusInternalServerError, "internal", "internal error", "")
		}
	}()
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBodyBytes)
	}
	c.Next()
}
