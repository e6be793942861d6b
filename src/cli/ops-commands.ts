// Operator commands: call nodes' RPCs and print readable results.
//   soltix status   --node ADDR                                  groups, state, sync progress, last anti-entropy
//   soltix checksum --nodes A,B[,C] --group G [--window DAY]     flat window checksums side by side
//   soltix tree     --nodes A,B --group G [--window DAY]         Merkle roots of two nodes, the narrowed differing ranges
//   soltix repair   --node ADDR --group G                        run anti-entropy for the group now and follow it
// ADDR is host:port or a URL. DAY is YYYY-MM-DD or a window start in ns. --json prints raw JSON.

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { toJson } from "@bufbuild/protobuf";
import { invalidArgument } from "../base/errors.ts";
import { nsToIso, parseRfc3339Ns } from "../base/time.ts";
import { AdminService, GetStatusResponseSchema, TriggerAntiEntropyResponseSchema, type AntiEntropyRecord } from "../gen/soltix/v1/admin_pb.ts";
import { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import { diffTrees } from "../merkle/diff.ts";
import { DEFAULT_SHAPE, depthOfId, indexOfId, timeRangeOfNode, type TreeShape } from "../merkle/shape.ts";
import type { ExpandRequest, TreeSource } from "../merkle/diff.ts";
import { rpcTreeSource } from "../sync/rpc-tree-source.ts";
import type { ParsedArgs } from "./args.ts";
import { httpPeerNet } from "../adapters/peer-net.ts";
import { nodeFileSystem } from "../adapters/node-fs.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { readPeerCredentials } from "../app/security.ts";

/**
 * How the commands reach nodes: --token-file (or SOLTIX_AUTH_TOKEN_FILE) adds the bearer token;
 * --ca-file (or SOLTIX_TLS_CA_FILE) trusts a private CA and dials https; an https:// ADDR dials https.
 */
async function opsNet(args: ParsedArgs): Promise<PeerNet> {
  const caFile = args.flags.get("ca-file") ?? process.env.SOLTIX_TLS_CA_FILE ?? "";
  const files = { tokenFile: args.flags.get("token-file") ?? process.env.SOLTIX_AUTH_TOKEN_FILE ?? "", caFile };
  const { token, caPem } = await readPeerCredentials(nodeFileSystem, files, { token: "--token-file", ca: "--ca-file" });
  return httpPeerNet({ token, https: caFile !== "", caPem });
}

function transport(net: PeerNet, addr: string) {
  return createConnectTransport({ baseUrl: net.url(addr), useBinaryFormat: true, defaultTimeoutMs: 10 * 60_000, fetch: net.fetch });
}

function need(args: ParsedArgs, name: string): string {
  const v = args.flags.get(name);
  if (v === undefined || v === "") throw invalidArgument(`--${name}`, "is required");
  return v;
}

function groupArg(args: ParsedArgs): number {
  const g = Number(need(args, "group"));
  if (!Number.isInteger(g) || g < 0) throw invalidArgument("--group", `${JSON.stringify(args.flags.get("group"))} must be a group number`);
  return g;
}

function windowArg(args: ParsedArgs): bigint | undefined {
  const w = args.flags.get("window");
  if (w === undefined) return undefined;
  if (/^\d+$/.test(w)) return BigInt(w);
  const ns = parseRfc3339Ns(`${w}T00:00:00Z`);
  if (ns === undefined) throw invalidArgument("--window", `${JSON.stringify(w)} must be YYYY-MM-DD or a window start in ns`);
  return ns;
}

const day = (ns: bigint) => nsToIso(ns).slice(0, 10);
const print = (s: string) => process.stdout.write(`${s}\n`);

export async function runStatus(args: ParsedArgs): Promise<number> {
  const net = await opsNet(args);
  const node = need(args, "node");
  const res = await createClient(AdminService, transport(net, node)).getStatus({});
  if (args.flags.has("json")) {
    print(JSON.stringify(toJson(GetStatusResponseSchema, res), null, 2));
    return 0;
  }
  print(`node ${res.nodeId} (${net.url(node)}): ${res.groups.length} group(s)`);
  print(`${"group".padEnd(6)} ${"state".padEnd(8)} ${"points".padStart(10)}  ${"newest point".padEnd(24)} ${"sync".padEnd(24)} last anti-entropy`);
  for (const g of res.groups) {
    const s = g.sync;
    const sync = s === undefined || s.state === "idle" ? "-" : `${s.state} ${s.points} pts${s.state === "running" && s.etaSeconds >= 0 ? ` eta ${s.etaSeconds.toFixed(0)}s` : ""}`;
    const ae = summarize(g.lastAntiEntropy);
    print(`${String(g.groupId).padEnd(6)} ${g.state.padEnd(8)} ${String(g.points).padStart(10)}  ${(g.lastTimestamp === 0n ? "-" : nsToIso(g.lastTimestamp)).padEnd(24)} ${sync.padEnd(24)} ${ae}`);
  }
  return 0;
}

function summarize(records: readonly AntiEntropyRecord[]): string {
  if (records.length === 0) return "-";
  const by = new Map<string, number>();
  for (const r of records) by.set(`${r.result}/${r.path}`, (by.get(`${r.result}/${r.path}`) ?? 0) + 1);
  return [...by].map(([k, n]) => `${n}× ${k}`).join(", ");
}

export async function runChecksum(args: ParsedArgs): Promise<number> {
  const net = await opsNet(args);
  const nodes = need(args, "nodes").split(",").filter((s) => s !== "");
  const group = groupArg(args);
  const clients = nodes.map((n) => createClient(SyncService, transport(net, n)));
  let windows: bigint[];
  const w = windowArg(args);
  if (w !== undefined) windows = [w];
  else {
    const all = new Set<bigint>();
    for (const c of clients) for (const r of (await c.getMerkleRoots({ groupId: group, windows: [] })).roots) all.add(r.windowStart);
    windows = [...all].sort((a, b) => (a < b ? -1 : 1));
  }
  let mismatches = 0;
  print(`group ${group}: ${windows.length} window(s) on ${nodes.join(", ")}`);
  for (const ws of windows) {
    const sums = await Promise.all(clients.map((c) => c.getChecksum({ groupId: group, windowStart: ws })));
    const agree = sums.every((s) => s.sha256 === sums[0]!.sha256);
    if (!agree) mismatches++;
    print(`${day(ws)}  ${agree ? "equal   " : "DIFFER  "} ${sums.map((s, i) => `${nodes[i]}=${s.sha256.slice(0, 16)}…/${s.pointCount}`).join("  ")}`);
  }
  return mismatches === 0 ? 0 : 3;
}

/** Wraps a TreeSource to remember which node ranges had to be compared point by point. */
function recordingLeaves(src: TreeSource, leaves: number[]): TreeSource {
  return {
    root: () => src.root(),
    expand: (reqs: readonly ExpandRequest[]) => {
      for (const r of reqs) if (r.wantPoints) leaves.push(r.id);
      return src.expand(reqs);
    },
  };
}

export async function runTree(args: ParsedArgs): Promise<number> {
  const net = await opsNet(args);
  const nodes = need(args, "nodes").split(",").filter((s) => s !== "");
  if (nodes.length !== 2) throw invalidArgument("--nodes", "give exactly two nodes, comma-separated");
  const group = groupArg(args);
  const shape: TreeShape = DEFAULT_SHAPE;
  const [a, b] = nodes.map((n) => createClient(SyncService, transport(net, n))) as [ReturnType<typeof createClient<typeof SyncService>>, ReturnType<typeof createClient<typeof SyncService>>];
  const [ra, rb] = await Promise.all([a.getMerkleRoots({ groupId: group, windows: [] }), b.getMerkleRoots({ groupId: group, windows: [] })]);
  const w = windowArg(args);
  const windows = [...new Set([...ra.roots, ...rb.roots].map((r) => r.windowStart))].filter((x) => w === undefined || x === w).sort((x, y) => (x < y ? -1 : 1));
  let differing = 0;
  for (const ws of windows) {
    const na = ra.roots.find((r) => r.windowStart === ws)?.root;
    const nb = rb.roots.find((r) => r.windowStart === ws)?.root;
    const hex = (d?: Uint8Array) => (d === undefined ? "(none)" : Buffer.from(d).toString("hex").slice(0, 16));
    const equal = na !== undefined && nb !== undefined && hex(na.digest) === hex(nb.digest) && na.count === nb.count;
    print(`${day(ws)}  ${equal ? "equal " : "DIFFER"}  ${nodes[0]} ${hex(na?.digest)}…/${na?.count ?? 0}   ${nodes[1]} ${hex(nb?.digest)}…/${nb?.count ?? 0}`);
    if (equal) continue;
    differing++;
    const leaves: number[] = [];
    const found = await diffTrees(shape, recordingLeaves(rpcTreeSource(a, group, ws, shape, false), leaves), rpcTreeSource(b, group, ws, shape, false));
    for (const id of leaves) {
      const d = depthOfId(id);
      const [from, to, b0, b1] = timeRangeOfNode(shape, d, indexOfId(id));
      const buckets = b0 === b1 ? `device bucket ${b0}` : `device buckets ${b0}..${b1}`;
      print(`    range ${nsToIso(ws + from)} .. ${nsToIso(ws + to)}, ${buckets}  (depth ${d}, node ${indexOfId(id)})`);
    }
    print(`    ${found.onlyLocal.length} only on ${nodes[0]}, ${found.onlyRemote.length} only on ${nodes[1]}, ${found.differ.length} in different versions; ${found.roundTrips} round trips, ${found.leafRanges} ranges compared point by point`);
  }
  return differing === 0 ? 0 : 3;
}

export async function runRepair(args: ParsedArgs): Promise<number> {
  const net = await opsNet(args);
  const node = need(args, "node");
  const group = groupArg(args);
  print(`anti-entropy for group ${group} on ${net.url(node)} …`);
  const res = await createClient(AdminService, transport(net, node)).triggerAntiEntropy({ groupId: group, wait: true });
  if (args.flags.has("json")) {
    print(JSON.stringify(toJson(TriggerAntiEntropyResponseSchema, res), null, 2));
    return 0;
  }
  for (const r of res.records) {
    print(
      `${day(r.windowStart)}  peer ${r.peer.padEnd(12)} ${r.result.padEnd(8)} via ${r.path.padEnd(11)} ${String(r.pointsRepaired).padStart(6)} repaired / ${r.pointsDiffering} differing, ${r.roundTrips} round trips, ${r.bytesSent}↑ ${r.bytesReceived}↓ bytes, ${r.durationMs.toFixed(1)} ms${r.reason ? `  (${r.reason})` : ""}`,
    );
  }
  if (res.records.length === 0) print("nothing to compare (no replicas or no windows)");
  return res.records.some((r) => r.result === "failed" || r.result === "partial") ? 3 : 0;
}
