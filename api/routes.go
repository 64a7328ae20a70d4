package api

import (
	"context"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/routing"
)

// Planner plans, stores, commits and re-plans routes (package routing).
type Planner interface {
	Plan(ctx context.Context, in routing.PlanInput) (routing.PlanView, error)
	Get(ctx context.Context, id string) (routing.PlanView, error)
	List(ctx context.Context, day string) ([]routing.PlanView, error)
	Commit(ctx context.Context, id, actor string) (routing.PlanView, error)
	Replan(ctx context.Context, in routing.ReplanInput) (routing.PlanView, error)
	WriteSVG(ctx context.Context, id string, w io.Writer) error
}

var _ Planner = (*routing.Service)(nil)

// RoutesDeps are the services the routes area needs.
type RoutesDeps struct {
	Planner Planner
}

func (s *Server) mountRoutes(v1 *gin.RouterGroup) {
	p := s.deps.Routes.Planner
	if p == nil {
		return
	}
	read := s.require(RoleDispatcher, RoleAuditor)
	write := s.require(RoleDispatcher)
	v1.POST("/routes/plan", write, s.idempotent(), func(c *gin.Context) {
		var in routing.PlanInput
		if err := bindJSON(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		v, err := p.Plan(c.Request.Context(), in)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, v)
	})
	v1.POST("/routes/replan", write, s.idempotent(), func(c *gin.Context) {
		var in routing.ReplanInput
		if err := bindJSON(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		v, err := p.Replan(c.Request.Context(), in)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, v)
	})
	v1.GET("/routes", read, func(c *gin.Context) {
		day := c.Query("date")
		if day == "" {
			s.fail(c, revloop.Invalid("date", "required (YYYY-MM-DD)"))
			return
		}
		vs, err := p.List(c.Request.Context(), day)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"items": vs})
	})
	v1.GET("/routes/:id", read, func(c *gin.Context) {
		v, err := p.Get(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	})
	v1.GET("/routes/:id/map.svg", read, func(c *gin.Context) {
		w := &lazyWriter{c: c, contentType: "image/svg+xml", disposition: `inline; filename="` + c.Param("id") + `.svg"`}
		if err := p.WriteSVG(c.Request.Context(), c.Param("id"), w); err != nil && !w.started {
			s.fail(c, err)
		}
	})
	v1.POST("/routes/:id/commit", write, s.idempotent(), func(c *gin.Context) {
		v, err := p.Commit(c.Request.Context(), c.Param("id"), principal(c).Actor())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	})
}
