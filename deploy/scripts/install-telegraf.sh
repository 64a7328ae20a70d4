#!/usr/bin/env bash
# install-telegraf.sh builds Telegraf 1.37.2, with only the plugins the
# reference configuration of `revloop bench ingest --config telegraf` uses,
# when $(go env GOPATH)/bin/telegraf is missing. Debian has no package of it.
# It compiles for a few minutes. Prints the path of telegraf.
set -euo pipefail
bin="$(go env GOPATH)/bin/telegraf"
plugins="custom,inputs.mqtt_consumer,inputs.internal,outputs.influxdb_v2,outputs.file,parsers.json_v2,serializers.influx"
if [ ! -x "$bin" ]; then
  echo "install-telegraf.sh: building telegraf 1.37.2 (go install, a few minutes)" >&2
  # Outside any module, so that the project's go.mod plays no part.
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go install -tags "$plugins" github.com/influxdata/telegraf/cmd/telegraf@v1.37.2) >&2 ||
    { echo "install-telegraf.sh: go install github.com/influxdata/telegraf/cmd/telegraf@v1.37.2 failed" >&2; exit 1; }
fi
echo "$bin"
