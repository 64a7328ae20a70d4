// Package compliance turns what revloop recorded — weighbridge tickets, lot
// transitions, shipments, pickups, complaints and vehicle tracks — into the
// documents regulators and customers ask for: period tonnage reports by List
// of Waste code and R/D operation, waste transfer notes, digital waste
// tracking receipts, fleet emissions and customer service reports.
//
// Every figure is computed from stored records at request time, so a report
// always reconciles with the tickets and transitions it covers; reports are
// built as report.Report values and written as JSON, CSV, XLSX or PDF.
//
// Conventions the reports rely on:
//   - tonnage received is the net weight of the tickets that receive
//     transitions consumed; processed, shipped and disposed tonnage come from
//     the lots those transitions and shipments moved;
//   - a lot whose material is "weee-N" (N = 1..6, optionally followed by a
//     description) counts towards WEEE category N of Directive 2012/19/EU;
//   - the recycling rate is the mass shipped to a recovery (R) operation
//     divided by the mass shipped or disposed in the period.
package compliance
