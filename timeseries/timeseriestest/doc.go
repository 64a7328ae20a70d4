// Package timeseriestest is the contract suite every timeseries.Store
// backend passes, so that the embedded store and InfluxDB answer alike:
// round trips of each measurement, identity overwrite (the later fields win),
// out-of-order writes read back in time order, half-open ranges, latest
// position per device (sorted by device), reads of one instant on two
// antennas, per-measurement prune, concurrent writers, rejection of invalid
// points as non-retryable, and, for durable backends, reopening.
//
//	func TestContract(t *testing.T) {
//		timeseriestest.Suite{Open: openMyStore, Reopen: reopenMyStore}.Run(t)
//	}
package timeseriestest
