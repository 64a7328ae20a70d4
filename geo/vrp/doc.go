// Package vrp plans collection routes: a vehicle routing model with
// multi-dimensional capacities, time windows, optional pickups, a
// heterogeneous fleet and mid-route unloading at a yard; distance and
// travel-time matrices (great-circle or a road-network table service); an
// anytime ruin-and-recreate solver; readers and writers for the CVRPLIB,
// TSPLIB and Solomon benchmark formats; an independent solution checker; and
// the domain-level Plan and Replan entry points with GeoJSON and SVG output.
//
// The package imports only the standard library and orb, so the rest of
// revloop can depend on it without cycles.
package vrp
