package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/revloop/revloop/compliance"
	"github.com/revloop/revloop/store"
	"github.com/revloop/revloop/yard"
)

func init() {
	registerBench(&benchmark{name: "report", summary: "a year's compliance and customer reports for 200 vehicles and 50,000 pickups", run: runBenchReport})
}

func runBenchReport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	vehicles := fs.Int("vehicles", 200, "vehicles")
	pickups := fs.Int("pickups", 50000, "pickups in the year (each collected load is received, sorted and shipped)")
	customers := fs.Int("customers", 1000, "customers")
	dir := fs.String("data-dir", "", "directory of the SQLite database; an existing one with pickups is reused as it is (default: a new temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, done, err := benchDB(ctx, "", *dir)
	if err != nil {
		return fmt.Errorf("bench report: %w", err)
	}
	defer done()
	year := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var have int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM pickups`).Scan(&have); err != nil {
		return err
	}
	if have == 0 {
		t0 := time.Now()
		if err := seedYear(ctx, db, year, *vehicles, *customers, *pickups); err != nil {
			return fmt.Errorf("bench report: seed: %w", err)
		}
		fmt.Fprintf(e.stderr, "seeded %d pickups, %d customers, %d vehicles in %s\n", *pickups, *customers, *vehicles, time.Since(t0).Round(time.Millisecond))
	} else {
		fmt.Fprintf(e.stderr, "reusing the %d pickups already in %s\n", have, *dir)
	}
	ys, err := yard.New(db, nil, yard.Options{})
	if err != nil {
		return err
	}
	svc := compliance.New(db, ys, compliance.Options{})
	p := compliance.Period{From: year, To: year.AddDate(1, 0, 0)}
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	type step struct {
		name string
		req  compliance.ExportRequest
	}
	steps := []step{
		{"period report pdf", compliance.ExportRequest{Kind: compliance.KindPeriod, Format: "pdf", Period: p}},
		{"period report xlsx", compliance.ExportRequest{Kind: compliance.KindPeriod, Format: "xlsx", Period: p}},
		{"customer ranking csv", compliance.ExportRequest{Kind: compliance.KindRanking, Format: "csv", Period: p}},
		{"annual service report pdf", compliance.ExportRequest{Kind: compliance.KindService, Format: "pdf", Period: p, Customer: "c0001", PeriodKind: "year"}},
	}
	var yearReport time.Duration
	for i, s := range steps {
		var buf bytes.Buffer
		start, cpu0 := time.Now(), cpuTime()
		if err := svc.Export(ctx, &buf, s.req, compliance.ExportDeps{}, nil); err != nil {
			return fmt.Errorf("bench report %s: %w", s.name, err)
		}
		el, cpu := time.Since(start), cpuTime()-cpu0
		if i == 0 {
			yearReport = el
		}
		fmt.Fprintf(e.stdout, "report %-26s %8s wall %8s CPU  %7d bytes\n", s.name, el.Round(time.Millisecond), cpu.Round(time.Millisecond), buf.Len())
	}
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	rss := peakRSSMiB()
	fmt.Fprintf(e.stdout, "report year: %d pickups, %d vehicles: the year's tonnage report builds in %s, peak RSS %.0f MiB, heap allocated %.0f MiB (target <= 10 s and < 500 MB: %s)\n",
		*pickups, *vehicles, yearReport.Round(time.Millisecond), rss, float64(m1.TotalAlloc-m0.TotalAlloc)/(1<<20), yardVerdict(yearReport <= 10*time.Second && rss < 500))
	return nil
}

// peakRSSMiB reads this process's peak resident set size.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// seedYear writes a year of yard and dispatcher records directly: every
// pickup is collected by one of the vehicles, weighed, received as a lot,
// sorted into two grades and, with the other loads of its week, shipped.
func seedYear(ctx context.Context, db *store.DB, year time.Time, vehicles, customers, pickups int) error {
	rng := rand.New(rand.NewPCG(42, 7))
	materials := []struct{ name, ewc string }{{"paper", "15 01 01"}, {"plastic", "15 01 02"}, {"metal", "15 01 04"}, {"glass", "15 01 07"}, {"weee-5 small equipment", "20 01 36"}}
	return db.InTx(ctx, func(tx *store.Tx) error {
		exec := func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err }
		for c := 0; c < customers; c++ {
			id := fmt.Sprintf("c%04d", c)
			if err := exec(`INSERT INTO customers (id, name, created_ms, updated_ms) VALUES (?, ?, 0, 0)`, id, "Customer "+id); err != nil {
				return err
			}
			if err := exec(`INSERT INTO sites (id, name, kind, customer_id, address, lon, lat, geofence, created_ms, updated_ms) VALUES (?, ?, 'customer_site', ?, ?, 3.7, 51.0, '{}', 0, 0)`,
				"s"+id, "site "+id, id, fmt.Sprintf("Street %d, Town %d", c, c%17)); err != nil {
				return err
			}
		}
		for v := 0; v < vehicles; v++ {
			if err := exec(`INSERT INTO vehicles (id, plate, capacity_kg, capacity_m3, fuel_type, consumption_per_100km, consumption_unit, created_ms, updated_ms)
				VALUES (?, ?, 12000, 30, 'diesel', 35, 'l', 0, 0)`, fmt.Sprintf("v%03d", v), fmt.Sprintf("1-RVL-%03d", v)); err != nil {
				return err
			}
		}
		yearMs := year.AddDate(1, 0, 0).Sub(year).Milliseconds()
		var weekLots []string
		lotKg := map[string]float64{}
		week := int64(-1)
		shipN := 0
		for i := 0; i < pickups; i++ {
			ts := store.Millis(year) + int64(i)*yearMs/int64(pickups)
			cust := fmt.Sprintf("c%04d", int(float64(customers)*rng.Float64()*rng.Float64())) // skewed: a few customers make most volume
			pid, tid, tr := fmt.Sprintf("P%06d", i), fmt.Sprintf("T%06d", i), fmt.Sprintf("TR%07d", i*2)
			m := materials[rng.IntN(len(materials))]
			net := 500 + rng.Float64()*3000
			if err := exec(`INSERT INTO pickups (id, customer_id, site_id, material, estimated_kg, window_from_ms, window_to_ms, status, created_ms, updated_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, 'delivered', 0, 0)`, pid, cust, "s"+cust, m.name, net*(0.8+0.4*rng.Float64()), ts-3600000, ts+3600000); err != nil {
				return err
			}
			if err := exec(`INSERT INTO pickup_history (pickup_id, from_status, to_status, actor, at_ms) VALUES (?, 'planned', 'collected', 'driver', ?)`, pid, ts-1800000+rng.Int64N(5400000)); err != nil {
				return err
			}
			gross := 9000 + net
			if err := exec(`INSERT INTO yard_tickets (id, version, yard, number, status, vehicle, route_id, scale, gross_kg, tare_kg, net_kg, tare_source, gross_ms, tare_ms,
				passage_in, passage_out, source, reason, actor, current, created_ms) VALUES (?, 1, 'y1', ?, 'complete', ?, '', 's1', ?, 9000, ?, 'weighed', ?, ?, '', '', 'weighbridge', '', 'bench', TRUE, ?)`,
				tid, i+1, fmt.Sprintf("v%03d", i%vehicles), gross, net, ts, ts+600000, ts); err != nil {
				return err
			}
			lot := fmt.Sprintf("L%07d", i*3)
			if err := insertLot(exec, lot, m.name, m.ewc, "sorted", net, cust, tid, pid, "", ts); err != nil {
				return err
			}
			if err := insertTransition(exec, tr, "receive", "received", net, net, 0, "R13", ts); err != nil {
				return err
			}
			if err := exec(`INSERT INTO yard_lot_history (lot, transition, role, from_stage, to_stage, ts_ms) VALUES (?, ?, 'output', '', 'received', ?)`, lot, tr, ts); err != nil {
				return err
			}
			// Sort into a grade and a residue.
			sortID, grade, residue := fmt.Sprintf("TR%07d", i*2+1), fmt.Sprintf("L%07d", i*3+1), fmt.Sprintf("L%07d", i*3+2)
			res := net * 0.05
			if err := insertTransition(exec, sortID, "sort", "sorted", net, net-res, 0, "R12", ts+3600000); err != nil {
				return err
			}
			if err := exec(`INSERT INTO yard_lot_history (lot, transition, role, from_stage, to_stage, ts_ms) VALUES (?, ?, 'input', 'received', 'sorted', ?)`, lot, sortID, ts+3600000); err != nil {
				return err
			}
			for _, out := range []struct {
				id  string
				kg  float64
				ewc string
			}{{grade, net - res, m.ewc}, {residue, res, "19 12 12"}} {
				if err := insertLot(exec, out.id, m.name, out.ewc, "sorted", out.kg, cust, tid, pid, "", ts+3600000); err != nil {
					return err
				}
				if err := exec(`INSERT INTO yard_lot_history (lot, transition, role, from_stage, to_stage, ts_ms) VALUES (?, ?, 'output', '', 'sorted', ?)`, out.id, sortID, ts+3600000); err != nil {
					return err
				}
				if err := exec(`INSERT INTO yard_lot_links (parent, child, transition) VALUES (?, ?, ?)`, lot, out.id, sortID); err != nil {
					return err
				}
			}
			weekLots = append(weekLots, grade)
			lotKg[grade] = net - res
			if w := (ts - store.Millis(year)) / (7 * 86400000); w != week || i == pickups-1 {
				if len(weekLots) > 0 && week >= 0 {
					shipN++
					sid := fmt.Sprintf("SH%06d", shipN)
					kg := 0.0
					for _, l := range weekLots {
						kg += lotKg[l]
						if err := exec(`UPDATE yard_lots SET shipment = ?, stage = 'shipped' WHERE id = ?`, sid, l); err != nil {
							return err
						}
						if err := exec(`INSERT INTO yard_lot_history (lot, transition, role, from_stage, to_stage, ts_ms) VALUES (?, ?, 'input', 'sorted', 'shipped', ?)`, l, "X"+sid, ts); err != nil {
							return err
						}
					}
					if err := exec(`INSERT INTO yard_shipments (id, yard, ts_ms, request_hash, transition, body, kg, rd_code, created_ms) VALUES (?, 'y1', ?, '', ?, '{}', ?, 'R3', ?)`,
						sid, ts, "X"+sid, kg, ts); err != nil {
						return err
					}
					weekLots = weekLots[:0]
				}
				week = w
			}
		}
		return nil
	})
}

func insertLot(exec func(string, ...any) error, id, material, ewc, stage string, kg float64, cust, ticket, pickup, shipment string, ts int64) error {
	return exec(`INSERT INTO yard_lots (id, yard, material, ewc, stage, kg, residue, tag, location, customer, ticket, pickups, shipment, created_by, created_ms, updated_ms)
		VALUES (?, 'y1', ?, ?, ?, ?, FALSE, '', '', ?, ?, ?, ?, 'bench', ?, ?)`, id, material, ewc, stage, kg, cust, ticket, `["`+pickup+`"]`, shipment, ts, ts)
}

func insertTransition(exec func(string, ...any) error, id, kind, to string, in, out, loss float64, rd string, ts int64) error {
	return exec(`INSERT INTO yard_transitions (id, kind, yard, ts_ms, request_hash, to_stage, kg_in, kg_out, loss_kg, rd_code, station, operator, result, created_ms)
		VALUES (?, ?, 'y1', ?, '', ?, ?, ?, ?, ?, '', 'bench', '{}', ?)`, id, kind, ts, to, in, out, loss, rd, ts)
}
