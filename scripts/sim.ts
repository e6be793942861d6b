// Deterministic simulation: nodes and a router started by the binary's composition (launchNode,
// launchRouter) over simulated files, clocks and network, one seed per run (src/sim/). A failing seed
// is printed and replays identically:
//   node_modules/.bin/bun scripts/sim.ts --seeds 1000           # seeds 1..1000
//   node_modules/.bin/bun scripts/sim.ts --seed 1234 --verbose  # one seed, with its event log

import { runSeed, type SimResult } from "../src/sim/world.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const verbose = process.argv.includes("--verbose");
const one = arg("seed");
const first = Number(arg("from") ?? "1");
const count = Number(arg("seeds") ?? "100");
const steps = Number(arg("steps") ?? "40");
const seeds = one !== undefined ? [Number(one)] : Array.from({ length: count }, (_, i) => first + i);

const t0 = performance.now();
const totals: Record<string, number> = {};
const failed: SimResult[] = [];
let simulatedMs = 0;
let acked = 0;
let readsChecked = 0;
for (const seed of seeds) {
  const r = await runSeed({ seed, steps, ...(verbose ? { log: (l: string) => console.error(l) } : {}) });
  simulatedMs += r.simulatedMs;
  acked += r.acked;
  readsChecked += r.readsChecked;
  for (const [k, v] of Object.entries(r.faults)) totals[k] = (totals[k] ?? 0) + v;
  if (!r.ok) {
    failed.push(r);
    console.error(`seed ${seed} FAILED (replay: bun scripts/sim.ts --seed ${seed} --verbose): ${r.error}`);
  }
}
console.log(JSON.stringify({
  bench: "simulation",
  seeds: seeds.length,
  failed: failed.map((f) => f.seed),
  steps_per_seed: steps,
  wall_ms: Math.round(performance.now() - t0),
  simulated_ms: simulatedMs,
  acknowledged_keys: acked,
  router_reads_checked_against_acknowledged: readsChecked,
  faults: totals,
}, null, 2));
process.exit(failed.length === 0 ? 0 : 1);
