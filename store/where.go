package store

import (
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop"
)

// Where builds a list query: Q starts as the query up to a WHERE clause
// that later conditions extend with AND (e.g. `SELECT ... FROM t WHERE
// 1 = 1`), Args holds their arguments. A filter left empty adds nothing.
type Where struct {
	Q    string
	Args []any
}

// Add adds cond with its arguments.
func (w *Where) Add(cond string, args ...any) {
	w.Q += ` AND ` + cond
	w.Args = append(w.Args, args...)
}

// Eq adds col = v when v is set.
func (w *Where) Eq(col, v string) {
	if v != "" {
		w.Add(col+` = ?`, v)
	}
}

// In adds col IN (vs...); with no value it matches nothing.
func (w *Where) In(col string, vs []string) {
	if len(vs) == 0 {
		w.Add(`1 = 0`)
		return
	}
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	w.Add(col+` IN (?`+strings.Repeat(`, ?`, len(vs)-1)+`)`, args...)
}

// Span adds from <= col < to, col in Unix milliseconds, for the ends that
// are set.
func (w *Where) Span(col string, from, to time.Time) {
	if !from.IsZero() {
		w.Add(col+` >= ?`, Millis(from))
	}
	if !to.IsZero() {
		w.Add(col+` < ?`, Millis(to))
	}
}

// AfterTime continues a list ordered by (timeCol, idCol) after key, the
// "<unix ms>|<id>" of the last item of the previous page; an empty key
// adds nothing.
func (w *Where) AfterTime(key, timeCol, idCol string) error {
	if key == "" {
		return nil
	}
	msS, id, ok := strings.Cut(key, "|")
	ms, err := strconv.ParseInt(msS, 10, 64)
	if !ok || err != nil {
		return revloop.Invalid("cursor", "not a cursor of this list")
	}
	w.Add(`(`+timeCol+` > ? OR (`+timeCol+` = ? AND `+idCol+` > ?))`, ms, ms, id)
	return nil
}

// AfterID continues a list ordered by idCol after key; an empty key adds
// nothing.
func (w *Where) AfterID(key, idCol string) {
	if key != "" {
		w.Add(idCol+` > ?`, key)
	}
}
