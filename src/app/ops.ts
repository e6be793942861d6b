// What the operator commands do against nodes — status, window checksums side by side, the narrowed
// Merkle difference of two replicas, an anti-entropy run now — as data; cli/ prints it. Every call
// goes through one PeerNet carrying the operator's token and trust.

import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import {
  AdminService,
  GetClusterStatusResponseSchema,
  GetStatusResponseSchema,
  MembershipChangeResponseSchema,
  RebalanceResponseSchema,
  TriggerAntiEntropyResponseSchema,
  type GetClusterStatusResponse,
  type GetStatusResponse,
  type MembershipChangeResponse,
  type RebalanceResponse,
  type TriggerAntiEntropyResponse,
} from "../gen/soltix/v1/admin_pb.ts";
import { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import { diffTrees, type ExpandRequest, type TreeSource } from "../merkle/diff.ts";
import { DEFAULT_SHAPE, depthOfId, indexOfId, timeRangeOfNode } from "../merkle/shape.ts";
import { rpcTreeSource } from "../sync/rpc-tree-source.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { SoltixError, errorMessage } from "../base/errors.ts";
import type { Platform } from "../ports/platform.ts";
import { readPeerCredentials } from "./security.ts";
import { toHex } from "../base/sha256.ts";

export type { GetClusterStatusResponse, GetStatusResponse, MembershipChangeResponse, RebalanceResponse, TriggerAntiEntropyResponse };

/** --json prints every field, zeros too (group 0's id, a count of 0). */
const JSON_OPTIONS = { alwaysEmitImplicit: true } as const;

/** Calls may run long (a repair waits for the whole run). */
const OPS_CALL_TIMEOUT_MS = 10 * 60_000;

/** The operator's PeerNet: --token-file adds the bearer token; --ca-file trusts a private CA and dials https. */
export async function opsNet(platform: Platform, files: { tokenFile: string; caFile: string }): Promise<PeerNet> {
  const { token, caPem } = await readPeerCredentials(platform.fs, files, { token: "--token-file", ca: "--ca-file" });
  return platform.peerNet({ token, https: files.caFile !== "", caPem });
}

function transport(net: PeerNet, addr: string) {
  const base = net.url(addr);
  // A node that cannot be reached: one line naming it and the cause (connect-es would say "[unknown] …").
  const f = async (input: RequestInfo | URL, init?: RequestInit) => {
    try {
      return await net.fetch(input, init);
    } catch (e) {
      if (init?.signal?.aborted === true) throw e;
      throw new SoltixError("unavailable", `cannot reach ${addr} (${base}): ${networkCause(e)}`);
    }
  };
  return createConnectTransport({ baseUrl: base, useBinaryFormat: true, defaultTimeoutMs: OPS_CALL_TIMEOUT_MS, fetch: f as typeof fetch });
}

/** What a failed connection means, in words (runtimes word and code these differently). */
export function networkCause(e: unknown): string {
  const code = String((e as { code?: unknown } | undefined)?.code ?? "");
  const text = errorMessage(e);
  if (/ECONNREFUSED|ConnectionRefused/i.test(code + text)) return "connection refused (nothing listens there: is the node running, and is this its server.port?)";
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|DNS/i.test(code + text)) return "host name not found";
  if (/ETIMEDOUT|timed? ?out/i.test(code + text)) return "no answer (timed out)";
  if (/ECONNRESET|socket hang up|closed/i.test(code + text)) return `the connection was closed (${text}); is it https (--ca-file) or http?`;
  if (/certificate|CERT|SSL|TLS/i.test(code + text)) return `TLS: ${text}`;
  return text;
}

export function nodeStatus(net: PeerNet, addr: string): Promise<GetStatusResponse> {
  return createClient(AdminService, transport(net, addr)).getStatus({});
}

export function statusJson(res: GetStatusResponse): JsonValue {
  return toJson(GetStatusResponseSchema, res, JSON_OPTIONS);
}

export function repairJson(res: TriggerAntiEntropyResponse): JsonValue {
  return toJson(TriggerAntiEntropyResponseSchema, res, JSON_OPTIONS);
}

export function triggerRepair(net: PeerNet, addr: string, group: number): Promise<TriggerAntiEntropyResponse> {
  return createClient(AdminService, transport(net, addr)).triggerAntiEntropy({ groupId: group, wait: true });
}

/** Membership (DESIGN §10), asked of any node: `soltix cluster status | decommission | remove | replace | rebalance`. */
export function clusterStatus(net: PeerNet, addr: string): Promise<GetClusterStatusResponse> {
  return createClient(AdminService, transport(net, addr)).getClusterStatus({});
}

export type MembershipOp = { op: "decommission"; node: string } | { op: "remove"; node: string } | { op: "replace"; node: string; with: string };

export function membershipChange(net: PeerNet, addr: string, change: MembershipOp): Promise<MembershipChangeResponse> {
  const c = createClient(AdminService, transport(net, addr));
  if (change.op === "decommission") return c.decommissionNode({ nodeId: change.node });
  if (change.op === "remove") return c.removeNode({ nodeId: change.node });
  return c.replaceNode({ nodeId: change.node, withNodeId: change.with });
}

export function rebalanceCluster(net: PeerNet, addr: string): Promise<RebalanceResponse> {
  return createClient(AdminService, transport(net, addr)).rebalance({});
}

export function clusterStatusJson(res: GetClusterStatusResponse): JsonValue {
  return toJson(GetClusterStatusResponseSchema, res, JSON_OPTIONS);
}

export function membershipChangeJson(res: MembershipChangeResponse): JsonValue {
  return toJson(MembershipChangeResponseSchema, res, JSON_OPTIONS);
}

export function rebalanceJson(res: RebalanceResponse): JsonValue {
  return toJson(RebalanceResponseSchema, res, JSON_OPTIONS);
}

export interface WindowSums {
  windowStart: bigint;
  sums: Array<{ sha256: string; pointCount: bigint }>;
  agree: boolean;
}

/** Flat checksums of one window (or every window any of the nodes holds) on each node. */
export async function windowChecksums(net: PeerNet, nodes: readonly string[], group: number, window: bigint | undefined): Promise<WindowSums[]> {
  const clients = nodes.map((n) => createClient(SyncService, transport(net, n)));
  let windows: bigint[];
  if (window !== undefined) windows = [window];
  else {
    const all = new Set<bigint>();
    for (const c of clients) for (const r of (await c.getMerkleRoots({ groupId: group, windows: [] })).roots) all.add(r.windowStart);
    windows = [...all].sort((a, b) => (a < b ? -1 : 1));
  }
  const out: WindowSums[] = [];
  for (const ws of windows) {
    const sums = await Promise.all(clients.map((c) => c.getChecksum({ groupId: group, windowStart: ws })));
    out.push({ windowStart: ws, sums: sums.map((s) => ({ sha256: s.sha256, pointCount: s.pointCount })), agree: sums.every((s) => s.sha256 === sums[0]!.sha256) });
  }
  return out;
}

export interface TreeWindowDiff {
  windowStart: bigint;
  roots: Array<{ digestHex: string | undefined; count: bigint }>;
  equal: boolean;
  /** Ranges compared point by point: window-relative ns [from, to), device buckets [b0, b1], node depth and index. */
  ranges: Array<{ fromNs: bigint; toNs: bigint; bucketFirst: number; bucketLast: number; depth: number; index: number }>;
  onlyA: number;
  onlyB: number;
  differ: number;
  roundTrips: number;
  leafRanges: number;
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

/** The Merkle roots of two nodes per window and, where they differ, the narrowed ranges. */
export async function treeDiff(net: PeerNet, nodeA: string, nodeB: string, group: number, window: bigint | undefined): Promise<TreeWindowDiff[]> {
  const shape = DEFAULT_SHAPE;
  const a: Client<typeof SyncService> = createClient(SyncService, transport(net, nodeA));
  const b: Client<typeof SyncService> = createClient(SyncService, transport(net, nodeB));
  const [ra, rb] = await Promise.all([a.getMerkleRoots({ groupId: group, windows: [] }), b.getMerkleRoots({ groupId: group, windows: [] })]);
  const windows = [...new Set([...ra.roots, ...rb.roots].map((r) => r.windowStart))].filter((x) => window === undefined || x === window).sort((x, y) => (x < y ? -1 : 1));
  const out: TreeWindowDiff[] = [];
  const hex = (d?: Uint8Array) => (d === undefined ? undefined : toHex(d));
  for (const ws of windows) {
    const na = ra.roots.find((r) => r.windowStart === ws)?.root;
    const nb = rb.roots.find((r) => r.windowStart === ws)?.root;
    const equal = na !== undefined && nb !== undefined && hex(na.digest) === hex(nb.digest) && na.count === nb.count;
    const d: TreeWindowDiff = {
      windowStart: ws, roots: [{ digestHex: hex(na?.digest), count: na?.count ?? 0n }, { digestHex: hex(nb?.digest), count: nb?.count ?? 0n }], equal,
      ranges: [], onlyA: 0, onlyB: 0, differ: 0, roundTrips: 0, leafRanges: 0,
    };
    if (!equal) {
      const leaves: number[] = [];
      const found = await diffTrees(shape, recordingLeaves(rpcTreeSource(a, group, ws, shape, false), leaves), rpcTreeSource(b, group, ws, shape, false));
      for (const id of leaves) {
        const depth = depthOfId(id);
        const [from, to, b0, b1] = timeRangeOfNode(shape, depth, indexOfId(id));
        d.ranges.push({ fromNs: from, toNs: to, bucketFirst: b0, bucketLast: b1, depth, index: indexOfId(id) });
      }
      d.onlyA = found.onlyLocal.length;
      d.onlyB = found.onlyRemote.length;
      d.differ = found.differ.length;
      d.roundTrips = found.roundTrips;
      d.leafRanges = found.leafRanges;
    }
    out.push(d);
  }
  return out;
}
