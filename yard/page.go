package yard

import (
	"fmt"

	"github.com/revloop/revloop/store"
)

// Lists are returned in a stable order and continue after the sort key of
// the last item of the previous page (its Cursor). Keys of time-ordered
// lists are "<unix ms, 20 digits>|<id>".

func timeKey(ms int64, id string) string { return fmt.Sprintf("%020d|%s", ms, id) }

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
