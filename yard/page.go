package yard

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/store"
)

// Lists are returned in a stable order and continue after the sort key of
// the last item of the previous page (its Cursor). Keys of time-ordered
// lists are "<unix ms, 20 digits>|<id>".

func timeKey(ms int64, id string) string { return fmt.Sprintf("%020d|%s", ms, id) }

// where gathers the conditions of a list query; a filter left empty adds
// nothing.
type where struct {
	q    string
	args []any
}

// eq adds col = v when v is set.
func (w *where) eq(col, v string) {
	if v != "" {
		w.q += ` AND ` + col + ` = ?`
		w.args = append(w.args, v)
	}
}

// span adds from <= col < to for the ends that are set.
func (w *where) span(col string, from, to time.Time) {
	if !from.IsZero() {
		w.q += ` AND ` + col + ` >= ?`
		w.args = append(w.args, store.Millis(from))
	}
	if !to.IsZero() {
		w.q += ` AND ` + col + ` < ?`
		w.args = append(w.args, store.Millis(to))
	}
}

// after adds "continue after key" to a query ordered by (timeCol, idCol).
func (w *where) after(key, timeCol, idCol string) error {
	var err error
	w.q, w.args, err = afterTime(w.q, w.args, key, timeCol, idCol)
	return err
}

// afterTime adds "continue after key" to a query ordered by (timeCol, idCol).
func afterTime(q string, args []any, key, timeCol, idCol string) (string, []any, error) {
	if key == "" {
		return q, args, nil
	}
	msS, id, ok := strings.Cut(key, "|")
	ms, err := strconv.ParseInt(msS, 10, 64)
	if !ok || err != nil {
		return q, args, revloop.Invalid("cursor", "not a cursor of this list")
	}
	q += ` AND (` + timeCol + ` > ? OR (` + timeCol + ` = ? AND ` + idCol + ` > ?))`
	return q, append(args, ms, ms, id), nil
}

// afterID adds "continue after key" to a query ordered by idCol.
func afterID(q string, args []any, key, idCol string) (string, []any) {
	if key == "" {
		return q, args
	}
	return q + ` AND ` + idCol + ` > ?`, append(args, key)
}

// Cursor is the passage's sort key in lists.
func (p Passage) Cursor() string { return timeKey(store.Millis(p.FirstSeen), p.ID) }

// Cursor is the weighing's sort key in lists.
func (w Weighing) Cursor() string { return timeKey(store.Millis(w.Time), string(w.Scale)) }

// Cursor is the ticket's sort key in lists (yard, then number).
func (t Ticket) Cursor() string { return fmt.Sprintf("%s|%020d", t.Yard, t.Number) }

// Cursor is the lot's sort key in lists.
func (l Lot) Cursor() string { return l.ID }

// Cursor is the transition's sort key in lists.
func (t Transition) Cursor() string { return timeKey(store.Millis(t.Time), t.ID) }

// Cursor is the shipment's sort key in lists.
func (s Shipment) Cursor() string { return timeKey(store.Millis(s.Time), s.ID) }

// Cursor is the tag's sort key in lists.
func (t Tag) Cursor() string { return t.EPC }

// Cursor is the tare's sort key in lists.
func (t Tare) Cursor() string { return t.Vehicle }
