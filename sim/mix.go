package sim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"time"
)

// Reasons why Messages marks a message malformed. Every one of them must end
// in the dead-letter store of a correct ingest.
const (
	ReasonInvalidJSON   = "invalid_json"   // truncated JSON
	ReasonBadChecksum   = "bad_checksum"   // NMEA sentence with a wrong checksum
	ReasonOutOfRange    = "out_of_range"   // a value outside its physical range
	ReasonMissingTS     = "missing_ts"     // no ts field
	ReasonFutureTS      = "future_ts"      // ts two days after the send time
	ReasonBadTopic      = "bad_topic"      // device id in the topic breaks the contract
	ReasonEmptyPayload  = "empty_payload"  // zero-byte payload
	ReasonUnknownFormat = "unknown_format" // bytes that are neither JSON, SenML nor NMEA
)

// MixStart is the simulated start of Messages: a Tuesday morning in March
// 2026, in the middle of a shift.
var MixStart = time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC)

// Messages returns n messages of a deterministic realistic mix: a world of
// 20 vehicles and 200 bins run from MixStart, mostly GPS, with fill, RFID,
// weight and status messages in their natural proportions and payload
// sizes. A fraction malformedFraction (0..1) of them is replaced by
// malformed variants of the same message, flagged with Malformed and Reason.
func Messages(seed int64, n int, malformedFraction float64) []Message {
	return MessagesWhere(seed, n, malformedFraction, nil)
}

// MessagesWhere is Messages keeping only the messages for which keep (nil:
// all) reports true, until it has n of them: the same world, thinned to one
// kind of traffic.
func MessagesWhere(seed int64, n int, malformedFraction float64, keep func(Message) bool) []Message {
	w := NewWorld(seed, 20, 200)
	g := NewGenerator(w, MixStart)
	r := rngFor(seed, 77)
	out := make([]Message, 0, n)
	for len(out) < n {
		m := g.Next()
		if keep != nil && !keep(m) {
			continue
		}
		if malformedFraction > 0 && r.Float64() < malformedFraction {
			m = corrupt(m, r)
		}
		out = append(out, m)
	}
	return out
}

// corrupt returns a malformed variant of m.
func corrupt(m Message, r *rand.Rand) Message {
	m.Malformed = true
	p := m.Payload
	isNMEA := len(p) > 0 && p[0] == '$'
	switch k := r.IntN(7); {
	case k == 0:
		m.Reason = ReasonEmptyPayload
		m.Payload = []byte{}
	case k == 1:
		m.Reason = ReasonBadTopic
		m.Topic = "revloop/v1/" + "Bad_Device!" + "/" + string(m.Channel)
	case k == 2:
		m.Reason = ReasonUnknownFormat
		m.Payload = []byte("\x00\x01garbage\xff" + string(m.Channel))
	case isNMEA:
		m.Reason = ReasonBadChecksum
		q := bytes.Clone(p)
		if i := bytes.IndexByte(q, '*'); i > 0 {
			if q[i+1] == '0' {
				q[i+1] = '1'
			} else {
				q[i+1] = '0'
			}
		}
		m.Payload = q
	case k == 3:
		m.Reason = ReasonInvalidJSON
		m.Payload = bytes.Clone(p[:len(p)/2])
	default:
		var v any
		if err := json.Unmarshal(p, &v); err != nil {
			m.Reason = ReasonInvalidJSON
			m.Payload = bytes.Clone(p[:len(p)/2])
			return m
		}
		obj := firstObject(v)
		if obj == nil {
			m.Reason = ReasonInvalidJSON
			m.Payload = bytes.Clone(p[:len(p)/2])
			return m
		}
		senml := obj["bn"] != nil || obj["n"] != nil
		switch {
		case k == 4 && !senml:
			m.Reason = ReasonMissingTS
			delete(obj, "ts")
		case k == 5 && !senml:
			m.Reason = ReasonFutureTS
			obj["ts"] = m.SendTime.Add(48 * time.Hour).UTC().Format(time.RFC3339)
		case senml:
			m.Reason = ReasonFutureTS
			obj["bt"] = float64(m.SendTime.Add(48*time.Hour).UnixMilli()) / 1000
		default:
			m.Reason = ReasonOutOfRange
			outOfRange(obj)
		}
		b, err := json.Marshal(v)
		if err != nil {
			m.Reason = ReasonEmptyPayload
			b = []byte{}
		}
		m.Payload = b
	}
	return m
}

func firstObject(v any) map[string]any {
	switch t := v.(type) {
	case map[string]any:
		return t
	case []any:
		if len(t) > 0 {
			if o, ok := t[0].(map[string]any); ok {
				return o
			}
		}
	}
	return nil
}

func outOfRange(obj map[string]any) {
	switch {
	case obj["lat"] != nil:
		obj["lat"] = 123.456
	case obj["level_pct"] != nil:
		obj["level_pct"] = 250.0
	case obj["kg"] != nil:
		obj["kg"] = -5000.0
	case obj["reads"] != nil:
		obj["reads"] = []any{map[string]any{"ts": obj["ts"], "epc": "not-hex!", "antenna": -3, "rssi_dbm": 40}}
	case obj["battery_v"] != nil:
		obj["battery_v"] = -42.0
	default:
		obj["ts"] = "yesterday"
	}
}
