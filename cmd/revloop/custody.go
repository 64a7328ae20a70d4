package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/custody"
	"github.com/revloop/revloop/yard"
)

func init() {
	register(&command{name: "custody", summary: "verify or list the custody log", run: runCustody})
}

const custodyUsage = `usage: revloop custody <subcommand> [flags]

subcommands:
  verify    check the hash chain; exits 1 and names the first bad entry if the log was changed
            (--anchor SEQ:HASH also checks an entry recorded elsewhere, which catches a log
            rewritten and re-hashed from that entry on)
  entries   print entries as JSON lines (--subject to pick one transition, ticket or shipment)`

func runCustody(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stderr, custodyUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "verify":
		return runCustodyVerify(ctx, e, args[1:])
	case "entries":
		return runCustodyEntries(ctx, e, args[1:])
	}
	fmt.Fprintln(e.stderr, custodyUsage)
	return fmt.Errorf("custody: unknown subcommand %q", args[0])
}

func runCustodyVerify(ctx context.Context, e *env, args []string) error {
	set := config.NewSet("custody verify", e.stderr)
	var sf storeFlags
	sf.register(set)
	var quiet, asJSON bool
	var anchor string
	set.Bool(&quiet, "quiet", false, "no progress bar")
	set.String(&anchor, "anchor", "", "SEQ:HASH of an entry recorded earlier outside the database (e.g. a printed head); the log must still hold it")
	set.Bool(&asJSON, "json", false, "print the report as JSON")
	if err := set.Parse(args); err != nil {
		return err
	}
	db, _, err := sf.open(ctx, nil)
	if err != nil {
		return fmt.Errorf("custody verify: %w", err)
	}
	defer db.Close()
	bar := newProgress(e.stderr, "verifying", quiet)
	rep, err := custody.Verify(ctx, db, func(done, total int64) { bar.set(int(done), int(total)) })
	bar.done()
	if err != nil {
		return err
	}
	if asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(e.stdout, string(b))
	} else if rep.OK {
		fmt.Fprintf(e.stdout, "custody log intact: %d entries, head %d %s, verified in %s\n", rep.Entries, rep.HeadSeq, rep.HeadHash, rep.Elapsed.Round(1e6))
	}
	if !rep.OK {
		return fmt.Errorf("custody log broken at entry %d: %s (%d entries before it verified)", rep.FirstBad.Seq, rep.FirstBad.Reason, rep.Entries)
	}
	if anchor != "" {
		var seq int64
		var want string
		if _, err := fmt.Sscanf(strings.Replace(anchor, ":", " ", 1), "%d %s", &seq, &want); err != nil || seq < 1 {
			return fmt.Errorf("custody verify: --anchor wants SEQ:HASH, got %q", anchor)
		}
		es, err := custody.Entries(ctx, db, "", seq-1, 1)
		if err != nil {
			return err
		}
		if len(es) == 0 || es[0].Seq != seq {
			return fmt.Errorf("custody log broken: anchored entry %d is gone (the log was truncated or rewritten)", seq)
		}
		if es[0].Hash != want {
			return fmt.Errorf("custody log broken at entry %d: its hash differs from the anchor (the log was rewritten from there on)", seq)
		}
		fmt.Fprintf(e.stdout, "anchor %d matches\n", seq)
	}
	return nil
}

func runCustodyEntries(ctx context.Context, e *env, args []string) error {
	set := config.NewSet("custody entries", e.stderr)
	var sf storeFlags
	sf.register(set)
	var subject string
	var after int64
	var n int
	set.String(&subject, "subject", "", "only entries about this subject")
	set.Int64(&after, "after", 0, "only entries after this sequence number")
	set.Int(&n, "limit", 0, "most entries printed (0: all)")
	if err := set.Parse(args); err != nil {
		return err
	}
	db, _, err := sf.open(ctx, nil)
	if err != nil {
		return fmt.Errorf("custody entries: %w", err)
	}
	defer db.Close()
	es, err := custody.Entries(ctx, db, subject, after, n)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, en := range es {
		if err := enc.Encode(en); err != nil {
			return err
		}
	}
	return nil
}

// wireYard attaches the yard to an app: the observer that turns gate reads
// and weights into passages and tickets (ticking every second and flushing
// at shutdown), and the yard and custody areas of the API with raw reads
// from the time-series store. serve registers it with
// registerWiring("yard", wireYard).
func wireYard(_ context.Context, a *app) error {
	ys, err := yard.New(a.DB, a.log.With("part", "yard"), a.cfg.yard)
	if err != nil {
		return err
	}
	obs := yard.NewObserver(ys, a.log.With("part", "yard"))
	a.Registry.MustRegister(obs.Collectors()...)
	a.Ingest.Observers = append(a.Ingest.Observers, obs)
	a.Runners = append(a.Runners, obs.Run)
	a.API.Yard = api.YardDeps{Yard: ys, Custody: custody.Auditor{Q: a.DB}, Reads: a.TimeSeries}
	return nil
}
