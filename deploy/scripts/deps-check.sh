#!/usr/bin/env bash
# Proves that the edge gateway binary links none of the server's dependencies.
set -euo pipefail
cd "$(dirname "$0")/../.."
forbidden='github.com/gin-gonic/gin|github.com/influxdata/influxdb-client-go|database/sql$|github.com/jackc/pgx|modernc.org/sqlite|github.com/mochi-mqtt/server|github.com/revloop/revloop/(ingest|api|store|timeseries)'
bad=$(go list -deps ./cmd/revloop-bridge | grep -E "^($forbidden)" || true)
if [ -n "$bad" ]; then
  echo "deps-check: revloop-bridge links server dependencies:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "deps-check: revloop-bridge links $(go list -deps ./cmd/revloop-bridge | wc -l) packages, none of the server's"
