// Package api is revloop's HTTP interface, served with gin under /api/v1.
//
// server.go builds the engine and mounts each area from its own file
// (telemetry.go, devices.go, dispatch.go, yard.go, routes.go, exports.go);
// every area takes its dependencies as small interfaces declared beside its
// handlers. Errors are answered as application/problem+json by one function,
// problem.go's statusOf, from the error kinds of the root revloop package.
package api
