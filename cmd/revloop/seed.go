package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/config"
	dsp "github.com/revloop/revloop/dispatch"
)

func init() {
	register(&command{name: "seed", summary: "load a simulator world (customers, sites, bins, vehicles, devices, yard gates and scales) into the state store", run: runSeed})
}

func runSeed(ctx context.Context, e *env, args []string) error {
	set := config.NewSet("seed", e.stderr)
	var sf storeFlags
	sf.register(set)
	var file, secretsOut string
	set.String(&file, "world", "", "world JSON file written by 'revloop simulate --world-out FILE --world-only'")
	set.String(&secretsOut, "secrets-out", "", "write device_id,secret of the devices registered now to this file (mode 0600); the simulator connects with it")
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
	return seedDevicesAndYard(ctx, db, file, secretsOut, e.stdout)
}

// wireDispatch attaches the dispatch area: customers, sites, vehicles,
// bins, pickups and complaints in the state store, and the live view (an
// ingest observer keeping the latest fixes and fill readings in memory,
// seeded from the time-series store at start, rebuilt every second) that
// serves fleet positions, bins with their fill and the event stream. Other
// parts publish derived events to the stream through
// a.API.Dispatch.Live.(interface{ PublishEvent(any) error }).
// serve registers it with registerWiring("dispatch", wireDispatch).
func wireDispatch(_ context.Context, a *app) error {
	st := dsp.New(a.DB)
	live := dsp.NewLive(a.log.With("part", "live"), dsp.LiveOptions{}, st, a.TimeSeries)
	a.Ingest.Observers = append(a.Ingest.Observers, live)
	a.Runners = append(a.Runners, func(ctx context.Context) error { return live.Run(ctx) })
	a.API.Dispatch = api.DispatchDeps{Store: st, Live: live, Tracks: a.TimeSeries}
	return nil
}
