package main

import (
	"context"
	"fmt"

	"github.com/revloop/revloop/config"
	"github.com/revloop/revloop/store"
)

func init() {
	register(&command{name: "migrate", summary: "apply the state store's schema migrations", run: runMigrate})
}

// storeFlags are the settings every command that opens the state store takes.
type storeFlags struct {
	databaseURL string
	dataDir     string
}

func (f *storeFlags) register(s *config.Set) {
	s.Secret(&f.databaseURL, "database-url", "state store: postgres://user:pass@host/db for PostgreSQL; empty for embedded SQLite in --data-dir")
	s.String(&f.dataDir, "data-dir", "./data", "data directory of the embedded state store")
}

// open connects to the state store and applies pending migrations, calling
// progress before each.
func (f *storeFlags) open(ctx context.Context, progress func(store.Migration)) (*store.DB, []int, error) {
	db, err := store.Open(ctx, f.databaseURL, f.dataDir)
	if err != nil {
		return nil, nil, err
	}
	applied, err := db.Migrate(ctx, progress)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, applied, nil
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	set := config.NewSet("migrate", e.stderr)
	var sf storeFlags
	sf.register(set)
	if err := set.Parse(args); err != nil {
		return err
	}
	if set.FlagSet().NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", set.FlagSet().Arg(0))
	}
	db, applied, err := sf.open(ctx, func(m store.Migration) {
		fmt.Fprintf(e.stdout, "applying %04d_%s\n", m.Version, m.Name)
	})
	if err != nil {
		return err
	}
	defer db.Close()
	all, err := store.Migrations(db.Dialect())
	if err != nil {
		return err
	}
	latest := 0
	if len(all) > 0 {
		latest = all[len(all)-1].Version
	}
	fmt.Fprintf(e.stdout, "%s state store: %d migration(s) applied, schema at version %04d\n", db.Dialect(), len(applied), latest)
	return nil
}
