// Package dispatch keeps what the dispatcher works with in the state store
// (customers, vehicles, sites with their geofences, bins, pickup requests
// with their life cycle, complaints) and the live view of the fleet and the
// bins that the API serves from memory (live.go, hub.go).
//
// Every read and change takes a Scope: a customer-bound scope sees only
// that customer's objects, and another customer's object is reported as not
// found, never as forbidden, so that a customer cannot learn which ids
// exist.
//
// Pickup requests move through
//
//	requested → planned → collected → delivered
//	requested | planned → cancelled
//	planned → missed
//	planned → requested (taken off a plan)
//
// and every transition is kept with who made it and when.
package dispatch
