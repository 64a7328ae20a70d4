#!/usr/bin/env bash
# services.sh {start|stop|status|env} [mosquitto|influxdb|postgres|all]
#
# Runs the real services the integration tests talk to, on loopback test
# ports, with their state under ${REVLOOP_TEST_DIR:-/tmp/revloop-test}:
#
#   mosquitto  tcp://127.0.0.1:${REVLOOP_TEST_MQTT_PORT:-18830}
#   influxdb   http://127.0.0.1:${REVLOOP_TEST_INFLUX_PORT:-18086} (1.8.10, flux-enabled;
#              RPC bind-address 127.0.0.1:${REVLOOP_TEST_INFLUX_RPC_PORT:-18088})
#   postgres   delegated to deploy/scripts/postgres.sh
#
# Installs what is missing (install-mosquitto.sh, install-influxdb.sh), waits until each
# service answers, writes pid files, and fails with one clear line when one cannot start.
# A service that already answers on its port (started with another REVLOOP_TEST_DIR) is
# used as it is and left running by `stop`: tests create their own databases and topics.
# `start` also writes the export lines to $REVLOOP_TEST_DIR/services.env;
# `env` prints them:
#
#   deploy/scripts/services.sh start all
#   eval "$(deploy/scripts/services.sh env all)"
#   REVLOOP_REQUIRE_SERVICES=1 go test ./...
#   deploy/scripts/services.sh stop all
#
# Adding a service: write <name>_start, <name>_stop, <name>_running and <name>_env
# below and add <name> to ALL.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DIR="${REVLOOP_TEST_DIR:-/tmp/revloop-test}"
MQTT_PORT="${REVLOOP_TEST_MQTT_PORT:-18830}"
INFLUX_PORT="${REVLOOP_TEST_INFLUX_PORT:-18086}"
INFLUX_RPC_PORT="${REVLOOP_TEST_INFLUX_RPC_PORT:-18088}"
START_TIMEOUT="${REVLOOP_TEST_START_TIMEOUT:-60}"
ALL="mosquitto influxdb postgres"

die() { echo "services.sh: $*" >&2; exit 1; }

# pid_alive <pidfile>: the process of the pid file runs.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for <seconds> <command...>: retries the command every 0.2 s.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# port_free <port>: nothing listens on 127.0.0.1:<port>.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_pid <name> <pidfile>: TERM, wait up to 20 s, then KILL.
stop_pid() {
  local pidfile=$2 pid
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  if ! wait_for 20 sh -c "! kill -0 $pid"; then
    echo "services.sh: $1 (pid $pid) ignored TERM; killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# ---- mosquitto ---------------------------------------------------------------------------

MQ_DIR="$DIR/mosquitto"
MQ_PID="$MQ_DIR/mosquitto.pid"

mosquitto_bin() { command -v mosquitto || echo /usr/sbin/mosquitto; }

# A retained message published and read back proves the broker routes messages.
mosquitto_ping() {
  local topic="revloop/test/ping/$$" out
  mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -r -t "$topic" -m pong || return 1
  out="$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t "$topic" -C 1 -W 3)" || return 1
  mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -r -t "$topic" -n || true
  [ "$out" = pong ]
}

mosquitto_running() { pid_alive "$MQ_PID" || { ! port_free "$MQTT_PORT" && mosquitto_ping; }; }

mosquitto_start() {
  "$HERE/install-mosquitto.sh"
  if pid_alive "$MQ_PID"; then return 0; fi
  if ! port_free "$MQTT_PORT"; then
    mosquitto_ping || die "mosquitto: 127.0.0.1:$MQTT_PORT is in use by a process that is not an MQTT broker"
    echo "services.sh: an MQTT broker already answers on 127.0.0.1:$MQTT_PORT (started elsewhere); using it" >&2
    return 0
  fi
  mkdir -p "$MQ_DIR"
  sed -e "s|@PORT@|$MQTT_PORT|g" -e "s|@DIR@|$MQ_DIR|g" -e "s|@USER@|$(id -un)|g" \
    "$ROOT/deploy/test/mosquitto.conf" >"$MQ_DIR/mosquitto.conf"
  setsid "$(mosquitto_bin)" -c "$MQ_DIR/mosquitto.conf" >"$MQ_DIR/mosquitto.log" 2>&1 </dev/null &
  echo $! >"$MQ_PID"
  wait_for "$START_TIMEOUT" mosquitto_ping ||
    { stop_pid mosquitto "$MQ_PID"; die "mosquitto did not answer on 127.0.0.1:$MQTT_PORT within ${START_TIMEOUT}s (log: $MQ_DIR/mosquitto.log: $(tail -n 1 "$MQ_DIR/mosquitto.log" 2>/dev/null))"; }
}

mosquitto_stop() { stop_pid mosquitto "$MQ_PID"; }

mosquitto_env() { echo "export REVLOOP_TEST_MQTT_URL=tcp://127.0.0.1:$MQTT_PORT"; }

# ---- influxdb ----------------------------------------------------------------------------

IX_DIR="$DIR/influxdb"
IX_PID="$IX_DIR/influxd.pid"

influxdb_ping() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INFLUX_PORT/ping")" = 204 ]; }

influxdb_running() { pid_alive "$IX_PID" || influxdb_ping; }

influxdb_start() {
  local bin
  bin="$("$HERE/install-influxdb.sh")" || die "influxdb: influxd is not installed and could not be built"
  if pid_alive "$IX_PID"; then return 0; fi
  if ! port_free "$INFLUX_PORT"; then
    influxdb_ping || die "influxdb: 127.0.0.1:$INFLUX_PORT is in use by a process that is not InfluxDB"
    echo "services.sh: InfluxDB already answers on 127.0.0.1:$INFLUX_PORT (started elsewhere); using it" >&2
    return 0
  fi
  port_free "$INFLUX_RPC_PORT" || die "influxdb: 127.0.0.1:$INFLUX_RPC_PORT is already in use by another process"
  mkdir -p "$IX_DIR"
  sed -e "s|@DIR@|$IX_DIR|g" -e "s|@HTTP_PORT@|$INFLUX_PORT|g" -e "s|@RPC_PORT@|$INFLUX_RPC_PORT|g" \
    "$ROOT/deploy/test/influxdb.conf" >"$IX_DIR/influxdb.conf"
  setsid "$bin" run -config "$IX_DIR/influxdb.conf" >"$IX_DIR/influxd.log" 2>&1 </dev/null &
  echo $! >"$IX_PID"
  wait_for "$START_TIMEOUT" influxdb_ping ||
    { stop_pid influxd "$IX_PID"; die "influxd did not answer GET /ping on 127.0.0.1:$INFLUX_PORT within ${START_TIMEOUT}s (log: $IX_DIR/influxd.log: $(tail -n 1 "$IX_DIR/influxd.log" 2>/dev/null))"; }
}

influxdb_stop() { stop_pid influxd "$IX_PID"; }

influxdb_env() { echo "export REVLOOP_TEST_INFLUX_URL=http://127.0.0.1:$INFLUX_PORT"; }

# ---- postgres ----------------------------------------------------------------------------
# PostgreSQL has its own script (Debian's packages, a throwaway cluster); these
# functions only delegate so that `all` covers it too.

postgres_start() { REVLOOP_TEST_DIR="$DIR" "$HERE/postgres.sh" start >/dev/null || die "postgres: see the message above"; }
postgres_stop() { REVLOOP_TEST_DIR="$DIR" "$HERE/postgres.sh" stop; }
postgres_running() { [ -f "$DIR/pg/data/postmaster.pid" ]; }
postgres_env() { REVLOOP_TEST_DIR="$DIR" "$HERE/postgres.sh" env; }

# ---- main --------------------------------------------------------------------------------

usage() { die "usage: services.sh {start|stop|status|env} [mosquitto|influxdb|postgres|all]"; }

[ $# -ge 1 ] || usage
cmd=$1
what=${2:-all}
case "$what" in
  all) services=$ALL ;;
  mosquitto|influxdb|postgres) services=$what ;;
  *) usage ;;
esac

case "$cmd" in
  start)
    mkdir -p "$DIR"
    for s in $services; do
      "${s}_start"
      echo "services.sh: $s up" >&2
    done
    for s in $ALL; do if "${s}_running"; then "${s}_env"; fi; done >"$DIR/services.env"
    ;;
  stop)
    rc=0
    for s in $services; do "${s}_stop" || rc=1; done
    exit $rc
    ;;
  status)
    for s in $services; do
      if "${s}_running"; then echo "$s: running"; else echo "$s: stopped"; fi
    done
    ;;
  env)
    for s in $services; do "${s}_env"; done
    ;;
  *) usage ;;
esac
