#!/usr/bin/env bash
# Runs every test of revloop: installs Mosquitto, InfluxDB 1.8.10 and PostgreSQL when
# missing, starts them on loopback test ports, runs the Go tests with the services
# required (a test that cannot reach one fails instead of skipping), and stops them.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=deploy/scripts
export REVLOOP_TEST_DIR=${REVLOOP_TEST_DIR:-$(mktemp -d /tmp/revloop-test.XXXXXX)}
export GOFLAGS=${GOFLAGS:-}

cleanup() {
  "$here/services.sh" stop all >/dev/null 2>&1 || true
}
trap cleanup EXIT

need_pkgs=()
command -v pdftoppm >/dev/null || need_pkgs+=(poppler-utils)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing ${need_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null \
    || { echo "test: could not install ${need_pkgs[*]}" >&2; exit 1; }
fi

echo "== services (mosquitto, influxdb, postgresql) under $REVLOOP_TEST_DIR"
"$here/services.sh" start all
eval "$("$here/services.sh" env all)"
export REVLOOP_REQUIRE_SERVICES=1

echo "== vet"
go vet ./...
echo "== dependency check of the edge gateway"
"$here/deps-check.sh"
echo "== tests"
go test -count=1 -timeout 30m -p 2 ./... 2>&1 | tee "$REVLOOP_TEST_DIR/go-test.log"

echo "== web console: lint and browser tests in headless Chromium"
go build -o bin/revloop ./cmd/revloop
(
  cd web
  npm ci --no-audit --no-fund --loglevel=error
  npx eslint static/app test scripts bench
  REVLOOP_BIN=../bin/revloop REVLOOP_ARTIFACTS=${REVLOOP_ARTIFACTS:-../artifacts/console} node --test --test-reporter=spec test/console.test.mjs
)
