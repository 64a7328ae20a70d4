// Package testenv gives integration tests the addresses of the real services
// that deploy/scripts/services.sh starts on loopback ports (Mosquitto,
// InfluxDB 1.8) and that deploy/scripts/postgres.sh starts (PostgreSQL).
//
// A test asks for a service with MQTTURL, InfluxURL or PostgresURL. When the
// variable is unset the test is skipped with the command that starts the
// services, unless REVLOOP_REQUIRE_SERVICES=1 (set by `make test`), in which
// case it fails: a test run that was meant to cover the services must not
// pass by skipping them.
package testenv
