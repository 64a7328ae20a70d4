package vrp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

var mathInf = math.Inf(1)

// maxInstanceNodes bounds the size of an instance read from outside bytes so
// that a hostile DIMENSION cannot allocate an n² matrix of any size.
const maxInstanceNodes = 10000

// ParseVRP reads a TSPLIB/CVRPLIB CVRP instance with EUC_2D distances
// (rounded to the nearest integer). The fleet is unlimited: one vehicle per
// customer, each with the instance's capacity.
func ParseVRP(r io.Reader) (*Problem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var (
		name     string
		dim      int
		capacity float64
		ewt      string
		section  string
		xs, ys   []float64
		dem      []float64
		depots   []int
		seenX    []bool
		seenD    []bool
	)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if s == "EOF" {
			break
		}
		if k, v, ok := strings.Cut(s, ":"); ok && section == "" || ok && isHeaderKey(strings.TrimSpace(k)) {
			key, val := strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), "\"")
			section = ""
			switch key {
			case "NAME":
				name = val
			case "DIMENSION":
				n, err := strconv.Atoi(val)
				if err != nil || n < 2 || n > maxInstanceNodes {
					return nil, fmt.Errorf("parse vrp: line %d: DIMENSION %q: %w", line, val, ErrFormat)
				}
				dim = n
				xs, ys, dem = make([]float64, n), make([]float64, n), make([]float64, n)
				seenX, seenD = make([]bool, n), make([]bool, n)
			case "CAPACITY":
				c, err := strconv.ParseFloat(val, 64)
				if err != nil || c <= 0 || math.IsInf(c, 0) {
					return nil, fmt.Errorf("parse vrp: line %d: CAPACITY %q: %w", line, val, ErrFormat)
				}
				capacity = c
			case "EDGE_WEIGHT_TYPE":
				ewt = val
			case "TYPE":
				if val != "CVRP" {
					return nil, fmt.Errorf("parse vrp: line %d: TYPE %q, want CVRP: %w", line, val, ErrFormat)
				}
			}
			continue
		}
		f := strings.Fields(s)
		switch {
		case strings.HasSuffix(f[0], "_SECTION"):
			section = f[0]
			if dim == 0 && section != "DEPOT_SECTION" {
				return nil, fmt.Errorf("parse vrp: line %d: %s before DIMENSION: %w", line, section, ErrFormat)
			}
			continue
		}
		switch section {
		case "NODE_COORD_SECTION":
			if len(f) != 3 {
				return nil, fmt.Errorf("parse vrp: line %d: want id x y: %w", line, ErrFormat)
			}
			id, err1 := strconv.Atoi(f[0])
			x, err2 := strconv.ParseFloat(f[1], 64)
			y, err3 := strconv.ParseFloat(f[2], 64)
			if err1 != nil || err2 != nil || err3 != nil || id < 1 || id > dim || !finite(x) || !finite(y) {
				return nil, fmt.Errorf("parse vrp: line %d: bad coordinate %q: %w", line, s, ErrFormat)
			}
			xs[id-1], ys[id-1], seenX[id-1] = x, y, true
		case "DEMAND_SECTION":
			if len(f) != 2 {
				return nil, fmt.Errorf("parse vrp: line %d: want id demand: %w", line, ErrFormat)
			}
			id, err1 := strconv.Atoi(f[0])
			d, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || err2 != nil || id < 1 || id > dim || d < 0 || !finite(d) {
				return nil, fmt.Errorf("parse vrp: line %d: bad demand %q: %w", line, s, ErrFormat)
			}
			dem[id-1], seenD[id-1] = d, true
		case "DEPOT_SECTION":
			id, err := strconv.Atoi(f[0])
			if err != nil {
				return nil, fmt.Errorf("parse vrp: line %d: bad depot %q: %w", line, s, ErrFormat)
			}
			if id == -1 {
				section = ""
				continue
			}
			if id < 1 || id > dim {
				return nil, fmt.Errorf("parse vrp: line %d: depot %d out of range: %w", line, id, ErrFormat)
			}
			depots = append(depots, id-1)
		default:
			return nil, fmt.Errorf("parse vrp: line %d: unexpected %q: %w", line, s, ErrFormat)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse vrp: %w", err)
	}
	if dim == 0 || capacity == 0 {
		return nil, fmt.Errorf("parse vrp: missing DIMENSION or CAPACITY: %w", ErrFormat)
	}
	if ewt != "EUC_2D" {
		return nil, fmt.Errorf("parse vrp: EDGE_WEIGHT_TYPE %q, only EUC_2D is supported: %w", ewt, ErrFormat)
	}
	for i := range dim {
		if !seenX[i] || !seenD[i] {
			return nil, fmt.Errorf("parse vrp: node %d lacks a coordinate or demand: %w", i+1, ErrFormat)
		}
	}
	if len(depots) != 1 || depots[0] != 0 {
		return nil, fmt.Errorf("parse vrp: want the single depot 1, got %v: %w", depots, ErrFormat)
	}
	p := &Problem{Name: name, Kind: DistEuclidRounded, Nodes: make([]Node, dim)}
	for i := range dim {
		p.Nodes[i] = Node{ID: strconv.Itoa(i), X: xs[i], Y: ys[i], Demand: [Dims]float64{dem[i]}}
		if i == 0 {
			p.Nodes[i].Kind = KindDepot
		}
	}
	p.Matrix = EuclidMatrix(xs, ys, true)
	p.Vehicles = make([]Vehicle, dim-1)
	for k := range p.Vehicles {
		p.Vehicles[k] = Vehicle{ID: strconv.Itoa(k + 1), Capacity: [Dims]float64{capacity}, Shift: unboundedShift,
			Yard: -1, CostPerDist: 1}
	}
	return p, nil
}

func isHeaderKey(k string) bool {
	switch k {
	case "NAME", "COMMENT", "TYPE", "DIMENSION", "EDGE_WEIGHT_TYPE", "CAPACITY":
		return true
	}
	return false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// ParseSolomon reads a Solomon VRPTW instance: real Euclidean distances,
// travel time equal to distance, a fleet of the stated number of vehicles.
func ParseSolomon(r io.Reader) (*Problem, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("parse solomon: %w", err)
	}
	var lines [][]string
	name := ""
	for _, l := range bytes.Split(data, []byte("\n")) {
		f := strings.Fields(string(l))
		if len(f) == 0 {
			continue
		}
		if name == "" {
			name = f[0]
		}
		lines = append(lines, f)
	}
	nveh, capacity := -1, 0.0
	var rows [][7]float64
	for i, f := range lines {
		if len(f) == 2 && i > 0 && strings.EqualFold(lines[i-1][0], "NUMBER") {
			v, err1 := strconv.Atoi(f[0])
			c, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || err2 != nil || v <= 0 || v > maxInstanceNodes || c <= 0 || !finite(c) {
				return nil, fmt.Errorf("parse solomon: vehicle line %q: %w", strings.Join(f, " "), ErrFormat)
			}
			nveh, capacity = v, c
			continue
		}
		if len(f) != 7 {
			continue
		}
		var row [7]float64
		ok := true
		for k := range 7 {
			v, err := strconv.ParseFloat(f[k], 64)
			if err != nil || !finite(v) {
				ok = false
				break
			}
			row[k] = v
		}
		if !ok {
			continue
		}
		if int(row[0]) != len(rows) || row[3] < 0 || row[4] > row[5] || row[6] < 0 {
			return nil, fmt.Errorf("parse solomon: customer row %q: %w", strings.Join(f, " "), ErrFormat)
		}
		if len(rows) >= maxInstanceNodes {
			return nil, fmt.Errorf("parse solomon: more than %d customers: %w", maxInstanceNodes, ErrFormat)
		}
		rows = append(rows, row)
	}
	if nveh < 0 || len(rows) < 2 {
		return nil, fmt.Errorf("parse solomon: missing vehicle or customer section: %w", ErrFormat)
	}
	n := len(rows)
	p := &Problem{Name: name, Kind: DistEuclid, Nodes: make([]Node, n)}
	xs, ys := make([]float64, n), make([]float64, n)
	for i, r := range rows {
		xs[i], ys[i] = r[1], r[2]
		p.Nodes[i] = Node{ID: strconv.Itoa(i), X: r[1], Y: r[2], Demand: [Dims]float64{r[3]}, Service: r[6],
			Windows: []Window{{r[4], r[5]}}}
	}
	p.Nodes[0].Kind = KindDepot
	p.Nodes[0].Windows = nil
	p.Matrix = EuclidMatrix(xs, ys, false)
	p.Vehicles = make([]Vehicle, nveh)
	for k := range p.Vehicles {
		p.Vehicles[k] = Vehicle{ID: strconv.Itoa(k + 1), Capacity: [Dims]float64{capacity},
			Shift: Window{rows[0][4], rows[0][5]}, Yard: -1, CostPerDist: 1}
	}
	return p, nil
}

// ParseSol reads a CVRPLIB solution ("Route #k: c1 c2 ..." lines and
// "Cost N") for a single-depot problem whose depot is node 0. It returns the
// routes (node indices; vehicles assigned in order) and the stated cost.
func ParseSol(r io.Reader) (*Solution, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	s := &Solution{Cost: math.NaN()}
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		switch {
		case t == "":
		case strings.HasPrefix(t, "Route #"):
			_, rest, ok := strings.Cut(t, ":")
			if !ok {
				return nil, fmt.Errorf("parse sol: line %d: %q: %w", line, t, ErrFormat)
			}
			var stops []int
			for _, f := range strings.Fields(rest) {
				v, err := strconv.Atoi(f)
				if err != nil || v <= 0 || v >= maxInstanceNodes {
					return nil, fmt.Errorf("parse sol: line %d: stop %q: %w", line, f, ErrFormat)
				}
				stops = append(stops, v)
			}
			s.Routes = append(s.Routes, Route{Vehicle: len(s.Routes), Stops: stops})
		case strings.HasPrefix(t, "Cost"):
			c, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(t, "Cost")), 64)
			if err != nil || !finite(c) {
				return nil, fmt.Errorf("parse sol: line %d: %q: %w", line, t, ErrFormat)
			}
			s.Cost = c
		default:
			return nil, fmt.Errorf("parse sol: line %d: unexpected %q: %w", line, t, ErrFormat)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse sol: %w", err)
	}
	if math.IsNaN(s.Cost) {
		return nil, fmt.Errorf("parse sol: no Cost line: %w", ErrFormat)
	}
	return s, nil
}

// WriteSol writes a solution in CVRPLIB format. Node indices are written as
// they are (the depot being 0, customers 1..n-1); empty routes are skipped.
// Integral costs are written without decimals.
func WriteSol(w io.Writer, s *Solution) error {
	bw := bufio.NewWriter(w)
	k := 0
	for _, r := range s.Routes {
		if len(r.Stops) == 0 {
			continue
		}
		k++
		fmt.Fprintf(bw, "Route #%d:", k)
		for _, v := range r.Stops {
			fmt.Fprintf(bw, " %d", v)
		}
		bw.WriteByte('\n')
	}
	if s.Cost == math.Trunc(s.Cost) && math.Abs(s.Cost) < 1e15 {
		fmt.Fprintf(bw, "Cost %d\n", int64(s.Cost))
	} else {
		fmt.Fprintf(bw, "Cost %.2f\n", s.Cost)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write sol: %w", err)
	}
	return nil
}
