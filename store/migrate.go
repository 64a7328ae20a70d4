package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order. A file named
// NNNN_name.sqlite.sql or NNNN_name.postgres.sql applies only to that dialect.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	seen := map[int]string{}
	var out []Migration
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		if base, dial, ok := strings.Cut(name, "."); ok {
			if dial != d.String() {
				continue
			}
			name = base
		}
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migrations: file %s: want NNNN_name.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: version %d used by %s and %s", v, prev, e.Name())
		}
		seen[v] = e.Name()
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: expand(string(body), d)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func expand(s string, d Dialect) string {
	serial, blob := "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"
	if d == Postgres {
		serial, blob = "BIGSERIAL PRIMARY KEY", "BYTEA"
	}
	return strings.NewReplacer("{{serial}}", serial, "{{blob}}", blob).Replace(s)
}

// Migrate applies every migration not yet recorded in schema_migrations, each
// in its own transaction, and returns the versions it applied. progress, when
// not nil, is called before each one.
func (db *DB) Migrate(ctx context.Context, progress func(Migration)) ([]int, error) {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	ms, err := Migrations(db.dialect)
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range ms {
		err := db.InTx(ctx, func(tx *Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return errAlreadyApplied
			}
			if progress != nil {
				progress(m)
			}
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%04d_%s: %w", m.Version, m.Name, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`,
				m.Version, m.Name, nowMillis())
			return err
		})
		switch {
		case err == errAlreadyApplied:
		case err != nil:
			return applied, fmt.Errorf("migrate: %w", err)
		default:
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

var errAlreadyApplied = fmt.Errorf("already applied")

// splitStatements splits a migration on semicolons at line ends; migrations
// keep one statement per semicolon-terminated block and no procedural bodies.
func splitStatements(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		lines := strings.Split(part, "\n")
		keep := lines[:0]
		for _, l := range lines {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				keep = append(keep, l)
			}
		}
		if stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(keep, "\n")), ";"); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}
