package vrp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// ErrProvider reports a matrix provider failure.
var ErrProvider = errors.New("matrix provider failed")

// OSRM is a MatrixProvider backed by an OSRM table service
// (GET {BaseURL}/table/v1/{Profile}/{lon,lat;...}?annotations=distance,duration).
type OSRM struct {
	BaseURL string       // e.g. http://localhost:5000
	Profile string       // empty means "driving"
	Client  *http.Client // nil means http.DefaultClient
	// MaxBody bounds the response size; zero means 256 MiB.
	MaxBody int64
}

var _ MatrixProvider = (*OSRM)(nil)

type osrmTable struct {
	Code      string       `json:"code"`
	Message   string       `json:"message"`
	Distances [][]*float64 `json:"distances"`
	Durations [][]*float64 `json:"durations"`
}

// Matrix asks the table service for all pairs. Unreachable pairs (null in
// the answer) get +Inf so that the solver never uses them.
func (o *OSRM) Matrix(ctx context.Context, pts []orb.Point) (*Matrix, error) {
	if len(pts) == 0 {
		return &Matrix{}, nil
	}
	profile := o.Profile
	if profile == "" {
		profile = "driving"
	}
	var sb strings.Builder
	for i, p := range pts {
		if i > 0 {
			sb.WriteByte(';')
		}
		sb.WriteString(strconv.FormatFloat(p.Lon(), 'f', 6, 64))
		sb.WriteByte(',')
		sb.WriteString(strconv.FormatFloat(p.Lat(), 'f', 6, 64))
	}
	u := strings.TrimRight(o.BaseURL, "/") + "/table/v1/" + url.PathEscape(profile) + "/" + sb.String() +
		"?annotations=distance,duration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("osrm table: %w", err)
	}
	c := o.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("osrm table: %w: %w", ErrProvider, err)
	}
	defer resp.Body.Close()
	limit := o.MaxBody
	if limit <= 0 {
		limit = 256 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("osrm table: read: %w: %w", ErrProvider, err)
	}
	return decodeOSRMTable(len(pts), resp.StatusCode, body)
}

// decodeOSRMTable turns a table-service answer for n points into a Matrix.
func decodeOSRMTable(n, status int, body []byte) (*Matrix, error) {
	var t osrmTable
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("osrm table: status %d: decode: %w: %w", status, ErrProvider, err)
	}
	if status != http.StatusOK || t.Code != "Ok" {
		return nil, fmt.Errorf("osrm table: status %d code %q: %s: %w", status, t.Code, t.Message, ErrProvider)
	}
	return tableToMatrix(n, t.Distances, t.Durations)
}

func tableToMatrix(n int, dist, dur [][]*float64) (*Matrix, error) {
	if len(dist) != n || len(dur) != n {
		return nil, fmt.Errorf("osrm table: want %d rows, got %d distances and %d durations: %w", n, len(dist), len(dur), ErrProvider)
	}
	m := NewMatrix(n)
	inf := float32(mathInf)
	for i := range n {
		if len(dist[i]) != n || len(dur[i]) != n {
			return nil, fmt.Errorf("osrm table: row %d has %d/%d columns, want %d: %w", i, len(dist[i]), len(dur[i]), n, ErrProvider)
		}
		for j := range n {
			d, t := inf, inf
			if dist[i][j] != nil && *dist[i][j] >= 0 {
				d = float32(*dist[i][j])
			}
			if dur[i][j] != nil && *dur[i][j] >= 0 {
				t = float32(*dur[i][j])
			}
			m.Dist[i*n+j], m.Time[i*n+j] = d, t
		}
	}
	return m, nil
}
