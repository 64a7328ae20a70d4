package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/revloop/revloop/config"
	dsp "github.com/revloop/revloop/dispatch"
)

func init() {
	register(&command{name: "seed", summary: "load a simulator world (customers, sites, bins, vehicles) into the state store", run: runSeed})
}

func runSeed(ctx context.Context, e *env, args []string) error {
	set := config.NewSet("seed", e.stderr)
	var sf storeFlags
	sf.register(set)
	var file string
	set.String(&file, "world", "", "world JSON file written by 'revloop simulate --world-out FILE --world-only'")
	if err := set.Parse(args); err != nil {
		return err
	}
	if file == "" {
		return errors.New("seed: --world FILE is required (make one with 'revloop simulate --world-out FILE --world-only')")
	}
	if set.FlagSet().NArg() > 0 {
		return fmt.Errorf("seed: unexpected argument %q", set.FlagSet().Arg(0))
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	w, err := dsp.ReadWorld(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("seed: %s: %w", file, err)
	}
	db, _, err := sf.open(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer db.Close()
	if _, err := dsp.New(db).Seed(ctx, w, func(c dsp.SeedCount) { fmt.Fprintln(e.stderr, c) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %s state store from %s: %d customers, %d sites, %d bins, %d vehicles\n", db.Dialect(), file,
		len(w.Customers), len(w.Sites), len(w.Bins), len(w.Vehicles))
	return nil
}
