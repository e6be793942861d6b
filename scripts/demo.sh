#!/usr/bin/env bash
# The demo: build the binary, start `soltix dev` (router + 3 storage nodes), run the README's curl
# lines (between <!-- demo:begin --> and <!-- demo:end -->), stop. --keep leaves the cluster running.
# SOLTIX_DEMO_PORT=0 uses free ports (the README's 8080/7001-7003 are rewritten to match).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec python3 - "${SOLTIX_DEMO_PORT:-8080}" "${1:-}" <<'PY'
import json, re, subprocess, sys, tempfile, time
port, keep = sys.argv[1], sys.argv[2] == "--keep"
data = tempfile.mkdtemp(prefix="soltix-demo-")
proc = subprocess.Popen(["dist/soltix", "dev", "--nodes", "3", "--port", port, "--dir", data], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ready = None
deadline = time.time() + 20
while time.time() < deadline:
    line = proc.stdout.readline()
    if not line:
        print("soltix dev exited:", proc.stderr.read()); sys.exit(1)
    if '"event":"dev-ready"' in line:
        ready = json.loads(line); break
if ready is None:
    print("soltix dev did not start in 20 s"); proc.kill(); sys.exit(1)
ports = {"8080": ready["router"].rsplit(":", 1)[1]}
for i, n in enumerate(ready["nodes"]):
    ports[str(7001 + i)] = n["url"].rsplit(":", 1)[1]
print(f"soltix dev: router {ready['router']}, nodes " + ", ".join(n["url"] for n in ready["nodes"]) + f" (data in {data})")
readme = open("README.md").read()
block = readme.split("<!-- demo:begin -->")[1].split("<!-- demo:end -->")[0]
cmds, cur = [], []
for l in [l for l in block.splitlines() if l.strip() and not l.startswith("```")]:
    if l.startswith("curl ") and cur:
        cmds.append("\n".join(cur)); cur = []
    cur.append(l)
if cur: cmds.append("\n".join(cur))
status = 0
for c in cmds:
    c = re.sub(r"127\.0\.0\.1:(8080|700[1-3])", lambda m: "127.0.0.1:" + ports[m.group(1)], c)
    print("\n$ " + c.splitlines()[0] + (" ..." if "\n" in c else ""), flush=True)
    r = subprocess.run(["bash", "-c", c], capture_output=True, text=True)
    print(r.stdout.strip() or r.stderr.strip(), flush=True)
    if r.returncode != 0: status = r.returncode; break
if keep:
    print(f"\nthe cluster keeps running (pid {proc.pid}); stop it with: kill {proc.pid}")
else:
    proc.terminate(); proc.wait(timeout=10)
sys.exit(status)
PY
