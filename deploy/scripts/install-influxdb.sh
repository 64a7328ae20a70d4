#!/usr/bin/env bash
# install-influxdb.sh builds InfluxDB 1.8.10 (influxd) with the Go toolchain
# when $(go env GOPATH)/bin/influxd is missing. It compiles for a few minutes.
# Prints the path of influxd.
set -euo pipefail
bin="$(go env GOPATH)/bin/influxd"
if [ ! -x "$bin" ]; then
  echo "install-influxdb.sh: building influxd 1.8.10 (go install, a few minutes)" >&2
  # Outside any module, so that the project's go.mod plays no part.
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10) >&2 ||
    { echo "install-influxdb.sh: go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10 failed" >&2; exit 1; }
fi
echo "$bin"
