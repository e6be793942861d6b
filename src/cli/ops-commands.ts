// Operator commands: call nodes' RPCs (app/ops.ts) and print readable results.
//   soltix status   --node ADDR                                  groups, state, sync progress, last anti-entropy
//   soltix checksum --nodes A,B[,C] --group G [--window DAY]     flat window checksums side by side
//   soltix tree     --nodes A,B --group G [--window DAY]         Merkle roots of two nodes, the narrowed differing ranges
//   soltix repair   --node ADDR --group G                        run anti-entropy for the group now and follow it
//   soltix cluster status | decommission --node ID | remove --node ID | replace --node OLD --with NEW | rebalance
//                   [--server ADDR]                           membership, asked of any node
// ADDR is host:port or a URL. DAY is YYYY-MM-DD or a window start in ns. --json prints raw JSON.

import { invalidArgument } from "../base/errors.ts";
import { nsToIso, parseRfc3339Ns } from "../base/time.ts";
import type { Platform } from "../ports/platform.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import {
  clusterStatus,
  clusterStatusJson,
  membershipChange,
  membershipChangeJson,
  nodeStatus,
  opsNet,
  rebalanceCluster,
  rebalanceJson,
  repairJson,
  statusJson,
  treeDiff,
  triggerRepair,
  windowChecksums,
  type GetClusterStatusResponse,
  type GetStatusResponse,
  type MembershipOp,
} from "../app/ops.ts";
import type { ParsedArgs } from "./args.ts";

/**
 * How the commands reach nodes: --token-file (or SOLTIX_AUTH_TOKEN_FILE) adds the bearer token;
 * --ca-file (or SOLTIX_TLS_CA_FILE) trusts a private CA and dials https; an https:// ADDR dials https.
 */
function netOf(args: ParsedArgs, platform: Platform): Promise<PeerNet> {
  const caFile = args.flags.get("ca-file") ?? process.env.SOLTIX_TLS_CA_FILE ?? "";
  return opsNet(platform, { tokenFile: args.flags.get("token-file") ?? process.env.SOLTIX_AUTH_TOKEN_FILE ?? "", caFile });
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

export async function runStatus(args: ParsedArgs, platform: Platform): Promise<number> {
  const net = await netOf(args, platform);
  const node = need(args, "node");
  const res = await nodeStatus(net, node);
  if (args.flags.has("json")) {
    print(JSON.stringify(statusJson(res), null, 2));
    return 0;
  }
  print(`node ${res.nodeId} (${net.url(node)}): ${res.groups.length} group(s); ${res.registration}`);
  for (const p of res.peersDown) print(`peer down: ${p.nodeId}${p.downSince === 0n ? " (not seen since this node started)" : ` since ${nsToIso(p.downSince)}`}, ${p.groups} shared group(s)`);
  print(`${"group".padEnd(6)} ${"state".padEnd(8)} ${"here".padEnd(11)} ${"points".padStart(10)}  ${"newest point".padEnd(24)} ${"sync".padEnd(24)} last anti-entropy`);
  for (const g of res.groups) {
    const s = g.sync;
    const sync = s === undefined || s.state === "idle" ? "-" : `${s.state}${s.phase ? `/${s.phase}` : ""} ${s.points} pts${s.state === "running" && s.etaSeconds >= 0 ? ` eta ${s.etaSeconds.toFixed(0)}s` : ""}`;
    const ae = summarize(g.lastAntiEntropy);
    print(`${String(g.groupId).padEnd(6)} ${g.state.padEnd(8)} ${g.localState.padEnd(11)} ${String(g.points).padStart(10)}  ${(g.lastTimestamp === 0n ? "-" : nsToIso(g.lastTimestamp)).padEnd(24)} ${sync.padEnd(24)} ${ae}`);
  }
  return 0;
}

function summarize(records: GetStatusResponse["groups"][number]["lastAntiEntropy"]): string {
  if (records.length === 0) return "-";
  const by = new Map<string, number>();
  for (const r of records) by.set(`${r.result}/${r.path}`, (by.get(`${r.result}/${r.path}`) ?? 0) + 1);
  return [...by].map(([k, n]) => `${n}× ${k}`).join(", ");
}

export async function runChecksum(args: ParsedArgs, platform: Platform): Promise<number> {
  const net = await netOf(args, platform);
  const nodes = need(args, "nodes").split(",").filter((s) => s !== "");
  const group = groupArg(args);
  const windows = await windowChecksums(net, nodes, group, windowArg(args));
  print(`group ${group}: ${windows.length} window(s) on ${nodes.join(", ")}`);
  for (const w of windows) {
    print(`${day(w.windowStart)}  ${w.agree ? "equal   " : "DIFFER  "} ${w.sums.map((s, i) => `${nodes[i]}=${s.sha256.slice(0, 16)}…/${s.pointCount}`).join("  ")}`);
  }
  return windows.every((w) => w.agree) ? 0 : 3;
}

export async function runTree(args: ParsedArgs, platform: Platform): Promise<number> {
  const net = await netOf(args, platform);
  const nodes = need(args, "nodes").split(",").filter((s) => s !== "");
  if (nodes.length !== 2) throw invalidArgument("--nodes", "give exactly two nodes, comma-separated");
  const group = groupArg(args);
  const diffs = await treeDiff(net, nodes[0]!, nodes[1]!, group, windowArg(args));
  const short = (h: string | undefined) => (h === undefined ? "(none)" : h.slice(0, 16));
  for (const d of diffs) {
    const [ra, rb] = d.roots as [(typeof d.roots)[number], (typeof d.roots)[number]];
    print(`${day(d.windowStart)}  ${d.equal ? "equal " : "DIFFER"}  ${nodes[0]} ${short(ra.digestHex)}…/${ra.count}   ${nodes[1]} ${short(rb.digestHex)}…/${rb.count}`);
    if (d.equal) continue;
    for (const r of d.ranges) {
      const buckets = r.bucketFirst === r.bucketLast ? `device bucket ${r.bucketFirst}` : `device buckets ${r.bucketFirst}..${r.bucketLast}`;
      print(`    range ${nsToIso(d.windowStart + r.fromNs)} .. ${nsToIso(d.windowStart + r.toNs)}, ${buckets}  (depth ${r.depth}, node ${r.index})`);
    }
    print(`    ${d.onlyA} only on ${nodes[0]}, ${d.onlyB} only on ${nodes[1]}, ${d.differ} in different versions; ${d.roundTrips} round trips, ${d.leafRanges} ranges compared point by point`);
  }
  return diffs.every((d) => d.equal) ? 0 : 3;
}

export async function runRepair(args: ParsedArgs, platform: Platform): Promise<number> {
  const net = await netOf(args, platform);
  const node = need(args, "node");
  const group = groupArg(args);
  const json = args.flags.has("json");
  if (!json) print(`anti-entropy for group ${group} on ${net.url(node)} …`);
  const res = await triggerRepair(net, node, group);
  if (json) {
    print(JSON.stringify(repairJson(res), null, 2));
    return res.records.some((r) => r.result === "failed" || r.result === "partial") ? 3 : 0;
  }
  for (const r of res.records) {
    print(
      `${day(r.windowStart)}  peer ${r.peer.padEnd(12)} ${r.result.padEnd(8)} via ${r.path.padEnd(11)} ${String(r.pointsRepaired).padStart(6)} repaired / ${r.pointsDiffering} differing, ${r.roundTrips} round trips, ${r.bytesSent}↑ ${r.bytesReceived}↓ bytes, ${r.durationMs.toFixed(1)} ms${r.reason ? `  (${r.reason})` : ""}`,
    );
  }
  if (res.records.length === 0) print("nothing to compare (no replicas or no windows)");
  return res.records.some((r) => r.result === "failed" || r.result === "partial") ? 3 : 0;
}

const CLUSTER_SERVER_DEFAULT = "127.0.0.1:7001";

/**
 * `soltix cluster status | decommission --node ID | remove --node ID | replace --node OLD --with NEW |
 * rebalance`, asked of any node (--server ADDR, default 127.0.0.1:7001, or SOLTIX_SERVER).
 */
export async function runCluster(args: ParsedArgs, platform: Platform): Promise<number> {
  const net = await netOf(args, platform);
  const server = args.flags.get("server") ?? process.env.SOLTIX_SERVER ?? CLUSTER_SERVER_DEFAULT;
  const json = args.flags.has("json");
  const sub = args.positional[0];
  switch (sub) {
    case "status": {
      const res = await clusterStatus(net, server);
      if (json) {
        print(JSON.stringify(clusterStatusJson(res), null, 2));
        return 0;
      }
      printClusterStatus(res);
      return 0;
    }
    case "decommission":
    case "remove":
    case "replace": {
      const node = need(args, "node");
      const change: MembershipOp = sub === "replace" ? { op: "replace", node, with: need(args, "with") } : { op: sub, node };
      const res = await membershipChange(net, server, change);
      print(json ? JSON.stringify(membershipChangeJson(res), null, 2) : `${res.nodeId}: ${res.state} — ${res.message}`);
      return 0;
    }
    case "rebalance": {
      const res = await rebalanceCluster(net, server);
      if (json) {
        print(JSON.stringify(rebalanceJson(res), null, 2));
        return 0;
      }
      const moves = res.plan.filter((c) => c.kind !== "blocked");
      print(`${moves.length} change(s) planned${res.applied ? " and applied (this node plans the cluster)" : `; the planner (${res.planner || "not elected yet"}) applies them on its next round`}`);
      for (const c of res.plan) print(`  group ${String(c.groupId).padEnd(5)} ${c.kind.padEnd(8)} ${c.reason}`);
      return 0;
    }
    default:
      throw invalidArgument("cluster", `${sub === undefined ? "a subcommand is required" : `unknown subcommand ${JSON.stringify(sub)}`}: status | decommission --node ID | remove --node ID | replace --node OLD --with NEW | rebalance`);
  }
}

/** A move that reported no progress for this long is flagged in `cluster status`. */
const MOVE_STALLED_AFTER_S = 60;

function printClusterStatus(res: GetClusterStatusResponse): void {
  print(`cluster: ${res.nodes.length} node(s), ${res.groups} group(s), replication.factor ${res.replicationFactor}; planner ${res.planner || "(none elected)"}; answered by ${res.answeredBy}`);
  print(`${"node".padEnd(14)} ${"state".padEnd(15)} ${"registered".padEnd(10)} ${"groups".padStart(6)} ${"joining".padStart(7)}  address`);
  for (const n of res.nodes) {
    const extra = `${n.placementId !== "" ? ` (placed as ${n.placementId})` : ""}${n.downSince > 0n ? ` down since ${nsToIso(n.downSince)}` : ""}`;
    print(`${n.nodeId.padEnd(14)} ${n.state.padEnd(15)} ${(n.registered ? "yes" : "no").padEnd(10)} ${String(n.groups).padStart(6)} ${String(n.joining).padStart(7)}  ${n.address}${extra}`);
  }
  print(`under-replicated: ${res.underReplicated.length}`);
  for (const u of res.underReplicated) print(`  group ${String(u.groupId).padEnd(5)} ${u.copies} of ${res.replicationFactor} copies on ${u.nodes.join(", ")}: ${u.reason}`);
  print(`moves: ${res.moves.length}`);
  for (const m of res.moves) {
    const rate = m.rateBytesPerSec > 0 ? `${(m.rateBytesPerSec / 1e6).toFixed(1)} MB/s` : "-";
    const eta = m.etaSeconds >= 0 ? `eta ${m.etaSeconds.toFixed(0)}s` : "eta -";
    print(`  group ${String(m.groupId).padEnd(5)} → ${m.join}${m.leave ? ` (replacing ${m.leave})` : ""} ${m.phase.padEnd(8)} windows ${m.windowsDone}/${m.windowsTotal}, ${m.bytes} bytes, ${rate}, ${eta}${m.source ? `, from ${m.source}` : ""}${m.windowsSkipped > 0 ? `, ${m.windowsSkipped} already held` : ""}${m.attempts > 1 ? `, attempt ${m.attempts}` : ""}${m.secondsSinceUpdate >= MOVE_STALLED_AFTER_S && m.phase !== "waiting" ? `  STALLED: no progress for ${m.secondsSinceUpdate.toFixed(0)}s` : ""}${m.error ? `  (last error: ${m.error})` : ""}`);
  }
  const blocked = res.plan.filter((c) => c.kind === "blocked");
  if (blocked.length > 0) print(`waiting: ${blocked.length}`);
  for (const b of blocked) print(`  group ${String(b.groupId).padEnd(5)} ${b.reason}`);
}
