#!/usr/bin/env bash
# Installs the peers the benches compare with — InfluxDB and VictoriaMetrics from Debian's apt — when
# missing. No system service is started: policy-rc.d refuses service starts during the install (the
# benches run each on 127.0.0.1 with a temp data dir).
set -euo pipefail
need=()
[ -x /usr/bin/influxd ] || need+=(influxdb)
[ -x /usr/bin/victoria-metrics ] || need+=(victoria-metrics)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" >/dev/null
  [ -z "$created_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  # in case an init system started them anyway: the bench starts its own instances
  $SUDO pkill -x influxd 2>/dev/null || true
  $SUDO pkill -x victoria-metrics 2>/dev/null || true
fi
