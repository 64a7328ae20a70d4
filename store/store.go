package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/revloop/revloop"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect is the SQL flavour of a backend.
type Dialect int

// The supported backends.
const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = fmt.Errorf("store: %w", revloop.ErrNotFound)

// DB is a connection pool to the state store.
type DB struct {
	sql     *sql.DB
	dialect Dialect
}

// Open connects to the state store. An empty url opens (creating it if
// needed) the embedded SQLite database revloop.db in dataDir; a postgres://
// or postgresql:// url connects to PostgreSQL. Open does not migrate.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	var db *DB
	switch {
	case url == "" || strings.HasPrefix(url, "sqlite:") || strings.HasPrefix(url, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:")
		if path == "" {
			if err := os.MkdirAll(dataDir, 0o750); err != nil {
				return nil, fmt.Errorf("store open: %w", err)
			}
			path = filepath.Join(dataDir, "revloop.db")
		}
		dsn := "file:" + path + "?_txlock=immediate" +
			"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
		s, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store open sqlite: %w", err)
		}
		s.SetMaxOpenConns(8)
		db = &DB{sql: s, dialect: SQLite}
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		s, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("store open postgres: %w", err)
		}
		s.SetMaxOpenConns(16)
		db = &DB{sql: s, dialect: Postgres}
	default:
		return nil, fmt.Errorf("store open: unsupported database url scheme in %q (want postgres:// or empty for embedded SQLite)", redact(url))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.sql.PingContext(pctx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("store open %s: %w", db.dialect, err)
	}
	return db, nil
}

// redact hides a password in a connection url.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if at := strings.LastIndex(url, "@"); at > i {
			if c := strings.Index(url[i+3:at], ":"); c >= 0 {
				return url[:i+3+c+1] + "***" + url[at:]
			}
		}
	}
	return url
}

// Dialect reports which backend db talks to.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the underlying pool, for code that needs database/sql directly.
func (db *DB) SQL() *sql.DB { return db.sql }

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Rebind rewrites ? placeholders for the backend ($1, $2, ... on PostgreSQL).
// A ? inside a single-quoted literal is left alone.
func (d Dialect) Rebind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Querier is what both *DB and *Tx offer; functions that work inside or
// outside a transaction take it.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	Dialect() Dialect
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// Exec runs a statement written with ? placeholders.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, db.dialect.Rebind(q), args...)
}

// Query runs a query written with ? placeholders.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.dialect.Rebind(q), args...)
}

// QueryRow runs a query expected to return at most one row.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.dialect.Rebind(q), args...)
}

// Tx is a transaction with the same ? placeholder helpers as DB.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect reports which backend the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Exec runs a statement inside the transaction.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.dialect.Rebind(q), args...)
}

// Query runs a query inside the transaction.
func (tx *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.dialect.Rebind(q), args...)
}

// QueryRow runs a single-row query inside the transaction.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.dialect.Rebind(q), args...)
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise. On PostgreSQL the transaction is SERIALIZABLE and retried up to
// 12 times (jittered back-off) on serialization failures, so fn must be safe to run again; on
// SQLite write transactions are serialized by the database lock.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	opts := &sql.TxOptions{}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelSerializable
	}
	var err error
	for attempt := 0; attempt < 12; attempt++ {
		err = db.tryTx(ctx, opts, fn)
		if err == nil || !isSerializationFailure(err) {
			return err
		}
		// Jittered, growing back-off so that colliding writers spread out.
		backoff := time.Duration(1+min(attempt, 6)) * 4 * time.Millisecond
		select {
		case <-time.After(backoff/2 + time.Duration(rand.Int64N(int64(backoff)))):
		case <-ctx.Done():
			return err
		}
	}
	return err
}

func (db *DB) tryTx(ctx context.Context, opts *sql.TxOptions, fn func(*Tx) error) error {
	t, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store begin: %w", err)
	}
	if err := fn(&Tx{tx: t, dialect: db.dialect}); err != nil {
		t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("store commit: %w", err)
	}
	return nil
}

func isSerializationFailure(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 40001") || strings.Contains(s, "SQLSTATE 40P01")
}

// IsUniqueViolation reports whether err is a unique or primary key conflict.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "UNIQUE constraint failed") ||
		strings.Contains(s, "constraint failed: PRIMARY KEY")
}

// IsForeignKeyViolation reports whether err is a foreign key conflict.
func IsForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 23503") || strings.Contains(s, "FOREIGN KEY constraint failed")
}

// Millis converts t to the stored form (Unix milliseconds); the zero time is 0.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis converts a stored time back; 0 is the zero time.
func FromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
