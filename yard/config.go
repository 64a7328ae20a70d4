package yard

import (
	"time"

	"github.com/revloop/revloop/config"
)

// Register binds the yard's settings to flags, REVLOOP_YARD_* environment
// variables and the config file, with their defaults:
//
//	--yard-depart             3s     departure window of a tag at a gate
//	--yard-debounce           500ms  a presence shorter than this ...
//	--yard-min-reads          2      ... and with fewer reads is a stray read
//	--yard-settle             3s     a weight must hold this long to be stable
//	--yard-settle-kg          20     ... within this many kg of its mean
//	--yard-empty-kg           200    below this the weighbridge is empty
//	--yard-link-window        2m     how far a weighing and a gate passage may be apart
//	--yard-tolerance-pct      0.5    mass balance tolerance, percent of the input ...
//	--yard-tolerance-kg       2      ... or this many kg, whichever is larger
func (o *Options) Register(s *config.Set) {
	s.Duration(&o.Detector.Depart, "yard-depart", 3*time.Second, "departure window: a tag unseen this long has left the gate")
	s.Duration(&o.Detector.Debounce, "yard-debounce", 500*time.Millisecond, "presences shorter than this with fewer than --yard-min-reads reads are stray reads")
	s.Int(&o.Detector.MinReads, "yard-min-reads", 2, "reads that make a presence a passage regardless of its length")
	s.Duration(&o.Weigh.Settle, "yard-settle", 3*time.Second, "how long a weight must hold to be stable")
	s.Float(&o.Weigh.ToleranceKg, "yard-settle-kg", 20, "how far (kg) readings of a stable weight may stray from their mean")
	s.Float(&o.Weigh.EmptyKg, "yard-empty-kg", 200, "weight (kg) below which the weighbridge counts as empty")
	s.Duration(&o.LinkWindow, "yard-link-window", 2*time.Minute, "how far apart in time a weighing and a vehicle's gate passage may be")
	s.Float(&o.Tolerance.Pct, "yard-tolerance-pct", 0.5, "mass balance tolerance in percent of the input weight")
	s.Float(&o.Tolerance.Kg, "yard-tolerance-kg", 2, "smallest mass balance tolerance in kg")
}
