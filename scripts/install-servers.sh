#!/usr/bin/env bash
# Installs the real servers and clients the integration tests run (Debian packages): etcd,
# nats-server, Prometheus (prometheus + promtool), the `influx` CLI (influxdb-client) and headless
# Chromium (chromium-headless-shell, for the status page). Does nothing when they are there. No
# system service is started by the install (policy-rc.d refuses it): the tests start their own.
set -euo pipefail
missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server etcd-client)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v influx >/dev/null 2>&1 || missing+=(influxdb-client)
command -v chromium-headless-shell >/dev/null 2>&1 || missing+=(chromium-headless-shell)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (apt)"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ -z "$created_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
# in case an init system started one anyway: the tests start their own instances
$SUDO pkill -x prometheus 2>/dev/null || true
