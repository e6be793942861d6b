// Binary start → /healthz answering (median of runs), and idle RSS, for the compiled dist/soltix.
// In the same run: the same measurement for `bun src/main.ts` (uncompiled) as the comparison.
//   node_modules/.bin/bun scripts/bench/startup.ts [--runs 10]

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { binaryPath } from "../../test/support/binary.ts";
import { tempDir } from "../../test/support/engine.ts";
import { median, round } from "./common.ts";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
const ROOT = join(import.meta.dir, "..", "..");

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return round(kb / 1024, 1);
}

async function measure(cmd: string[], port: number): Promise<{ ms: number; rss: number }> {
  const tmp = tempDir("bench-start");
  const t0 = performance.now();
  const proc = Bun.spawn([...cmd, "node", "--storage.data_dir", `${tmp.dir}/d`, "--server.port", String(port), "--log.level", "warn"], { stdout: "ignore", stderr: "ignore", cwd: "/tmp" });
  let ms = -1;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) {
        ms = performance.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > 10_000) break;
    await Bun.sleep(2);
  }
  await Bun.sleep(1000);
  const rss = rssMb(proc.pid);
  proc.kill(9);
  await proc.exited;
  tmp.cleanup();
  return { ms, rss };
}

const bin = binaryPath();
const results: Record<string, { start_to_healthz_ms_median: number; idle_rss_mb_median: number; runs: number }> = {};
for (const [name, cmd] of [["compiled_binary", [bin]], ["bun_src_uncompiled", [join(ROOT, "node_modules/.bin/bun"), join(ROOT, "src/main.ts")]]] as const) {
  const ms: number[] = [];
  const rss: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const m = await measure([...cmd], 17_000 + Math.floor(Math.random() * 20_000));
    ms.push(m.ms);
    rss.push(m.rss);
  }
  results[name] = { start_to_healthz_ms_median: round(median(ms)), idle_rss_mb_median: round(median(rss)), runs: RUNS };
}
console.log(JSON.stringify({ bench: "startup", ...results }, null, 2));
