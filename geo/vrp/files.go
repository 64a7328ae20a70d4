package vrp

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LoadInstance reads a benchmark instance, choosing the format by extension:
// .vrp (CVRPLIB/TSPLIB) or .txt (Solomon).
func LoadInstance(path string) (*Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load instance: %w", err)
	}
	defer f.Close()
	var p *Problem
	switch strings.ToLower(filepath.Ext(path)) {
	case ".vrp":
		p, err = ParseVRP(f)
	case ".txt":
		p, err = ParseSolomon(f)
	default:
		return nil, fmt.Errorf("load instance %s: unknown extension, want .vrp or .txt: %w", path, ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("load instance %s: %w", path, err)
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return p, nil
}

// BKS is one row of a best-known-solutions table.
type BKS struct {
	Instance  string
	Set       string
	Customers int
	Value     float64
	Objective string
}

// ReadBKS reads a bks.csv table (instance,set,customers,capacity,bks,objective,...).
// Rows whose instance name holds '#' (alternative objectives) are skipped.
func ReadBKS(r io.Reader) (map[string]BKS, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read bks: %w", err)
	}
	out := map[string]BKS{}
	for i, row := range rows {
		if i == 0 || len(row) < 6 || strings.Contains(row[0], "#") {
			continue
		}
		v, err := strconv.ParseFloat(row[4], 64)
		if err != nil {
			return nil, fmt.Errorf("read bks: row %d: value %q: %w", i+1, row[4], ErrFormat)
		}
		n, _ := strconv.Atoi(row[2])
		out[row[0]] = BKS{Instance: row[0], Set: row[1], Customers: n, Value: v, Objective: row[5]}
	}
	return out, nil
}
