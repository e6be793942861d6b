#!/usr/bin/env bash
# Installs InfluxDB and VictoriaMetrics from Debian's apt (no system service is started: policy-rc.d
# refuses service starts during the install; the bench runs each on 127.0.0.1 with a temp data dir)
# and runs the ingest benchmark against soltix and both peers, side by side in one run.
#   bash scripts/bench/peers.sh [--seconds 60] [--configs 1000x1,...]   (extra flags go to ingest.ts)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/bench/install-peers.sh
[ -x node_modules/.bin/bun ] || npm ci --silent
node_modules/.bin/bun scripts/build.ts >/dev/null
exec node_modules/.bin/bun scripts/bench/ingest.ts --targets soltix,influxdb,victoriametrics "$@"
