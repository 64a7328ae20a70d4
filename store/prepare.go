package store

import (
	"context"
	"database/sql"
)

// Prepare creates a statement, written with ? placeholders, for repeated use
// inside the transaction (batch writers run one statement many times).
func (tx *Tx) Prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	return tx.tx.PrepareContext(ctx, tx.dialect.Rebind(q))
}
