package ingest

import (
	"errors"
	"fmt"
)

// Reason codes of dead letters. They are stable: operators filter on them and
// metrics are labelled with them.
const (
	ReasonMalformed      = "malformed"       // not valid JSON, SenML or NMEA, or a field of the wrong type
	ReasonBadChecksum    = "bad_checksum"    // an NMEA sentence whose checksum does not match
	ReasonMissingTS      = "missing_ts"      // a reading without its device timestamp
	ReasonOversized      = "oversized"       // payload larger than the configured limit
	ReasonOutOfRange     = "out_of_range"    // a value outside its physical range
	ReasonFutureTS       = "future_ts"       // device time too far ahead of arrival
	ReasonUnknownChannel = "unknown_channel" // last topic segment is not an uplink channel
	ReasonBadTopic       = "bad_topic"       // topic outside revloop/v1/<device-id>/<channel>
	ReasonDeviceMismatch = "device_mismatch" // the payload names another device than the topic
	ReasonDeviceRejected = "device_rejected" // unknown or revoked device (DeviceChecker)
	ReasonStoreRejected  = "store_rejected"  // the time-series store refused the points
)

// Reasons lists every reason code.
var Reasons = []string{
	ReasonMalformed, ReasonBadChecksum, ReasonMissingTS, ReasonOversized, ReasonOutOfRange,
	ReasonFutureTS, ReasonUnknownChannel, ReasonBadTopic, ReasonDeviceMismatch,
	ReasonDeviceRejected, ReasonStoreRejected,
}

// RejectError says why a message cannot be accepted; Reason is one of the
// Reason codes and Detail a human-readable explanation.
type RejectError struct {
	Reason string
	Detail string
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Detail }

func reject(reason, format string, args ...any) error {
	return &RejectError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason code of err, ReasonMalformed for an error that
// is not a *RejectError.
func ReasonOf(err error) (reason, detail string) {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason, re.Detail
	}
	return ReasonMalformed, err.Error()
}
