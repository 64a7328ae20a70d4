package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/yard"
)

// YardService is what the yard area reads and changes (yard.Service).
type YardService interface {
	Gates(ctx context.Context) ([]yard.Gate, error)
	PutGate(ctx context.Context, g yard.Gate) error
	Scales(ctx context.Context) ([]yard.Scale, error)
	PutScale(ctx context.Context, sc yard.Scale) error
	Tags(ctx context.Context, after string, n int) ([]yard.Tag, error)
	PutTag(ctx context.Context, t yard.Tag) error
	Tares(ctx context.Context, after string, n int) ([]yard.Tare, error)
	PutTare(ctx context.Context, t yard.Tare) error
	Passages(ctx context.Context, f yard.PassageFilter) ([]yard.Passage, error)
	Passage(ctx context.Context, id string) (yard.Passage, error)
	Weighings(ctx context.Context, f yard.WeighingFilter) ([]yard.Weighing, error)
	Tickets(ctx context.Context, f yard.TicketFilter) ([]yard.Ticket, error)
	TicketHistory(ctx context.Context, id string) ([]yard.Ticket, error)
	CreateTicket(ctx context.Context, m yard.ManualTicket, actor string) (yard.Ticket, error)
	CorrectTicket(ctx context.Context, id string, c yard.Correction, actor string) (yard.Ticket, error)
	Lots(ctx context.Context, f yard.LotFilter) ([]yard.Lot, error)
	Lot(ctx context.Context, id string) (yard.LotDetail, error)
	Graph(ctx context.Context, id string) (yard.LotGraph, error)
	Apply(ctx context.Context, r yard.TransitionRequest, idemKey, actor string) (yard.TransitionResult, error)
	Transitions(ctx context.Context, f yard.TransitionFilter) ([]yard.Transition, error)
	Transition(ctx context.Context, id string) (yard.TransitionResult, error)
	Stock(ctx context.Context, yardID string) ([]yard.StockLine, error)
	MassBalance(ctx context.Context, yardID string, from, to time.Time) (yard.Balance, error)
	Ship(ctx context.Context, r yard.ShipmentRequest, idemKey, actor string) (yard.Shipment, error)
	Shipment(ctx context.Context, id string) (yard.Shipment, error)
	Shipments(ctx context.Context, f yard.ShipmentFilter) ([]yard.Shipment, error)
}

var _ YardService = (*yard.Service)(nil)

// CustodyAuditor verifies and lists the custody log (custody.Auditor).
type CustodyAuditor interface {
	Verify(ctx context.Context, progress custody.Progress) (custody.Report, error)
	Entries(ctx context.Context, subject string, after int64, limit int) ([]custody.Entry, error)
}

var _ CustodyAuditor = custody.Auditor{}

// RFIDReadSource returns a gate reader's raw reads (timeseries.Reader).
type RFIDReadSource interface {
	RFIDReads(ctx context.Context, device revloop.DeviceID, from, to time.Time) ([]revloop.RFIDRead, error)
}

// YardDeps are the services the yard area needs. Yard nil leaves
// /api/v1/yard unmounted, Custody nil /api/v1/custody; Reads nil answers
// raw-read queries with 503.
type YardDeps struct {
	Yard    YardService
	Custody CustodyAuditor
	Reads   RFIDReadSource
}

// IdempotencyKeyHeader makes a transition or shipment safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

func (s *Server) mountYard(v1 *gin.RouterGroup) {
	if d := s.deps.Yard; d.Custody != nil {
		c := v1.Group("/custody", s.require(RoleAuditor))
		c.GET("/verify", s.custodyVerify)
		c.GET("/entries", s.custodyEntries)
	}
	if s.deps.Yard.Yard == nil {
		return
	}
	read := s.require(RoleYard, RoleDispatcher, RoleAuditor)
	write := s.require(RoleYard)
	y := v1.Group("/yard")
	y.GET("/gates", read, s.yardGates)
	y.PUT("/gates/:reader", write, s.yardPutGate)
	y.GET("/scales", read, s.yardScales)
	y.PUT("/scales/:scale", write, s.yardPutScale)
	y.GET("/tags", read, s.yardTags)
	y.PUT("/tags/:epc", write, s.yardPutTag)
	y.GET("/tares", read, s.yardTares)
	y.PUT("/tares/:vehicle", write, s.yardPutTare)
	y.GET("/passages", read, s.yardPassages)
	y.GET("/passages/:id", read, s.yardPassage)
	y.GET("/passages/:id/reads", read, s.yardPassageReads)
	y.GET("/weighings", read, s.yardWeighings)
	y.GET("/tickets", read, s.yardTickets)
	y.POST("/tickets", write, s.yardCreateTicket)
	y.GET("/tickets/:id", read, s.yardTicket)
	y.POST("/tickets/:id/corrections", write, s.yardCorrectTicket)
	y.GET("/lots", read, s.yardLots)
	y.GET("/lots/:id", read, s.yardLot)
	y.GET("/lots/:id/graph", read, s.yardLotGraph)
	y.GET("/transitions", read, s.yardTransitions)
	y.POST("/transitions", write, s.yardApply)
	y.GET("/transitions/:id", read, s.yardTransition)
	y.GET("/stock", read, s.yardStock)
	y.GET("/mass-balance", read, s.yardMassBalance)
	y.GET("/shipments", read, s.yardShipments)
	y.POST("/shipments", write, s.yardShip)
	y.GET("/shipments/:id", read, s.yardShipment)
}

func (s *Server) ys() YardService { return s.deps.Yard.Yard }

// answer writes v as JSON with status, or the error.
func (s *Server) answer(c *gin.Context, status int, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, v)
}

// timeQuery parses an optional RFC 3339 query parameter.
func timeQuery(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, revloop.Invalid(name, "want an RFC 3339 time, got %q", v)
	}
	return t, nil
}

func intQuery(c *gin.Context, name string) (int, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, revloop.Invalid(name, "want a non-negative integer, got %q", v)
	}
	return n, nil
}

// period reads from and to.
func period(c *gin.Context) (from, to time.Time, err error) {
	if from, err = timeQuery(c, "from"); err != nil {
		return
	}
	to, err = timeQuery(c, "to")
	return
}

// cursored is an item of a paginated yard list.
type cursored interface{ Cursor() string }

// yardPage answers one page: the service was asked for p.Limit+1 items, so
// a surplus item says that another page follows.
func yardPage[T cursored](s *Server, c *gin.Context, p Page, items []T, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		next = items[len(items)-1].Cursor()
	}
	writePage(c, items, next)
}

// pageAndPeriod reads limit, cursor, from and to.
func pageAndPeriod(c *gin.Context) (p Page, from, to time.Time, err error) {
	if p, err = pageOf(c); err != nil {
		return
	}
	from, to, err = period(c)
	return
}

func (s *Server) yardGates(c *gin.Context) {
	v, err := s.ys().Gates(c.Request.Context())
	s.answer(c, http.StatusOK, gin.H{"items": v}, err)
}

func (s *Server) yardPutGate(c *gin.Context) {
	var g yard.Gate
	if err := bindJSON(c, &g); err != nil {
		s.fail(c, err)
		return
	}
	if g.Reader == "" {
		g.Reader = revloop.DeviceID(c.Param("reader"))
	}
	if string(g.Reader) != c.Param("reader") {
		s.fail(c, revloop.Invalid("reader", "body names %q, path %q", g.Reader, c.Param("reader")))
		return
	}
	s.answer(c, http.StatusOK, g, s.ys().PutGate(c.Request.Context(), g))
}

func (s *Server) yardScales(c *gin.Context) {
	v, err := s.ys().Scales(c.Request.Context())
	s.answer(c, http.StatusOK, gin.H{"items": v}, err)
}

func (s *Server) yardPutScale(c *gin.Context) {
	var sc yard.Scale
	if err := bindJSON(c, &sc); err != nil {
		s.fail(c, err)
		return
	}
	if sc.Scale == "" {
		sc.Scale = revloop.DeviceID(c.Param("scale"))
	}
	if string(sc.Scale) != c.Param("scale") {
		s.fail(c, revloop.Invalid("scale", "body names %q, path %q", sc.Scale, c.Param("scale")))
		return
	}
	s.answer(c, http.StatusOK, sc, s.ys().PutScale(c.Request.Context(), sc))
}

func (s *Server) yardTags(c *gin.Context) {
	p, err := pageOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Tags(c.Request.Context(), p.After, p.Limit+1)
	yardPage(s, c, p, v, err)
}

func (s *Server) yardPutTag(c *gin.Context) {
	var t yard.Tag
	if err := bindJSON(c, &t); err != nil {
		s.fail(c, err)
		return
	}
	if t.EPC == "" {
		t.EPC = c.Param("epc")
	}
	if t.EPC != c.Param("epc") {
		s.fail(c, revloop.Invalid("epc", "body names %q, path %q", t.EPC, c.Param("epc")))
		return
	}
	s.answer(c, http.StatusOK, t, s.ys().PutTag(c.Request.Context(), t))
}

func (s *Server) yardTares(c *gin.Context) {
	p, err := pageOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Tares(c.Request.Context(), p.After, p.Limit+1)
	yardPage(s, c, p, v, err)
}

func (s *Server) yardPutTare(c *gin.Context) {
	var t yard.Tare
	if err := bindJSON(c, &t); err != nil {
		s.fail(c, err)
		return
	}
	if t.Vehicle == "" {
		t.Vehicle = c.Param("vehicle")
	}
	if t.Vehicle != c.Param("vehicle") {
		s.fail(c, revloop.Invalid("vehicle", "body names %q, path %q", t.Vehicle, c.Param("vehicle")))
		return
	}
	t.UpdatedBy = principal(c).TokenID
	s.answer(c, http.StatusOK, t, s.ys().PutTare(c.Request.Context(), t))
}

func (s *Server) yardPassages(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Passages(c.Request.Context(), yard.PassageFilter{Yard: c.Query("yard"), Reader: revloop.DeviceID(c.Query("reader")),
		EPC: c.Query("epc"), Vehicle: c.Query("vehicle"), From: from, To: to, Limit: p.Limit + 1, After: p.After})
	yardPage(s, c, p, v, err)
}

func (s *Server) yardPassage(c *gin.Context) {
	v, err := s.ys().Passage(c.Request.Context(), c.Param("id"))
	s.answer(c, http.StatusOK, v, err)
}

func (s *Server) yardPassageReads(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.ys().Passage(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if s.deps.Yard.Reads == nil {
		s.fail(c, fmt.Errorf("raw reads: no time-series store configured: %w", revloop.ErrUnavailable))
		return
	}
	all, err := s.deps.Yard.Reads.RFIDReads(ctx, p.Reader, p.FirstSeen, p.LastSeen.Add(time.Millisecond))
	if err != nil {
		s.fail(c, fmt.Errorf("raw reads: %w", err))
		return
	}
	reads := []revloop.RFIDRead{}
	for _, r := range all {
		if r.EPC == p.EPC {
			reads = append(reads, r)
		}
	}
	c.JSON(http.StatusOK, gin.H{"passage": p, "reads": reads})
}

func (s *Server) yardWeighings(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Weighings(c.Request.Context(), yard.WeighingFilter{Yard: c.Query("yard"), Status: c.Query("status"), From: from, To: to,
		Limit: p.Limit + 1, After: p.After})
	yardPage(s, c, p, v, err)
}

func (s *Server) yardTickets(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Tickets(c.Request.Context(), yard.TicketFilter{Yard: c.Query("yard"), Vehicle: c.Query("vehicle"),
		Status: c.Query("status"), From: from, To: to, Limit: p.Limit + 1, After: p.After})
	yardPage(s, c, p, v, err)
}

func (s *Server) yardTicket(c *gin.Context) {
	h, err := s.ys().TicketHistory(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ticket": h[len(h)-1], "history": h})
}

func (s *Server) yardCreateTicket(c *gin.Context) {
	var m yard.ManualTicket
	if err := bindJSON(c, &m); err != nil {
		s.fail(c, err)
		return
	}
	t, err := s.ys().CreateTicket(c.Request.Context(), m, principal(c).TokenID)
	s.answer(c, http.StatusCreated, t, err)
}

func (s *Server) yardCorrectTicket(c *gin.Context) {
	var k yard.Correction
	if err := bindJSON(c, &k); err != nil {
		s.fail(c, err)
		return
	}
	t, err := s.ys().CorrectTicket(c.Request.Context(), c.Param("id"), k, principal(c).TokenID)
	s.answer(c, http.StatusCreated, t, err)
}

func (s *Server) yardLots(c *gin.Context) {
	p, err := pageOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	active := false
	if v := c.Query("active"); v != "" {
		if active, err = strconv.ParseBool(v); err != nil {
			s.fail(c, revloop.Invalid("active", "want true or false, got %q", v))
			return
		}
	}
	v, err := s.ys().Lots(c.Request.Context(), yard.LotFilter{Yard: c.Query("yard"), Stage: c.Query("stage"),
		Material: c.Query("material"), Ticket: c.Query("ticket"), Active: active, Limit: p.Limit + 1, After: p.After})
	yardPage(s, c, p, v, err)
}

func (s *Server) yardLot(c *gin.Context) {
	v, err := s.ys().Lot(c.Request.Context(), c.Param("id"))
	s.answer(c, http.StatusOK, v, err)
}

func (s *Server) yardLotGraph(c *gin.Context) {
	v, err := s.ys().Graph(c.Request.Context(), c.Param("id"))
	s.answer(c, http.StatusOK, v, err)
}

func (s *Server) yardTransitions(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Transitions(c.Request.Context(), yard.TransitionFilter{Yard: c.Query("yard"), Kind: c.Query("kind"), From: from, To: to,
		Limit: p.Limit + 1, After: p.After})
	yardPage(s, c, p, v, err)
}

func (s *Server) yardTransition(c *gin.Context) {
	v, err := s.ys().Transition(c.Request.Context(), c.Param("id"))
	s.answer(c, http.StatusOK, v, err)
}

// replayed answers a retried request with 200 and a marker header, a new
// one with 201.
func replayed(c *gin.Context, again bool) int {
	if again {
		c.Header("Idempotent-Replayed", "true")
		return http.StatusOK
	}
	return http.StatusCreated
}

// yardFail answers err; an idempotency key reused with another body is
// answered 422, as the API's idempotency middleware does.
func (s *Server) yardFail(c *gin.Context, err error) {
	if errors.Is(err, yard.ErrIdempotencyKeyReused) {
		problem(c, http.StatusUnprocessableEntity, "idempotency-key-reused", "idempotency key reused with a different body", err.Error())
		return
	}
	s.fail(c, err)
}

func (s *Server) yardApply(c *gin.Context) {
	var r yard.TransitionRequest
	if err := bindJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.ys().Apply(c.Request.Context(), r, c.GetHeader(IdempotencyKeyHeader), principal(c).TokenID)
	if err != nil {
		s.yardFail(c, err)
		return
	}
	c.JSON(replayed(c, res.Replayed), res)
}

func (s *Server) yardStock(c *gin.Context) {
	v, err := s.ys().Stock(c.Request.Context(), c.Query("yard"))
	s.answer(c, http.StatusOK, gin.H{"items": v}, err)
}

func (s *Server) yardMassBalance(c *gin.Context) {
	from, to, err := period(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().MassBalance(c.Request.Context(), c.Query("yard"), from, to)
	s.answer(c, http.StatusOK, v, err)
}

func (s *Server) yardShipments(c *gin.Context) {
	p, from, to, err := pageAndPeriod(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.ys().Shipments(c.Request.Context(), yard.ShipmentFilter{Yard: c.Query("yard"), From: from, To: to, Limit: p.Limit + 1, After: p.After})
	yardPage(s, c, p, v, err)
}

func (s *Server) yardShip(c *gin.Context) {
	var r yard.ShipmentRequest
	if err := bindJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	sh, err := s.ys().Ship(c.Request.Context(), r, c.GetHeader(IdempotencyKeyHeader), principal(c).TokenID)
	if err != nil {
		s.yardFail(c, err)
		return
	}
	c.JSON(replayed(c, sh.Replayed), sh)
}

func (s *Server) yardShipment(c *gin.Context) {
	v, err := s.ys().Shipment(c.Request.Context(), c.Param("id"))
	s.answer(c, http.StatusOK, v, err)
}

// custodyVerify checks the custody log. With Accept: application/x-ndjson
// it streams {"done":n,"total":m} progress lines and ends with the report.
func (s *Server) custodyVerify(c *gin.Context) {
	ctx := c.Request.Context()
	if c.GetHeader("Accept") != "application/x-ndjson" {
		rep, err := s.deps.Yard.Custody.Verify(ctx, nil)
		s.answer(c, http.StatusOK, rep, err)
		return
	}
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	rep, err := s.deps.Yard.Custody.Verify(ctx, func(done, total int64) {
		_ = enc.Encode(map[string]int64{"done": done, "total": total})
		c.Writer.Flush()
	})
	if err != nil {
		s.log.Error("api: custody verify failed", "err", err)
		_ = enc.Encode(map[string]string{"error": "verification could not read the log"})
		return
	}
	_ = enc.Encode(rep)
}

func (s *Server) custodyEntries(c *gin.Context) {
	p, err := pageOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var after int64
	if p.After != "" {
		if after, err = strconv.ParseInt(p.After, 10, 64); err != nil {
			s.fail(c, revloop.Invalid("cursor", "not a cursor of this list"))
			return
		}
	}
	es, err := s.deps.Yard.Custody.Entries(c.Request.Context(), c.Query("subject"), after, p.Limit+1)
	if err != nil {
		s.fail(c, err)
		return
	}
	next := ""
	if len(es) > p.Limit {
		es = es[:p.Limit]
		next = strconv.FormatInt(es[len(es)-1].Seq, 10)
	}
	writePage(c, es, next)
}
