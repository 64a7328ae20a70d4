package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
)

// Problem is an RFC 9457 problem body. Type is stable per kind of error so
// that clients can branch on it; Extras carry machine-readable details (the
// offending field, allowed transitions, mass-balance figures).
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Extras   map[string]any `json:"-"`
}

// MarshalJSON flattens Extras into the body, as RFC 9457 extension members.
func (p Problem) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": p.Type, "title": p.Title, "status": p.Status}
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if p.Instance != "" {
		m["instance"] = p.Instance
	}
	for k, v := range p.Extras {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// ProblemTypeBase prefixes every problem type.
const ProblemTypeBase = "https://revloop.org/problems/"

func problem(c *gin.Context, status int, kind, title, detail string) {
	writeProblem(c, Problem{Type: ProblemTypeBase + kind, Title: title, Status: status, Detail: detail})
}

func writeProblem(c *gin.Context, p Problem) {
	p.Instance = c.Request.URL.Path
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"internal error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	c.Data(p.Status, "application/problem+json", body)
	c.Abort()
}

// extraser is implemented by errors that add members to a problem body.
type extraser interface{ Extras() map[string]any }

// statusOf maps an error to its HTTP status and stable problem kind; it is
// the one place that does.
func statusOf(err error) (int, string, string) {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "body-too-large", "request body too large"
	case errors.As(err, &syn), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return http.StatusBadRequest, "malformed-body", "malformed request body"
	case errors.Is(err, revloop.ErrInvalid):
		return http.StatusBadRequest, "invalid", "invalid input"
	case errors.Is(err, revloop.ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized", "authentication required"
	case errors.Is(err, revloop.ErrForbidden):
		return http.StatusForbidden, "forbidden", "not allowed for this token"
	case errors.Is(err, revloop.ErrNotFound):
		return http.StatusNotFound, "not-found", "not found"
	case errors.Is(err, revloop.ErrConflict):
		return http.StatusConflict, "conflict", "conflict with the current state"
	case errors.Is(err, revloop.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", "service unavailable"
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

// fail answers err as a problem body. Internal errors are logged and their
// text withheld from the client.
func (s *Server) fail(c *gin.Context, err error) {
	status, kind, title := statusOf(err)
	p := Problem{Type: ProblemTypeBase + kind, Title: title, Status: status}
	if status >= 500 {
		s.log.Error("api: request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	} else {
		p.Detail = err.Error()
	}
	var ex extraser
	if errors.As(err, &ex) {
		p.Extras = ex.Extras()
	}
	writeProblem(c, p)
}

// bindJSON decodes the body strictly (unknown fields are errors) into v.
func bindJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: body: %v", revloop.ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: body: trailing data after the JSON value", revloop.ErrInvalid)
	}
	return nil
}
