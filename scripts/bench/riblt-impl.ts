// Which rateless IBLT to ship: ours (src/merkle/riblt.ts, TypeScript) against @peerbit/riblt (the Rust
// riblt crate compiled to WASM, from npm), on the same 64-bit ids in the same run:
//   - building a window's symbols: 1 M ids into the first 64 symbols (the kept prefix) and 2 048
//     (a large answer), µs per id, median of 3;
//   - symbols needed to decode a difference of d ids (the paper's 1.35–2 per id), median over runs.
// Ours also keeps a prefix current as points come and go (add and remove one id), which the WASM API
// cannot (an encoder only adds, and streams its symbols once).
//   node_modules/.bin/bun scripts/bench/riblt-impl.ts

import { DecoderWrapper, EncoderWrapper, ready } from "@peerbit/riblt";
import { Sketch, peel } from "../../src/merkle/riblt.ts";
import { median, round } from "./common.ts";

await ready;
let seed = 99;
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed ^ (seed >>> 11) ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
};

const N = 1_000_000;
const hi = new Uint32Array(N);
const lo = new Uint32Array(N);
const ids = new BigUint64Array(N);
for (let i = 0; i < N; i++) {
  hi[i] = rnd();
  lo[i] = rnd();
  ids[i] = (BigInt(hi[i]!) << 32n) | BigInt(lo[i]!);
}

const build: Record<string, unknown> = {};
for (const L of [64, 2048]) {
  const ours: number[] = [];
  const wasm: number[] = [];
  for (let k = 0; k < 3; k++) {
    let t = performance.now();
    const s = new Sketch(L);
    for (let i = 0; i < N; i++) s.add(hi[i]!, lo[i]!);
    ours.push(performance.now() - t);
    t = performance.now();
    const enc = new EncoderWrapper();
    for (let i = 0; i < N; i++) enc.add_symbol(ids[i]!);
    for (let i = 0; i < L; i++) enc.produce_next_coded_symbol();
    wasm.push(performance.now() - t);
    enc.free();
  }
  build[`symbols_${L}`] = {
    ours_us_per_id: round((median(ours) * 1000) / N, 3),
    peerbit_wasm_us_per_id: round((median(wasm) * 1000) / N, 3),
    wasm_vs_ours: round(median(wasm) / median(ours), 1),
  };
}

// One id added then removed on a kept 64-symbol prefix (what a late write costs ours).
const kept = new Sketch(64);
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  kept.add(hi[i]!, lo[i]!);
  kept.remove(hi[i]!, lo[i]!);
}
const keptUpdateUs = ((performance.now() - t0) * 1000) / N / 2;

const decode: Record<string, unknown> = {};
const SET = 20_000;
for (const d of [10, 100, 1000]) {
  const oursNeed: number[] = [];
  const wasmNeed: number[] = [];
  for (let run = 0; run < (d === 1000 ? 5 : 15); run++) {
    const base = run * (SET + d);
    // Ours: the smallest prefix of (A − B) that peels, by bisection over a long one.
    const diff = new Sketch(d * 3 + 64);
    for (let i = 0; i < d; i++) diff.add(hi[base + i]!, lo[base + i]!);
    let a = 1;
    let b = diff.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (peel(diff.prefix(m)).ok) b = m;
      else a = m + 1;
    }
    oursNeed.push(a);
    // WASM: A's coded symbols streamed into a decoder holding B, tried as each arrives past d.
    const enc = new EncoderWrapper();
    for (let i = 0; i < SET + d; i++) enc.add_symbol(ids[base + i]!);
    const dec = new DecoderWrapper();
    for (let i = d; i < SET + d; i++) dec.add_symbol(ids[base + i]!);
    let used = 0;
    do {
      dec.add_coded_symbol(enc.produce_next_coded_symbol());
      used++;
      if (used >= d) dec.try_decode();
    } while (!dec.decoded() && used < 4 * d + 64);
    wasmNeed.push(used);
    enc.free();
    dec.free();
  }
  decode[`d_${d}`] = { ours_symbols_median: median(oursNeed), peerbit_wasm_symbols_median: median(wasmNeed), ours_per_id: round(median(oursNeed) / d, 2), wasm_per_id: round(median(wasmNeed) / d, 2) };
}

console.log(JSON.stringify({ bench: "riblt-impl", ids: N, build, kept_prefix_update_us_per_id: round(keptUpdateUs, 3), decode, symbol_bytes: { ours: 10, peerbit_wasm: "three u64 as JS BigInt objects (24 B of state, no wire format)" } }, null, 2));
