#!/usr/bin/env bash
# Proves that the edge gateway binary links none of the server's dependencies, for every
# architecture it ships for.
set -euo pipefail
cd "$(dirname "$0")/../.."
forbidden='github.com/gin-gonic/|github.com/influxdata/|github.com/jackc/|modernc.org/sqlite|^database/sql$|github.com/mochi-mqtt/|github.com/revloop/revloop/(ingest|api|store|timeseries)(/|$)'
for arch in amd64 arm64 arm; do
  deps=$(GOOS=linux GOARCH=$arch go list -deps ./cmd/revloop-bridge)
  if bad=$(grep -E "$forbidden" <<<"$deps"); then
    echo "deps-check: revloop-bridge (linux/$arch) links server dependencies:" >&2
    echo "$bad" >&2
    exit 1
  fi
  echo "deps-check: revloop-bridge (linux/$arch) links $(wc -l <<<"$deps") packages, none of the server's"
done
