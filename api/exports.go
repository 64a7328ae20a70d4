package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/compliance"
	"github.com/revloop/revloop/report"
)

// Exporter writes compliance documents (package compliance).
type Exporter interface {
	Export(ctx context.Context, w io.Writer, req compliance.ExportRequest, deps compliance.ExportDeps, progress func(done, total int)) error
	IssueNote(ctx context.Context, kind, ref string) (compliance.TransferNote, error)
	DeleteNote(ctx context.Context, id string) error
	RecordSurvey(ctx context.Context, sv compliance.Survey, customer string) (compliance.Survey, error)
}

var _ Exporter = (*compliance.Service)(nil)

// ExportsDeps are the services the exports area needs.
type ExportsDeps struct {
	Exporter Exporter
	// Deps feed the emissions figures; nil Tracks leaves them out.
	Deps compliance.ExportDeps
	// Tariffs price material per tonne for the customer ranking.
	Tariffs map[string]float64
}

func (s *Server) mountExports(v1 *gin.RouterGroup) {
	d := s.deps.Exports
	if d.Exporter == nil {
		return
	}
	audit := s.require(RoleAuditor)
	v1.GET("/exports/:kind", audit, s.exportDocument)
	v1.GET("/exports/transfer-notes/:kind/:ref", audit, s.getTransferNote)
	v1.DELETE("/exports/transfer-notes/:kind/:ref", s.require(), s.deleteTransferNote)
	v1.GET("/reports/service", s.require(RoleAuditor, RoleDispatcher, RoleCustomer), s.serviceReport)
	v1.POST("/pickups/:id/survey", s.require(RoleCustomer, RoleDispatcher), s.idempotent(), s.postSurvey)
}

// exportRequest reads the common query parameters of an export.
func exportRequest(c *gin.Context, kind string) (compliance.ExportRequest, error) {
	req := compliance.ExportRequest{Kind: kind, Format: c.DefaultQuery("format", "json"), Yard: c.Query("yard"), Customer: c.Query("customer")}
	if v := c.Query("falling_pct"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 100 {
			return req, revloop.Invalid("falling_pct", "want a percentage between 0 and 100, got %q", v)
		}
		req.FallingPct = f
	}
	p, err := compliance.ParsePeriod(c.Query("from"), c.Query("to"))
	if err != nil {
		return req, err
	}
	req.Period = p
	return req, req.Validate()
}

// writeExport streams one document; an error before the first byte is a
// problem body, after it the connection is cut so a client never takes a
// truncated file for a whole one.
func (s *Server) writeExport(c *gin.Context, req compliance.ExportRequest, name string) {
	d := s.deps.Exports
	w := &lazyWriter{c: c, contentType: report.ContentType(req.Format),
		disposition: fmt.Sprintf(`attachment; filename="%s.%s"`, name, req.Format)}
	if req.Kind == compliance.KindRanking {
		req.Tariffs = d.Tariffs
	}
	err := d.Exporter.Export(c.Request.Context(), w, req, d.Deps, nil)
	if err != nil && !w.started {
		s.fail(c, err)
		return
	}
	if err != nil {
		s.log.Error("api: export failed after streaming began", "kind", req.Kind, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !w.started {
		w.start()
	}
}

// lazyWriter sends the headers with the first byte of the document.
type lazyWriter struct {
	c                        *gin.Context
	contentType, disposition string
	started                  bool
}

func (w *lazyWriter) start() {
	w.started = true
	w.c.Header("Content-Type", w.contentType)
	w.c.Header("Content-Disposition", w.disposition)
	w.c.Status(http.StatusOK)
}

func (w *lazyWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.start()
	}
	return w.c.Writer.Write(p)
}

func (s *Server) exportDocument(c *gin.Context) {
	kind := c.Param("kind")
	if kind == compliance.KindService {
		s.fail(c, revloop.Invalid("kind", "service reports are at /api/v1/reports/service"))
		return
	}
	req, err := exportRequest(c, kind)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeExport(c, req, kind+"-"+req.Period.From.Format("20060102")+"-"+req.Period.To.Format("20060102"))
}

func (s *Server) serviceReport(c *gin.Context) {
	p := principal(c)
	customer := c.Query("customer")
	if p.Role == RoleCustomer {
		if customer == "" {
			customer = p.CustomerID
		}
		if customer != p.CustomerID {
			// Another customer's report does not exist for this token.
			s.fail(c, fmt.Errorf("customer %q: %w", customer, revloop.ErrNotFound))
			return
		}
	}
	if customer == "" {
		s.fail(c, revloop.Invalid("customer", "required"))
		return
	}
	kind := c.DefaultQuery("period", "month")
	period, err := compliance.ServicePeriod(kind, c.Query("at"))
	if err != nil {
		s.fail(c, err)
		return
	}
	req := compliance.ExportRequest{Kind: compliance.KindService, Format: c.DefaultQuery("format", "json"), Period: period,
		Customer: customer, PeriodKind: kind}
	if err := req.Validate(); err != nil {
		s.fail(c, err)
		return
	}
	s.writeExport(c, req, "service-"+customer+"-"+period.From.Format("2006-01"))
}

func (s *Server) getTransferNote(c *gin.Context) {
	n, err := s.deps.Exports.Exporter.IssueNote(c.Request.Context(), c.Param("kind"), c.Param("ref"))
	if err != nil {
		s.fail(c, err)
		return
	}
	format := c.DefaultQuery("format", "json")
	if err := report.CheckFormat(format, "json", "csv", "pdf"); err != nil {
		s.fail(c, err)
		return
	}
	if format == "json" {
		c.JSON(http.StatusOK, n)
		return
	}
	r := compliance.NotesReport([]compliance.TransferNote{n}, compliance.Period{From: n.Transfer, To: n.Transfer}, n.Issued, format == "pdf")
	c.Header("Content-Type", report.ContentType(format))
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, n.ID, format))
	c.Status(http.StatusOK)
	if err := r.Write(c.Writer, format); err != nil {
		s.log.Error("api: transfer note", "err", err)
	}
}

func (s *Server) deleteTransferNote(c *gin.Context) {
	n, err := s.deps.Exports.Exporter.IssueNote(c.Request.Context(), c.Param("kind"), c.Param("ref"))
	if err == nil {
		err = s.deps.Exports.Exporter.DeleteNote(c.Request.Context(), n.ID)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) postSurvey(c *gin.Context) {
	var in struct {
		Score   int    `json:"score"`
		Comment string `json:"comment"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	p := principal(c)
	customer := ""
	if p.Role == RoleCustomer {
		customer = p.CustomerID
	}
	sv, err := s.deps.Exports.Exporter.RecordSurvey(c.Request.Context(),
		compliance.Survey{PickupID: c.Param("id"), Score: in.Score, Comment: strings.TrimSpace(in.Comment)}, customer)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, sv)
}
