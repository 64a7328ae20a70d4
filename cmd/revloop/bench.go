package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/revloop/revloop/store"
)

// benchmark is one `revloop bench <name>` target; each registers itself from
// the file that owns it.
type benchmark struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var benchmarks = map[string]*benchmark{}

func registerBench(b *benchmark) {
	if _, dup := benchmarks[b.name]; dup {
		panic("revloop: benchmark registered twice: " + b.name)
	}
	benchmarks[b.name] = b
}

func init() {
	register(&command{name: "bench", summary: "run a benchmark and print its figures", run: runBench})
}

func runBench(ctx context.Context, e *env, args []string) error {
	names := make([]string, 0, len(benchmarks))
	for n := range benchmarks {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(e.stderr, "usage: revloop bench <target> [flags]\n\ntargets:")
		for _, n := range names {
			fmt.Fprintf(e.stderr, "  %-10s %s\n", n, benchmarks[n].summary)
		}
		return errUsage
	}
	b, ok := benchmarks[args[0]]
	if !ok {
		return fmt.Errorf("bench: unknown target %q (have %s)", args[0], strings.Join(names, ", "))
	}
	return b.run(ctx, e, args[1:])
}

// benchDB opens and migrates a benchmark's state store: dbURL, or the
// SQLite database in dataDir, or, both empty, one in a new temporary
// directory. done closes it and removes that directory.
func benchDB(ctx context.Context, dbURL, dataDir string) (db *store.DB, done func(), err error) {
	cleanup := func() {}
	if dbURL == "" && dataDir == "" {
		dir, err := os.MkdirTemp("", "revloop-bench-")
		if err != nil {
			return nil, nil, err
		}
		dataDir, cleanup = dir, func() { os.RemoveAll(dir) }
	}
	db, err = store.Open(ctx, dbURL, dataDir)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if _, err := db.Migrate(ctx, nil); err != nil {
		db.Close()
		cleanup()
		return nil, nil, err
	}
	return db, func() { db.Close(); cleanup() }, nil
}
