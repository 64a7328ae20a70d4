#!/usr/bin/env bash
# install-mosquitto.sh installs the Mosquitto broker and its command-line
# clients from the distribution's packages when mosquitto is missing.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  if command -v mosquitto_pub >/dev/null 2>&1; then exit 0; fi
fi
command -v apt-get >/dev/null 2>&1 || { echo "install-mosquitto.sh: mosquitto missing and apt-get unavailable; install mosquitto and mosquitto-clients" >&2; exit 1; }
echo "install-mosquitto.sh: installing mosquitto mosquitto-clients" >&2
apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto mosquitto-clients >&2 ||
  { echo "install-mosquitto.sh: apt-get install mosquitto mosquitto-clients failed" >&2; exit 1; }
# The test and development runs start their own broker; do not leave the
# package's system service listening on :1883.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
