// Anti-entropy benchmark: one (group, day) window on two replicas, for several divergence scenarios
// and window sizes. For each, in the same run:
//   merkle      — our protocol: GetMerkleRoots, batched GetMerkleNodes descent, GetLeafPoints (with
//                 encodings) at the leaves; bytes are the real protobuf message sizes
//   sketch      — the same with rateless IBLT sketches (storage.sync.anti_entropy.sketch): the roots
//                 call carries our first 32 symbols; the peer peels the difference and answers the
//                 points we lack (or, when they do not peel, its symbols sized by the count gap, which
//                 we peel — or the descent goes on from the first level); ExchangePoints moves the
//                 rest both ways. Bytes are the real messages' sizes.
//   full_resync — the Soltix-style fallback: stream the whole window from the peer
//   negentropy  — NIP-77 range-based set reconciliation (nostr-tools) on the same items:
//                 (time, SHA-256 of the canonical point); its messages are hex, counted as bytes
// Reported: round trips, bytes each way, points transferred, wall time. The sketch path's upkeep: its
// 64-symbol prefix built from a window's points (ns a point), and late writes on a tree holding it.
//   node_modules/.bin/bun scripts/bench/anti-entropy.ts [--sizes 86400,1000000]

import { create, toBinary } from "@bufbuild/protobuf";
import { nip77 } from "nostr-tools";
import { createHash } from "node:crypto";
import {
  ExchangePointsRequestSchema,
  ExchangePointsResponseSchema,
  SketchAnswerSchema,
  GetLeafPointsRequestSchema,
  GetLeafPointsResponseSchema,
  GetMerkleNodesRequestSchema,
  GetMerkleNodesResponseSchema,
  GetMerkleRootsRequestSchema,
  GetMerkleRootsResponseSchema,
  KnownPointsSchema,
  LeafPointsSchema,
  NodeRefSchema,
  PointVersionSchema,
  RootMineSchema,
  WindowRootSchema,
} from "../../src/gen/soltix/v1/sync_pb.ts";
import { PointKeySchema, PointSchema } from "../../src/gen/soltix/v1/point_pb.ts";
import { WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";
import { MINE_DIGEST_BYTES, diffTrees, packMine, sameSummary, type ExpandRequest, type Expansion, type TreeSource } from "../../src/merkle/diff.ts";
import { treeSource } from "../../src/merkle/memory-source.ts";
import { DEFAULT_SHAPE, depthOfId, indexOfId } from "../../src/merkle/shape.ts";
import { SKETCH_PREFIX_SYMBOLS, WindowTree, tableOfRecords } from "../../src/merkle/tree.ts";
import { sha256 } from "../../src/base/sha256.ts";
import { keyOfEncoding, recordOf } from "../../src/model/encoding.ts";
import { compareVersions, lwwMerge } from "../../src/model/lww.ts";
import { keyParts, type PointRecord } from "../../src/model/point.ts";
import { NS_PER_DAY } from "../../src/base/time.ts";
import { median, round } from "./common.ts";
import { DESCENT_DIGEST_BYTES } from "../../src/sync/rpc-tree-source.ts";
import { merkleNodeToProto, nodeChildrenToProto } from "../../src/rpc/merkle-wire.ts";
import { concatBytes } from "../../src/base/bytes.ts";
import { SKETCH_FIRST_SYMBOLS } from "../../src/sync/anti-entropy.ts";
import { SKETCH_SYMBOLS_MAX } from "../../src/rpc/sketch-answer.ts";
import { SKETCH_FORMAT_VERSION, SKETCH_ID_BYTES, SKETCH_SYMBOL_BYTES, estimateDifference, encodeSymbols, idKey, packIds, peel, symbolsFor } from "../../src/merkle/riblt.ts";

const WS = 20_500n * NS_PER_DAY;
const sizesArg = process.argv.indexOf("--sizes");
const SIZES = (sizesArg > 0 ? process.argv[sizesArg + 1]! : "86400,1000000").split(",").map(Number);

function makeBase(n: number, devices: number): PointRecord[] {
  const perDevice = Math.ceil(n / devices);
  const step = NS_PER_DAY / BigInt(perDevice);
  const out: PointRecord[] = [];
  for (let d = 0; d < devices; d++) {
    for (let i = 0; i < perDevice && out.length < n; i++) {
      out.push(recordOf({ database: "bench", collection: "m", id: `device-${String(d).padStart(4, "0")}`, timeNs: WS + BigInt(i) * step + BigInt(d), insertedAtNs: 1_000n, fields: [["temp", { kind: "number", value: (i * 7 + d) / 3 }], ["ok", { kind: "bool", value: i % 2 === 0 }]] }));
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

let seed = 42;
function rand(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
}

type Scenario = { name: string; mutate: (b: PointRecord[]) => PointRecord[] };

const SCENARIOS: Scenario[] = [
  { name: "identical", mutate: (b) => b },
  ...[1, 10, 100, 1000].map((d) => ({
    name: `missing_${d}`,
    mutate: (b: PointRecord[]) => {
      const drop = new Set<number>();
      while (drop.size < d) drop.add(rand(b.length));
      return b.filter((_, i) => !drop.has(i));
    },
  })),
  ...[10, 50, 1000].map((d) => ({
    name: `older_versions_${d}`,
    mutate: (b: PointRecord[]) => {
      const older = new Set<number>();
      while (older.size < d) older.add(rand(b.length));
      return b.map((r, i) => {
        if (!older.has(i)) return r;
        const k = keyParts(r.key);
        return recordOf({ database: k.database, collection: k.collection, id: k.id, timeNs: k.timeNs, insertedAtNs: 500n, fields: [["temp", { kind: "number", value: -i }]] });
      });
    },
  })),
  {
    // The caller holds 10 points the peer lacks (and lacks none): the peer names them, the caller gives them.
    name: "extra_10",
    mutate: (b: PointRecord[]) => {
      const extra: PointRecord[] = [];
      for (let i = 0; i < 10; i++) {
        const k = keyParts(b[rand(b.length)]!.key);
        extra.push(recordOf({ database: k.database, collection: k.collection, id: k.id, timeNs: k.timeNs + 1n, insertedAtNs: 3_000n, fields: [["temp", { kind: "number", value: i }]] }));
      }
      return [...b, ...extra].sort((x, y) => (x.key < y.key ? -1 : 1));
    },
  },
  {
    name: "gap_1h",
    mutate: (b) => b.filter((r) => {
      const t = keyParts(r.key).timeNs - WS;
      return !(t >= 10n * 3_600_000_000_000n && t < 11n * 3_600_000_000_000n);
    }),
  },
  {
    name: "one_device_all_day",
    mutate: (b) => b.map((r) => {
      const k = keyParts(r.key);
      if (k.id !== "device-0001") return r;
      return recordOf({ database: k.database, collection: k.collection, id: k.id, timeNs: k.timeNs, insertedAtNs: 2_000n, fields: [["temp", { kind: "number", value: -1 }]] });
    }),
  },
];

/** A TreeSource whose calls are sized as real protobuf messages (what SyncService would send). */
function wireSource(tree: WindowTree, bytes: { up: number; down: number }, withEncodings: boolean): TreeSource {
  const local = treeSource(tree);
  return {
    async root() {
      return tree.root();
    },
    async expand(reqs: readonly ExpandRequest[]) {
      const out = await local.expand(reqs);
      const ref = (id: number) => create(NodeRefSchema, { depth: depthOfId(id), index: indexOfId(id) });
      const childReqs = reqs.filter((r) => r.wantChildren);
      const pointReqs = reqs.filter((r) => r.wantPoints);
      if (childReqs.length > 0) {
        bytes.up += toBinary(GetMerkleNodesRequestSchema, create(GetMerkleNodesRequestSchema, {
          groupId: 7,
          windowStart: WS,
          nodes: childReqs.map((r) => ref(r.id)),
          digestBytes: DESCENT_DIGEST_BYTES,
          mine: childReqs.map((r) => r.mine ?? new Uint8Array(0)),
        })).length;
        bytes.down += toBinary(GetMerkleNodesResponseSchema, create(GetMerkleNodesResponseSchema, {
          nodes: reqs
            .map((r, i) => (r.wantChildren ? out[i]! : null))
            .filter((e) => e !== null)
            .map((e) => nodeChildrenToProto(e!.children!, e!.grandchildren, DESCENT_DIGEST_BYTES)),
        })).length;
      }
      if (pointReqs.length > 0) {
        bytes.up += toBinary(GetLeafPointsRequestSchema, create(GetLeafPointsRequestSchema, {
          groupId: 7,
          windowStart: WS,
          nodes: pointReqs.map((r) => ref(r.id)),
          withEncodings,
          known: pointReqs.map((r) => create(KnownPointsSchema, { entries: concatBytes((r.known ?? []).map((p) => p.version)) })),
        })).length;
        bytes.down += toBinary(GetLeafPointsResponseSchema, create(GetLeafPointsResponseSchema, {
          nodes: reqs.map((r, i) => (r.wantPoints ? out[i]! : null)).filter((e) => e !== null).map((e) => create(LeafPointsSchema, {
            missing: concatBytes(e!.missing ?? []),
            points: e!.points!.map((p) => {
              if (withEncodings) return create(PointVersionSchema, { encoding: p.enc });
              const k = keyParts(p.key);
              return create(PointVersionSchema, { key: create(PointKeySchema, { database: k.database, collection: k.collection, id: k.id, time: k.timeNs }), version: p.version });
            }),
          })),
        })).length;
      }
      return out;
    },
  };
}

async function merkle(a: WindowTree, b: WindowTree) {
  const t0 = performance.now();
  const bytes = { up: 0, down: 0 };
  // Roots go with our root children; a differing window's answer carries the first two levels.
  const mineChildren = a.root().leaf ? new Uint8Array(0) : packMine(a.children(0, 0));
  const rootPrefix = a.root().count === 0 ? new Uint8Array(0) : a.root().digest.subarray(0, MINE_DIGEST_BYTES);
  bytes.up += toBinary(GetMerkleRootsRequestSchema, create(GetMerkleRootsRequestSchema, { groupId: 7, mine: [create(RootMineSchema, { windowStart: WS, root: rootPrefix, children: mineChildren })] })).length;
  let first: Expansion | undefined;
  if (!sameSummary(a.root(), b.root()) && !b.root().leaf) [first] = await treeSource(b).expand([{ id: 0, wantChildren: true, wantPoints: false, mine: mineChildren }]);
  bytes.down += toBinary(GetMerkleRootsResponseSchema, create(GetMerkleRootsResponseSchema, {
    roots: [
      create(WindowRootSchema, {
        windowStart: WS,
        root: merkleNodeToProto(b.root()),
        ...(first === undefined ? {} : { firstLevel: nodeChildrenToProto(first.children!, first.grandchildren, MINE_DIGEST_BYTES) }),
      }),
    ],
  })).length;
  const found = await diffTrees(DEFAULT_SHAPE, treeSource(a), wireSource(b, bytes, true), { knownRoots: { local: a.root(), remote: b.root() }, firstLevel: first });
  // Points on the wire: only those the leaf answers carried (missing here or in another version).
  const transferred = found.remotePoints.size;
  let payload = 0;
  for (const p of found.remotePoints.values()) payload += p.enc.length;
  const differing = found.onlyLocal.length + found.onlyRemote.length + found.differ.length;
  return {
    round_trips: 1 + found.roundTrips,
    bytes_up: bytes.up,
    bytes_down: bytes.down,
    points_transferred: transferred,
    points_differing: differing,
    payload_bytes: payload,
    overhead_bytes_per_differing_point: differing === 0 ? 0 : round((bytes.up + bytes.down - payload) / differing, 1),
    ms: round(performance.now() - t0, 1),
  };
}

/**
 * The sketch path as the node runs it (sync/anti-entropy.ts compareWindow/sketchRepair, rpc/sketch-answer.ts),
 * `a` the caller: real message sizes; the descent (as `merkle`) when the symbols do not peel.
 */
async function sketchPath(aRecords: PointRecord[], bRecords: PointRecord[]) {
  const a = new WindowTree(DEFAULT_SHAPE, WS, aRecords);
  const b = new WindowTree(DEFAULT_SHAPE, WS, bRecords);
  let readBack = () => {};
  const t0 = performance.now();
  const bytes = { up: 0, down: 0 };
  const mineChildren = a.root().leaf ? new Uint8Array(0) : packMine(a.children(0, 0));
  const rootPrefix = a.root().count === 0 ? new Uint8Array(0) : a.root().digest.subarray(0, MINE_DIGEST_BYTES);
  const callerSymbols = a.sketch(SKETCH_FIRST_SYMBOLS);
  bytes.up += toBinary(GetMerkleRootsRequestSchema, create(GetMerkleRootsRequestSchema, {
    groupId: 7, sketchFormat: SKETCH_FORMAT_VERSION,
    mine: [create(RootMineSchema, { windowStart: WS, root: rootPrefix, children: mineChildren, count: BigInt(a.root().count), sketch: encodeSymbols(callerSymbols) })],
  })).length;
  const differs = !sameSummary(a.root(), b.root());
  let answer: ReturnType<typeof create<typeof SketchAnswerSchema>> | undefined;
  let first: Expansion | undefined;
  let payload = 0;
  let roundTrips = 1;
  let differing = 0;
  let path = "roots";
  if (differs) {
    const diff = callerSymbols.minus(b.sketch(callerSymbols.length));
    const estimate = estimateDifference(diff);
    const d = peel(diff);
    if (d.ok) {
      const points = b.pointsWithIds(new Set(d.onlyB.map(([h, l]) => idKey(h, l))));
      answer = create(SketchAnswerSchema, { decoded: true, points, lacking: packIds(d.onlyA) });
    } else {
      const size = symbolsFor(Math.abs(a.root().count - b.root().count), estimate, SKETCH_SYMBOLS_MAX);
      answer = create(SketchAnswerSchema, size === undefined ? {} : { symbols: encodeSymbols(b.sketch(size.length)) });
      if (!b.root().leaf && (size === undefined || size.probe)) [first] = await treeSource(b).expand([{ id: 0, wantChildren: true, wantPoints: false, mine: mineChildren }]);
    }
  }
  bytes.down += toBinary(GetMerkleRootsResponseSchema, create(GetMerkleRootsResponseSchema, {
    roots: [create(WindowRootSchema, {
      windowStart: WS,
      root: merkleNodeToProto(b.root()),
      ...(first === undefined ? {} : { firstLevel: nodeChildrenToProto(first.children!, first.grandchildren, MINE_DIGEST_BYTES) }),
      ...(answer === undefined ? {} : { sketch: answer }),
    })],
  })).length;
  if (answer !== undefined) {
    let want: Array<[number, number]> = [];
    let lacking: Array<[number, number]> = [];
    let got = answer.points;
    let settled = answer.decoded;
    if (answer.decoded) {
      for (let i = 0; i < answer.lacking.length; i += SKETCH_ID_BYTES) {
        const v = new DataView(answer.lacking.buffer, answer.lacking.byteOffset + i, SKETCH_ID_BYTES);
        lacking.push([v.getUint16(0), v.getUint32(2)]);
      }
    } else if (answer.symbols.length > 0) {
      const theirs = answer.symbols.length / SKETCH_SYMBOL_BYTES;
      const d = peel(a.sketch(theirs).minus(b.sketch(theirs)));
      if (d.ok) {
        settled = true;
        want = d.onlyB;
        lacking = d.onlyA;
      }
    }
    if (settled) {
      path = "sketch";
      // As the node does: a key the peer already sent newer is not given back.
      const theirsByKey = new Map(got.map((e) => [keyOfEncoding(e), e]));
      const mineToGive = lacking.length === 0 ? [] : a.pointsWithIds(new Set(lacking.map(([h, l]) => idKey(h, l))));
      const give = mineToGive.filter((e) => {
        const t = theirsByKey.get(keyOfEncoding(e));
        return t === undefined || compareVersions(e, t) > 0;
      });
      if (want.length > 0 || give.length > 0) {
        roundTrips++;
        const back = b.pointsWithIds(new Set(want.map(([h, l]) => idKey(h, l))));
        bytes.up += toBinary(ExchangePointsRequestSchema, create(ExchangePointsRequestSchema, { groupId: 7, windowStart: WS, want: packIds(want), give })).length;
        bytes.down += toBinary(ExchangePointsResponseSchema, create(ExchangePointsResponseSchema, { points: back, stored: give.length })).length;
        got = [...got, ...back];
        for (const e of give) payload += e.length;
      }
      for (const e of got) payload += e.length;
      // Counted by key, as the descent counts (a key held in two versions is one differing point).
      differing = new Set([...got, ...mineToGive].map((e) => keyOfEncoding(e))).size;
      // Read back: the caller with what it got, and the peer with what it was given, both hold the
      // LWW union of the two windows (as trees: equal roots).
      // (Checked after the timing.)
      readBack = () => {
        const asRecords = (encs: Uint8Array[]) => encs.map((enc) => ({ key: keyOfEncoding(enc), enc }));
        const union = new WindowTree(DEFAULT_SHAPE, WS, lwwMerge([...aRecords, ...bRecords])).root();
        const callerAfter = new WindowTree(DEFAULT_SHAPE, WS, lwwMerge([...aRecords, ...asRecords(got)])).root();
        const peerAfter = new WindowTree(DEFAULT_SHAPE, WS, lwwMerge([...bRecords, ...asRecords(give)])).root();
        if (!sameSummary(callerAfter, union) || !sameSummary(peerAfter, union)) throw new Error("sketch path: a replica does not hold the LWW union after the exchange");
      };
    } else {
      // Not peeled: the descent from the first level, as the node goes on.
      path = "descent";
      const found = await diffTrees(DEFAULT_SHAPE, treeSource(a), wireSource(b, bytes, true), { knownRoots: { local: a.root(), remote: b.root() }, firstLevel: first });
      roundTrips += found.roundTrips;
      for (const p of found.remotePoints.values()) payload += p.enc.length;
      differing = found.onlyLocal.length + found.onlyRemote.length + found.differ.length;
    }
  }
  const ms = round(performance.now() - t0, 1);
  readBack();
  return {
    path,
    round_trips: roundTrips,
    bytes_up: bytes.up,
    bytes_down: bytes.down,
    points_differing: differing,
    payload_bytes: payload,
    overhead_bytes_per_differing_point: differing === 0 ? 0 : round((bytes.up + bytes.down - payload) / differing, 1),
    ms,
  };
}

function fullResync(b: PointRecord[]) {
  const t0 = performance.now();
  let bytes = 0;
  // StreamPoints messages of 1000 points, as protobuf.
  for (let i = 0; i < b.length; i += 1000) {
    const pts = b.slice(i, i + 1000).map((r) => {
      const k = keyParts(r.key);
      return create(PointSchema, { database: k.database, collection: k.collection, id: k.id, time: k.timeNs, insertedAt: 2_000n, fields: {} });
    });
    bytes += toBinary(WriteRequestSchema, create(WriteRequestSchema, { points: pts })).length;
  }
  // Fields are not in the message above: add the field bytes of the canonical encodings (a fair floor).
  for (const r of b) bytes += Math.max(0, r.enc.length - 17 - keyBytes(r));
  return { round_trips: 2, bytes_up: 24, bytes_down: bytes, points_transferred: b.length, ms: round(performance.now() - t0, 1) };
}

function keyBytes(r: PointRecord): number {
  const k = keyParts(r.key);
  return 3 + k.database.length + k.collection.length + k.id.length;
}

/** Negentropy only reconciles ids; moving the needed points costs their encodings on top. */
function negentropy(a: PointRecord[], b: PointRecord[]) {
  const t0 = performance.now();
  const encById = new Map<string, Uint8Array>();
  const vec = (rs: PointRecord[], remember: boolean) => {
    const v = new nip77.NegentropyStorageVector();
    for (const r of rs) {
      const id = createHash("sha256").update(r.enc).digest("hex");
      if (remember) encById.set(id, r.enc);
      v.insert(Number((keyParts(r.key).timeNs - WS) / 1_000_000n), id);
    }
    v.seal();
    return v;
  };
  const client = new nip77.Negentropy(vec(a, false), 60_000);
  const server = new nip77.Negentropy(vec(b, true), 60_000);
  let up = 0;
  let down = 0;
  let rts = 0;
  const need: string[] = [];
  const have: string[] = [];
  let msg: string | null = client.initiate();
  while (msg !== null) {
    up += msg.length / 2;
    // Either side may resolve a range to id lists: the server's "have" is what the client needs.
    const resp = server.reconcile(msg, (id) => need.push(id), (id) => have.push(id));
    rts++;
    if (resp === null) break;
    down += resp.length / 2;
    msg = client.reconcile(resp, (id) => have.push(id), (id) => need.push(id));
  }
  let pointBytes = 0;
  for (const id of need) pointBytes += (encById.get(id)?.length ?? 0) + 3;
  return {
    round_trips: rts + (need.length > 0 ? 1 : 0),
    bytes_up: up + need.length * 33,
    bytes_down: down + pointBytes,
    reconcile_bytes: up + down,
    points_transferred: need.length,
    ids_missing_there: have.length,
    ms: round(performance.now() - t0, 1),
  };
}

/**
 * Tree costs on one window, in the same run: a full build (median of 5, from a key-ordered table as a
 * compacted segment provides it) against one raw SHA-256 pass over the same bytes; and one late write
 * (staged on the built tree, then the new root read: the path rehashed) against a full rebuild.
 */
function treeBuildFigures(base: PointRecord[]) {
  const table = tableOfRecords(base);
  const builds: number[] = [];
  const raws: number[] = [];
  let tree = new WindowTree(DEFAULT_SHAPE, WS, table);
  for (let k = 0; k < 5; k++) {
    let t = performance.now();
    sha256(table.buf);
    raws.push(performance.now() - t);
    t = performance.now();
    tree = new WindowTree(DEFAULT_SHAPE, WS, table);
    tree.root();
    builds.push(performance.now() - t);
  }
  const lateWrites = 2_000;
  const perWrite: number[] = [];
  for (let i = 0; i < lateWrites; i++) {
    const k = keyParts(base[rand(base.length)]!.key);
    // Half rewrite an existing key (a newer version), half add a point between existing ones.
    const r = recordOf({ database: k.database, collection: k.collection, id: k.id, timeNs: k.timeNs + BigInt(i % 2), insertedAtNs: 5_000n + BigInt(i), fields: [["temp", { kind: "number", value: i }]] });
    const t = performance.now();
    tree.stage(r.key, r.enc);
    tree.root();
    perWrite.push((performance.now() - t) * 1000);
  }
  const sorted = [...perWrite].sort((a, b) => a - b);
  // The same late writes on a tree holding its sketch prefix (as one does once a comparison read it):
  // each also takes the replaced version's id out of the prefix and puts the new one in.
  const sketched = new WindowTree(DEFAULT_SHAPE, WS, table);
  let t = performance.now();
  sketched.sketch(SKETCH_PREFIX_SYMBOLS);
  const sketchBuildMs = performance.now() - t;
  const perWriteSketched: number[] = [];
  for (let i = 0; i < lateWrites; i++) {
    const k = keyParts(base[rand(base.length)]!.key);
    const r = recordOf({ database: k.database, collection: k.collection, id: k.id, timeNs: k.timeNs + BigInt(i % 2), insertedAtNs: 5_000n + BigInt(i), fields: [["temp", { kind: "number", value: i }]] });
    t = performance.now();
    sketched.stage(r.key, r.enc);
    sketched.root();
    perWriteSketched.push((performance.now() - t) * 1000);
  }
  // The prefix kept by the writes is the one computed afresh from the points.
  if (Buffer.compare(Buffer.from(encodeSymbols(sketched.sketch(SKETCH_PREFIX_SYMBOLS))), Buffer.from(encodeSymbols(new WindowTree(DEFAULT_SHAPE, WS, sketched.points(0, 0).map((p) => ({ key: p.key, enc: p.enc }))).sketch(SKETCH_PREFIX_SYMBOLS)))) !== 0) throw new Error("the kept sketch prefix drifted from the points");
  return {
    sketch_prefix_build_ms: round(sketchBuildMs, 1),
    sketch_prefix_build_ns_per_point: round((sketchBuildMs * 1e6) / base.length, 0),
    late_write_update_us_median_with_sketch: round(median(perWriteSketched), 1),
    tree_build_ms: round(median(builds), 1),
    raw_sha256_ms: round(median(raws), 1),
    build_vs_raw_sha: round(median(builds) / median(raws), 2),
    late_write_update_us_median: round(median(perWrite), 1),
    late_write_update_us_p99: round(sorted[Math.floor(sorted.length * 0.99)]!, 1),
    late_writes: lateWrites,
    rebuild_vs_update: round((median(builds) * 1000) / median(perWrite), 0),
  };
}

const rows: unknown[] = [];
for (const n of SIZES) {
  const base = makeBase(n, Math.max(10, Math.round(n / 86_400) * 10));
  const build = treeBuildFigures(base);
  const ta = new WindowTree(DEFAULT_SHAPE, WS, base);
  for (const sc of SCENARIOS) {
    seed = 42;
    const b = sc.mutate(base);
    const tb = new WindowTree(DEFAULT_SHAPE, WS, b);
    // The side that lacks points runs the comparison (it pulls).
    const m = await merkle(tb, ta);
    const sk = await sketchPath(b, base);
    const f = fullResync(base);
    const ng = negentropy(b, base);
    rows.push({ n, scenario: sc.name, merkle: m, sketch: sk, full_resync: f, negentropy: ng });
    console.error(`${n} ${sc.name}: merkle ${m.round_trips} RT ${m.bytes_up}+${m.bytes_down} B (${m.overhead_bytes_per_differing_point} B/pt overhead), ${m.points_transferred} pts | sketch (${sk.path}) ${sk.round_trips} RT ${sk.bytes_up}+${sk.bytes_down} B (${sk.overhead_bytes_per_differing_point} B/pt) | full ${f.bytes_down} B | negentropy ${ng.round_trips} RT ${ng.bytes_up}+${ng.bytes_down} B, ${ng.points_transferred} pts`);
  }
  rows.push({ n, ...build });
}
console.log(JSON.stringify({ bench: "anti-entropy", shape: DEFAULT_SHAPE, rows }, null, 2));
