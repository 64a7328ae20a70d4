package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/revloop/revloop"
)

// IdempotencyKey identifies one request sent with an Idempotency-Key: the
// key is scoped to the caller, the method and the path, and remembers the
// hash of the body it was first used with.
type IdempotencyKey struct {
	Principal string // token id
	Key       string
	Method    string
	Path      string
	BodyHash  string // hex SHA-256 of the request body
}

// StoredResponse is what a completed idempotent request answered.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// Errors of an IdempotencyStore's Begin.
var (
	ErrIdempotencyMismatch = fmt.Errorf("idempotency key reused with a different request body: %w", revloop.ErrInvalid)
	ErrIdempotencyInFlight = fmt.Errorf("a request with this idempotency key is still being processed: %w", revloop.ErrConflict)
)

// IdempotencyStore keeps the responses of requests sent with an
// Idempotency-Key.
type IdempotencyStore interface {
	// Begin reserves k, or returns the stored response of an earlier
	// request with the same key and body, ErrIdempotencyMismatch when the
	// body differs or ErrIdempotencyInFlight while the first still runs.
	Begin(ctx context.Context, k IdempotencyKey) (*StoredResponse, error)
	// Finish stores the response of a reserved key.
	Finish(ctx context.Context, k IdempotencyKey, r StoredResponse) error
	// Abandon releases a reserved key whose request failed on the server.
	Abandon(ctx context.Context, k IdempotencyKey) error
}

// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
const MaxIdempotencyKeyLen = 255

// idempotent makes a creating request safe to retry: with an
// Idempotency-Key header, the first response is stored and replayed for a
// retry with the same key and body (header Idempotent-Replayed: true); the
// same key with another body is answered 422. It must follow require.
// Server errors are not stored, so a retry after a 5xx runs again. Without
// the header, or when the server has no IdempotencyStore, requests pass.
func (s *Server) idempotent() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader("Idempotency-Key")
		st := s.idempotencyStore()
		if key == "" || st == nil {
			c.Next()
			return
		}
		if len(key) > MaxIdempotencyKeyLen || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			problem(c, http.StatusBadRequest, "bad-idempotency-key", "invalid Idempotency-Key",
				fmt.Sprintf("at most %d printable ASCII characters", MaxIdempotencyKeyLen))
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			s.fail(c, fmt.Errorf("read body: %w", err))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		k := IdempotencyKey{Principal: principal(c).TokenID, Key: key, Method: c.Request.Method,
			Path: c.Request.URL.Path, BodyHash: hex.EncodeToString(sum[:])}
		stored, err := st.Begin(c.Request.Context(), k)
		switch {
		case errors.Is(err, ErrIdempotencyMismatch):
			problem(c, http.StatusUnprocessableEntity, "idempotency-key-reused", "idempotency key reused with a different body",
				"send a new Idempotency-Key for a different request")
			return
		case errors.Is(err, ErrIdempotencyInFlight):
			c.Header("Retry-After", "1")
			problem(c, http.StatusConflict, "idempotency-key-in-flight", "a request with this idempotency key is in progress", "")
			return
		case err != nil:
			s.fail(c, err)
			return
		case stored != nil:
			c.Header("Idempotent-Replayed", "true")
			c.Data(stored.Status, stored.ContentType, stored.Body)
			c.Abort()
			return
		}
		w := &captureWriter{ResponseWriter: c.Writer}
		c.Writer = w
		c.Next()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
		defer cancel()
		if st := w.Status(); st >= 500 || st == 0 {
			err = s.idempotencyStore().Abandon(ctx, k)
		} else {
			err = s.idempotencyStore().Finish(ctx, k, StoredResponse{Status: w.Status(), ContentType: w.Header().Get("Content-Type"), Body: w.buf.Bytes()})
		}
		if err != nil {
			s.log.Error("api: idempotency record", "path", k.Path, "err", err)
		}
	}
}

func (s *Server) idempotencyStore() IdempotencyStore { return s.deps.Idempotency }

// captureWriter copies the response body so it can be stored.
type captureWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

// Pagination defaults.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Page is a request for one page of a list: at most Limit items after the
// position an opaque cursor encodes.
type Page struct {
	Limit int
	After string // sort key of the last item of the previous page; "" for the first
}

const cursorVersion = "v1:"

// EncodeCursor turns a sort key into an opaque cursor.
func EncodeCursor(after string) string {
	if after == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + after))
}

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !bytes.HasPrefix(b, []byte(cursorVersion)) || len(b) == len(cursorVersion) {
		return "", revloop.Invalid("cursor", "not a cursor returned by this API")
	}
	return string(b[len(cursorVersion):]), nil
}

// pageOf reads ?limit= and ?cursor=.
func pageOf(c *gin.Context) (Page, error) {
	p := Page{Limit: DefaultPageLimit}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageLimit {
			return p, revloop.Invalid("limit", "want an integer from 1 to %d", MaxPageLimit)
		}
		p.Limit = n
	}
	after, err := DecodeCursor(c.Query("cursor"))
	if err != nil {
		return p, err
	}
	p.After = after
	return p, nil
}

// pageBody is the envelope of every list response.
type pageBody[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	Next       string `json:"next,omitempty"`
}

// writePage answers one page of items; nextAfter is the sort key to
// continue after, or "" on the last page. The next link keeps the
// request's other query parameters and is also sent as a Link header.
func writePage[T any](c *gin.Context, items []T, nextAfter string) {
	if items == nil {
		items = []T{}
	}
	body := pageBody[T]{Items: items}
	if nextAfter != "" {
		body.NextCursor = EncodeCursor(nextAfter)
		q := c.Request.URL.Query()
		q.Set("cursor", body.NextCursor)
		u := url.URL{Path: c.Request.URL.Path, RawQuery: q.Encode()}
		body.Next = u.String()
		c.Header("Link", "<"+body.Next+`>; rel="next"`)
	}
	c.JSON(http.StatusOK, body)
}

// writeJSON answers v as JSON with status.
func writeJSON(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		problem(c, http.StatusInternalServerError, "internal", "internal error", "")
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}
