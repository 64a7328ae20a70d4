// Package storetest is the contract test suite every state store backend
// passes (embedded SQLite and PostgreSQL), plus helpers that open a fresh,
// isolated database of each kind for a test.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, storetest.SQLite)
//		storetest.Run(t, storetest.Postgres) // skipped without REVLOOP_TEST_DATABASE_URL
//	}
package storetest
