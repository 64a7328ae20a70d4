// Package vrp plans collection routes.
//
// The model (Problem) has pickups with demands in two dimensions (kg and m³),
// service times, time windows and a priority (mandatory, or optional with a
// value: an optional pickup is served only when that pays), a heterogeneous
// fleet (capacities, shift window, start and end depot, cost per distance and
// per driving/service time, fixed cost) and unloading at a yard mid-route: a
// vehicle with a yard that cannot take the next pickup drives to the yard,
// unloads (its unload time) and continues. A pickup that no vehicle can serve
// is reported with the reason in Solution.Unserved, never dropped silently.
//
// Distances and travel times come from a Matrix, stored as flat float32
// arrays (n² entries each, shared when time equals distance): planar
// Euclidean for benchmark instances, great-circle times a detour factor with
// an average speed (GreatCircle), or a road network through an OSRM table
// service (OSRM); both implement MatrixProvider.
//
// Solve is an anytime search within a time budget, cancellable through its
// context (it then returns the best solution so far). It anneals over
// ruin-and-recreate moves after Christiaens and Vanden Berghe (2020): ruin
// removes strings and split strings of customers around a random seed
// customer; recreate reinserts them at their cheapest feasible positions,
// skipping positions at random ("blinks"). Feasibility of an insertion is
// checked in O(1) from each route's earliest service starts and latest
// arrivals (or by simulating the rest of the route for vehicles that unload
// at a yard). A granular local search (relocate, swap, 2-opt*, 2-opt over
// each customer's nearest neighbours, after Vidal's HGS) polishes the first
// and the final solution. Threads run independent searches and keep the
// best. With Options.Iterations the schedule follows iterations, not the
// clock, and the result depends only on the seed.
//
// ParseVRP, ParseSolomon, ParseSol and WriteSol read and write the CVRPLIB,
// TSPLIB and Solomon formats; Check validates any solution independently of
// the solver. Plan and Replan are the domain entry points (latitude and
// longitude, kilograms, cubic metres, times of day); GeoJSON and WriteSVG
// render a plan.
//
// The package imports only the standard library and orb.
package vrp
