package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/revloop/revloop/store"
)

// DeadLetter is one message ingest could not accept.
type DeadLetter struct {
	ID       int64     `json:"id"`
	Received time.Time `json:"received"`
	Topic    string    `json:"topic"`
	Device   string    `json:"device"`  // from the topic; empty when the topic is malformed
	Channel  string    `json:"channel"` // from the topic; empty when the topic is malformed
	Reason   string    `json:"reason"`  // one of the Reason codes
	Detail   string    `json:"detail"`
	// Payload is the payload as received, truncated to the size limit.
	Payload []byte `json:"payload"`
	// PayloadBytes is the size of the full payload.
	PayloadBytes int  `json:"payload_bytes"`
	Truncated    bool `json:"truncated"`
	// Key identifies the message (a digest of topic and full payload); the
	// store keeps one dead letter per key. Empty means computed from Topic
	// and Payload.
	Key string `json:"-"`
}

// NewDeadLetter builds the dead letter of a message, truncating payload to
// maxBytes (0 keeps all of it).
func NewDeadLetter(topic string, payload []byte, received time.Time, reason, detail string, maxBytes int) DeadLetter {
	dl := DeadLetter{Received: received.UTC(), Topic: topic, Reason: reason, Detail: detail,
		PayloadBytes: len(payload), Key: msgKey(topic, payload)}
	if dev, ch, ok := strings.Cut(strings.TrimPrefix(topic, "revloop/v1/"), "/"); ok && strings.HasPrefix(topic, "revloop/v1/") {
		dl.Device, dl.Channel = clip(dev, 64), clip(ch, 64)
	}
	if maxBytes > 0 && len(payload) > maxBytes {
		payload, dl.Truncated = payload[:maxBytes], true
	}
	dl.Payload = append([]byte{}, payload...)
	if len(detail) > 1024 {
		dl.Detail = detail[:1024]
	}
	return dl
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// DeadLetterWriter stores dead letters durably: when Put returns nil every
// one is on stable storage. Putting the same message (topic and payload)
// again must not duplicate it.
type DeadLetterWriter interface {
	PutDeadLetters(ctx context.Context, dls []DeadLetter) error
}

// DeadLetterQuery selects dead letters for listing.
type DeadLetterQuery struct {
	Since  time.Time // received at or after; zero for all
	Reason string    // one reason code; empty for all
	Device string    // one device; empty for all
	Limit  int       // at most this many, newest first; default 100, max 1000
	// BeforeID pages on: only dead letters with a smaller id (0 for none).
	BeforeID int64
}

// DeadLetters is the dead-letter store in the state store (table
// dead_letters).
type DeadLetters struct {
	db *store.DB
}

var _ DeadLetterWriter = (*DeadLetters)(nil)

// NewDeadLetters returns the dead-letter store in db, which must be migrated.
func NewDeadLetters(db *store.DB) *DeadLetters { return &DeadLetters{db: db} }

func msgKey(topic string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(topic))
	h.Write([]byte{0})
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// PutDeadLetters stores dls in one transaction; a message already stored
// (same topic and payload) is skipped.
func (d *DeadLetters) PutDeadLetters(ctx context.Context, dls []DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		for _, dl := range dls {
			key := dl.key()
			if _, err := tx.Exec(ctx, `INSERT INTO dead_letters
				(msg_key, received_ms, topic, device, channel, reason, detail, payload, payload_bytes, truncated)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (msg_key) DO NOTHING`,
				key, dl.Received.UnixMilli(), dl.Topic, dl.Device, dl.Channel, dl.Reason, dl.Detail,
				dl.Payload, dl.PayloadBytes, dl.Truncated); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dead letters put: %w", err)
	}
	return nil
}

func (dl DeadLetter) key() string {
	if dl.Key != "" {
		return dl.Key
	}
	return msgKey(dl.Topic, dl.Payload)
}

// List returns the dead letters q selects, newest first.
func (d *DeadLetters) List(ctx context.Context, q DeadLetterQuery) ([]DeadLetter, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 1000 {
		q.Limit = 1000
	}
	w := store.Where{Q: `SELECT id, received_ms, topic, device, channel, reason, detail, payload, payload_bytes, truncated FROM dead_letters WHERE 1 = 1`}
	w.Span("received_ms", q.Since, time.Time{})
	w.Eq("reason", q.Reason)
	w.Eq("device", q.Device)
	if q.BeforeID > 0 {
		w.Add("id < ?", q.BeforeID)
	}
	rows, err := d.db.Query(ctx, w.Q+" ORDER BY id DESC LIMIT ?", append(w.Args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("dead letters list: %w", err)
	}
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		var dl DeadLetter
		var ms int64
		if err := rows.Scan(&dl.ID, &ms, &dl.Topic, &dl.Device, &dl.Channel, &dl.Reason, &dl.Detail,
			&dl.Payload, &dl.PayloadBytes, &dl.Truncated); err != nil {
			return nil, fmt.Errorf("dead letters list: %w", err)
		}
		dl.Received = time.UnixMilli(ms).UTC()
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dead letters list: %w", err)
	}
	return out, nil
}

// Count returns how many dead letters there are by reason.
func (d *DeadLetters) Count(ctx context.Context) (map[string]int64, error) {
	rows, err := d.db.Query(ctx, `SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("dead letters count: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var n int64
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("dead letters count: %w", err)
		}
		out[r] = n
	}
	return out, rows.Err()
}
