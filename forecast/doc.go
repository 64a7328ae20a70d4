// Package forecast predicts when a bin reaches a fill threshold from its
// fill history.
//
// The steps, all robust to what bin sensors really send:
//
//	readings ──▶ Hampel filter (spikes: lost echoes, obstructions)
//	         ──▶ cycles (an emptying, a drop to near zero, starts a new one)
//	         ──▶ weekday profile (with at least two weeks of history)
//	         ──▶ Theil–Sen rate of the current cycle on weekday-weighted time,
//	             blended with the median rate of past cycles while the current
//	             one is young
//	         ──▶ time to threshold with a band from the rate's confidence
//	             interval and the spread of past cycles.
package forecast
