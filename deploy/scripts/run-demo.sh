#!/usr/bin/env bash
# The main job on the embedded default: revloop serve (embedded broker, embedded
# time-series store, embedded SQLite state store, HTTP on :8080) fed by revloop simulate.
# First start provisions the simulated devices, loads the demo world and prints an admin
# token; later starts reuse them. Ctrl-C stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-bin}/revloop
data=${DATA_DIR:-./data}
http=${REVLOOP_HTTP_ADDR:-:8080}
mqtt=${REVLOOP_MQTT_ADDR:-:1883}
mkdir -p "$data"
export REVLOOP_DATA_DIR=$data

if [ ! -f "$data/demo-secrets.csv" ]; then
  echo "== first start: provisioning the demo fleet in $data"
  "$bin" migrate >/dev/null
  "$bin" simulate --seed 1 --world-out "$data/demo-world.json" --world-only
  "$bin" seed --world "$data/demo-world.json" --secrets-out "$data/demo-secrets.csv"
  (umask 077; "$bin" token create --role admin --name demo-admin > "$data/admin-token.txt")
fi
token=$(tail -n1 "$data/admin-token.txt")

"$bin" serve --http-addr "$http" --mqtt-addr "$mqtt" &
serve=$!
trap 'kill -INT $serve $sim 2>/dev/null; wait $serve 2>/dev/null' EXIT INT TERM
sim=
port=${http##*:}
# healthy asks /healthz with bash alone (no curl needed on a fresh machine).
healthy() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 2 line <&3 || line=
  exec 3<&- 3>&-
  [[ $line == *" 200 "* ]]
}
for _ in $(seq 1 150); do
  healthy && break
  sleep 0.2
done
healthy || { echo "run: revloop serve did not become healthy on :$port" >&2; exit 1; }

cat <<MSG
== revloop is running
   console      http://127.0.0.1:$port/
   admin token  $token   (also in $data/admin-token.txt)
   try          curl -H "Authorization: Bearer $token" http://127.0.0.1:$port/api/v1/fleet/positions
MSG
"$bin" simulate --seed 1 --mqtt-url "tcp://127.0.0.1:${mqtt##*:}" --credentials "$data/demo-secrets.csv" ${SIM_ARGS:-} &
sim=$!
wait $serve
