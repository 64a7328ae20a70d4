package storetest_test

import (
	"testing"

	"github.com/revloop/revloop/store/storetest"
)

func TestContractSQLite(t *testing.T) { storetest.Run(t, storetest.SQLite) }

func TestContractPostgres(t *testing.T) { storetest.Run(t, storetest.Postgres) }
