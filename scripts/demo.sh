#!/usr/bin/env bash
# The demo: build the binary, start a node on a temporary data dir, run the README's curl lines
# (between <!-- demo:begin --> and <!-- demo:end -->), stop the node. --keep leaves it running.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${SOLTIX_DEMO_PORT:-7001}"
keep=false
[ "${1:-}" = "--keep" ] && keep=true
bash scripts/build.sh
data_dir="$(mktemp -d /tmp/soltix-demo.XXXXXX)"
dist/soltix node --node.id demo-1 --storage.data_dir "$data_dir" --server.port "$port" >"$data_dir.out" 2>"$data_dir.log" &
pid=$!
cleanup() { if [ "$keep" = false ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data_dir" "$data_dir.out" "$data_dir.log"; fi; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "node failed to start:"; cat "$data_dir.log"; exit 1; }
  sleep 0.1
done
echo "node demo-1 listening on 127.0.0.1:$port (data in $data_dir)"
# Run each README curl command (a command continues until the next line starting with "curl ").
python3 - "$port" <<'PY'
import re, subprocess, sys
readme = open("README.md").read()
block = readme.split("<!-- demo:begin -->")[1].split("<!-- demo:end -->")[0]
lines = [l for l in block.splitlines() if l.strip() and not l.startswith("```")]
cmds, cur = [], []
for line in lines:
    if line.startswith("curl ") and cur:
        cmds.append("\n".join(cur)); cur = []
    cur.append(line)
if cur: cmds.append("\n".join(cur))
for c in cmds:
    c = c.replace("127.0.0.1:7001", "127.0.0.1:" + sys.argv[1])
    print("\n$ " + c.splitlines()[0] + (" ..." if "\n" in c else ""), flush=True)
    r = subprocess.run(["bash", "-c", c], capture_output=True, text=True)
    print(r.stdout.strip() or r.stderr.strip(), flush=True)
    if r.returncode != 0: sys.exit(r.returncode)
PY
if [ "$keep" = true ]; then
  echo; echo "node keeps running (pid $pid); stop it with: kill $pid"
fi
