// Package broker runs revloop's embedded MQTT broker (mochi-mqtt) for the
// embedded default: one TCP listener (and optionally a TLS one), persistent
// sessions and retained messages kept in a bolt file under the data
// directory, and any extra hooks (such as the device authentication and ACL
// hook) passed in by the caller. Without an auth hook the broker allows every
// client; serve logs that loudly.
package broker
