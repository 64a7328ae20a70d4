package ingest

import (
	"bytes"
	"errors"
	"math"
	"time"

	"github.com/revloop/revloop"
)

// DecodeFunc decodes the payload a device published on one channel. dev is
// the device named by the topic; received is the arrival time, used only
// where the contract lets a payload omit its timestamp (the status last
// will). Errors are *RejectError.
type DecodeFunc func(dev revloop.DeviceID, payload []byte, received time.Time) (Record, error)

// Decoder returns the decoder of uplink channel c.
func Decoder(c revloop.Channel) (DecodeFunc, bool) {
	switch c {
	case revloop.ChannelGPS:
		return DecodeGPS, true
	case revloop.ChannelFill:
		return DecodeFill, true
	case revloop.ChannelRFID:
		return DecodeRFID, true
	case revloop.ChannelWeight:
		return DecodeWeight, true
	case revloop.ChannelStatus:
		return DecodeStatus, true
	}
	return nil, false
}

// Decode parses topic and decodes payload with the channel's decoder. It
// does not check value ranges; see Validate.
func Decode(topic string, payload []byte, received time.Time) (Record, error) {
	dev, ch, err := revloop.ParseTopic(topic)
	if err != nil {
		return Record{}, reject(ReasonBadTopic, "%v", err)
	}
	decode, ok := Decoder(ch)
	if !ok {
		return Record{}, reject(ReasonUnknownChannel, "channel %q is not an uplink channel of the v1 contract", ch)
	}
	rec, err := decode(dev, payload, received)
	if err != nil {
		return Record{}, err
	}
	rec.Device, rec.Channel, rec.Received = dev, ch, received
	return rec, nil
}

// payloadKind classifies a payload by its first non-blank byte.
type payloadKind int

const (
	kindUnknown payloadKind = iota
	kindObject
	kindArray
	kindNMEA
)

func kindOf(p []byte) payloadKind {
	i := skipWS(p, 0)
	if i >= len(p) {
		return kindUnknown
	}
	switch p[i] {
	case '{':
		return kindObject
	case '[':
		return kindArray
	case '$', '!':
		return kindNMEA
	}
	return kindUnknown
}

func malformed(format string, args ...any) error { return reject(ReasonMalformed, format, args...) }

func badField(field string, err error) error {
	return reject(ReasonMalformed, "field %s: %v", field, err)
}

func unknownFormat(p []byte, what string) error {
	if len(bytes.TrimSpace(p)) == 0 {
		return malformed("empty payload")
	}
	return malformed("payload is not %s", what)
}

// topJSON validates p as one JSON value and classifies it.
func topJSON(p []byte) ([]byte, error) {
	raw, err := jsonTop(p)
	if err != nil {
		return nil, malformed("%v", err)
	}
	return raw, nil
}

// syntaxFirst returns the error of a payload decoded in one pass with
// eachMemberChecked: the JSON syntax error of p when it has one, as a
// decoder that checks p first would report it, or else err.
func syntaxFirst(p []byte, err error) error {
	if _, jerr := topJSON(p); jerr != nil {
		return jerr
	}
	return err
}

// isSenML reports whether the array raw looks like a SenML pack: its first
// element is an object with a name or base name. raw need not have been
// checked: on bytes that are not JSON the answer is meaningless but
// harmless, since the caller then reports the syntax error.
func isSenML(raw []byte) bool {
	senml := false
	first := true
	_ = eachElement(raw, func(el []byte) error {
		if !first {
			return errStop
		}
		first = false
		_ = eachMember(el, func(key string, _ []byte) error {
			switch key {
			case "n", "bn", "bt", "v", "vb", "vs":
				senml = true
				return errStop
			}
			return nil
		})
		return errStop
	})
	return senml
}

// errStop ends an iteration early; it never leaves the package.
var errStop = errors.New("stop")

// checkDevice compares a device named in a payload with the topic's.
func checkDevice(topicDev revloop.DeviceID, raw []byte) error {
	s, err := jsonString(raw)
	if err != nil {
		return badField("device", err)
	}
	if s != string(topicDev) {
		return reject(ReasonDeviceMismatch, "payload names device %q, topic %q", s, topicDev)
	}
	return nil
}

// float reads an optional number (null means absent).
func float(field string, raw []byte, dst *float64) error {
	return optional(field, raw, jsonFloat, dst)
}

// optional parses the member raw of field with parse into *dst; null
// leaves *dst as it is.
func optional[T any](field string, raw []byte, parse func([]byte) (T, error), dst *T) error {
	if isNull(raw) {
		return nil
	}
	v, err := parse(raw)
	if err != nil {
		return badField(field, err)
	}
	*dst = v
	return nil
}

func tsField(raw []byte, dst *time.Time) error {
	t, err := jsonTime(raw)
	if err != nil {
		return reject(ReasonMalformed, "field ts: %v", err)
	}
	*dst = t
	return nil
}

var nan = math.NaN()

func missingTS(what string) error {
	return reject(ReasonMissingTS, "%s has no ts (RFC 3339 or Unix milliseconds)", what)
}

// eachObject calls fn for every element of raw, an array of objects. With
// checked, raw is a whole payload, not yet checked (see eachElementChecked).
func eachObject(raw []byte, checked bool, fn func(obj []byte) error) error {
	n := 0
	err := elements(raw, checked, func(el []byte) error {
		if len(el) == 0 || el[0] != '{' {
			return malformed("array element %d is not an object", n)
		}
		n++
		return fn(el)
	})
	if err == nil && n == 0 {
		return malformed("empty array")
	}
	return err
}
