#!/usr/bin/env bash
# The whole test suite: bun:test (unit, property, RPC, compiled-binary crash tests, real etcd) and the
# Deno core and smoke tests. Installs etcd and nats-server (apt) when missing. Prints a final line "N passed, N failed". Exit code 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH:/usr/sbin"
bash scripts/install-servers.sh || { echo "could not install etcd/nats-server"; echo "0 passed, 1 failed"; exit 1; }
log_dir="${TMPDIR:-/tmp}/soltix-test-$$"
mkdir -p "$log_dir"

bun test --timeout 300000 "$@" 2>&1 | tee "$log_dir/bun.log"
bun_status=${PIPESTATUS[0]}
deno test -A --unstable-no-legacy-abort test/deno/*.deno.ts 2>&1 | tee "$log_dir/deno.log"
deno_status=${PIPESTATUS[0]}

strip() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
bun_pass=$(strip "$log_dir/bun.log" | sed -n 's/^ *\([0-9][0-9]*\) pass$/\1/p' | tail -1)
bun_fail=$(strip "$log_dir/bun.log" | sed -n 's/^ *\([0-9][0-9]*\) fail$/\1/p' | tail -1)
deno_pass=$(strip "$log_dir/deno.log" | sed -n 's/.*| \([0-9][0-9]*\) passed.*/\1/p' | tail -1)
deno_fail=$(strip "$log_dir/deno.log" | sed -n 's/.*passed | \([0-9][0-9]*\) failed.*/\1/p' | tail -1)
passed=$(( ${bun_pass:-0} + ${deno_pass:-0} ))
failed=$(( ${bun_fail:-0} + ${deno_fail:-0} ))
# A runner that crashed or printed no summary counts as a failure.
if [ "$bun_status" -ne 0 ] && [ "${bun_fail:-0}" -eq 0 ]; then failed=$((failed + 1)); echo "bun test exited $bun_status"; fi
if [ "$deno_status" -ne 0 ] && [ "${deno_fail:-0}" -eq 0 ]; then failed=$((failed + 1)); echo "deno test exited $deno_status"; fi
if [ -z "$bun_pass" ] || [ -z "$deno_pass" ]; then failed=$((failed + 1)); echo "a test runner printed no summary"; fi
rm -rf "$log_dir"
echo "bun: ${bun_pass:-0} passed, ${bun_fail:-0} failed; deno: ${deno_pass:-0} passed, ${deno_fail:-0} failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
