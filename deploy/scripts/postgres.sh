#!/bin/sh
# postgres.sh {install|start|stop|env} runs a throwaway PostgreSQL cluster for
# the integration tests: Debian's packages, data and unix socket under
# ${REVLOOP_TEST_DIR:-/tmp/revloop-test}/pg, TCP on 127.0.0.1:${REVLOOP_TEST_PG_PORT:-15432},
# database revloop_test, user postgres without a password (trust on loopback).
#
#   eval "$(deploy/scripts/postgres.sh start)"   # prints the export line
#   go test ./store/... ./devices/...
#   deploy/scripts/postgres.sh stop
set -eu

DIR="${REVLOOP_TEST_DIR:-/tmp/revloop-test}/pg"
PORT="${REVLOOP_TEST_PG_PORT:-15432}"
DB=revloop_test
URL="postgres://postgres@127.0.0.1:${PORT}/${DB}?sslmode=disable"

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	done
	return 1
}

as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%s ' "$@")"
		fi
	else
		"$@"
	fi
}

install() {
	if bindir >/dev/null; then return 0; fi
	command -v apt-get >/dev/null 2>&1 || die "initdb not found and apt-get unavailable; install PostgreSQL"
	echo "postgres.sh: installing postgresql" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; } ||
		die "apt-get install postgresql failed"
	bindir >/dev/null || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
}

running() {
	B="$(bindir)" || return 1
	[ -f "$DIR/data/postmaster.pid" ] && as_postgres "$B/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
	install
	B="$(bindir)"
	if ! running; then
		mkdir -p "$DIR"
		if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
		chmod 700 "$DIR"
		if [ ! -f "$DIR/data/PG_VERSION" ]; then
			as_postgres "$B/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 ||
				die "initdb failed, see $DIR/initdb.log"
		fi
		as_postgres "$B/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" start >/dev/null 2>&1 ||
			die "cannot start PostgreSQL on 127.0.0.1:$PORT, see $DIR/server.log"
	fi
	if ! as_postgres "$B/psql" -h "$DIR" -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" postgres | grep -q 1; then
		as_postgres "$B/psql" -h "$DIR" -p "$PORT" -U postgres -qc "CREATE DATABASE $DB" postgres >/dev/null ||
			die "cannot create database $DB"
	fi
	env
}

stop() {
	B="$(bindir)" || return 0
	if running; then
		as_postgres "$B/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || die "cannot stop PostgreSQL in $DIR"
	fi
}

env() { echo "export REVLOOP_TEST_DATABASE_URL='$URL'"; }

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
env) env ;;
*) die "usage: postgres.sh {install|start|stop|env}" ;;
esac
