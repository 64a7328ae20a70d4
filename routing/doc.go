// Package routing turns the dispatcher's records into route plans: the open
// pickup requests of a day and the bins forecast to fill become stops, the
// fleet's vehicles with their depots and the yard become the planner's
// vehicles (geo/vrp), and the result is kept as a plan that can be
// committed (its pickups become planned), re-planned with least disruption
// after a breakdown or an urgent request, and compared with what the
// vehicles actually did.
package routing
