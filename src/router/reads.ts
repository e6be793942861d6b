// The router's read path: a query over some devices of a collection, answered group by group from
// the replicas that serve reads (never one catching up or joining), paged with a cursor.
// `read.consistency`: one = the first readable replica (primary first, then the next on failure);
// quorum = a majority of the group's replicas, all = every replica — their answers are merged by
// last-write-wins, and a replica that answered an older version (or none) gets the winner written
// back before the answer returns (read repair), so a later read from any replica is no older.

import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Buffer } from "node:buffer";
import { SoltixError, errorMessage, invalidArgument } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { TIME_MAX_NS, windowStartNs } from "../base/time.ts";
import { toHex } from "../base/sha256.ts";
import { CompiledTombstone, decodeTombstone, type Tombstone } from "../model/tombstone.ts";
import { groupOf } from "../model/group.ts";
import { pointKey } from "../model/point.ts";
import { compareVersions } from "../model/lww.ts";
import { encodePoint } from "../model/encoding.ts";
import { StorageService } from "../gen/soltix/v1/storage_pb.ts";
import type { Point as PbPoint } from "../gen/soltix/v1/point_pb.ts";
import { pointFromProto } from "../rpc/convert.ts";
import { decodeCursor, encodeCursor } from "../rpc/cursor.ts";
import { readableNodes, groupNodes } from "../cluster/records.ts";
import type { ClusterView } from "../cluster/view.ts";
import { withDeadline, type Clock } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";
import type { PeerNet } from "../ports/peer-net.ts";

export type ReadConsistency = "one" | "quorum" | "all";
export const READ_CONSISTENCIES: readonly ReadConsistency[] = ["one", "quorum", "all"];

/** Per-replica call deadline of a read (and of a read repair write). */
export const READ_CALL_TIMEOUT_MS = 10_000;

export interface ReadQuery {
  database: string;
  collection: string;
  ids: string[];
  startTime: bigint;
  /** 0 = no upper bound. */
  endTime: bigint;
  limit: number;
  cursor: string;
  consistency: ReadConsistency;
}

export interface ReadResult {
  points: PbPoint[];
  /** Device id → the replica(s) that answered for its group. */
  servedBy: Record<string, string>;
  nextCursor: string;
  /** Points written back to replicas that answered older (quorum/all). */
  readRepaired: number;
}

export interface ReadDeps {
  view: ClusterView;
  net: PeerNet;
  clock: Clock;
  logger: Logger;
  totalGroups: number;
}

interface RouterCursor {
  /** Group being read. */
  g: number;
  /** The node cursor within it (positional, so any replica can resume it). */
  n: string;
}

const CURSOR_VERSION = 1;

function encodeRouterCursor(c: RouterCursor): string {
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, g: c.g, n: c.n }), "utf8").toString("base64url");
}

function decodeRouterCursor(text: string): RouterCursor | undefined {
  if (text === "") return undefined;
  if (text.length > LIMITS.cursorBytesMax) throw invalidArgument("cursor", `${text.length} bytes, limit ${LIMITS.cursorBytesMax}`);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw invalidArgument("cursor", "not a cursor returned by this router");
  let o: { v?: unknown; g?: unknown; n?: unknown };
  try {
    o = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as typeof o;
  } catch {
    throw invalidArgument("cursor", "not a cursor returned by this router");
  }
  if (typeof o !== "object" || o === null || o.v !== CURSOR_VERSION || typeof o.g !== "number" || !Number.isInteger(o.g) || o.g < 0 || typeof o.n !== "string") {
    throw invalidArgument("cursor", "not a cursor returned by this router");
  }
  if (o.n !== "") decodeCursor("cursor", o.n);
  return { g: o.g, n: o.n };
}

/** Replicas whose answers a read of a group of `nodes` replicas needs. */
export function replicasNeeded(consistency: ReadConsistency, nodes: number): number {
  if (consistency === "one") return 1;
  if (consistency === "quorum") return Math.floor(nodes / 2) + 1;
  return nodes;
}

interface Answer {
  node: string;
  points: PbPoint[];
  nextCursor: string;
  /** The replica's tombstones touching the query (TombstoneV1 encodings). */
  tombstones: Uint8Array[];
}

export class Reader {
  private readonly clients = new Map<string, Client<typeof StorageService>>();

  constructor(private readonly deps: ReadDeps) {}

  private client(address: string): Client<typeof StorageService> {
    let c = this.clients.get(address);
    if (c === undefined) {
      c = createClient(StorageService, createConnectTransport({ baseUrl: this.deps.net.url(address), useBinaryFormat: true, fetch: this.deps.net.fetch }));
      this.clients.set(address, c);
    }
    return c;
  }

  async read(q: ReadQuery): Promise<ReadResult> {
    const { view, totalGroups } = this.deps;
    const byGroup = new Map<number, string[]>();
    for (const id of [...new Set(q.ids)].sort()) {
      const g = groupOf(q.database, q.collection, id, totalGroups);
      const list = byGroup.get(g) ?? [];
      list.push(id);
      byGroup.set(g, list);
    }
    const cursor = decodeRouterCursor(q.cursor);
    const out: ReadResult = { points: [], servedBy: {}, nextCursor: "", readRepaired: 0 };
    for (const g of [...byGroup.keys()].sort((a, b) => a - b)) {
      if (cursor !== undefined && g < cursor.g) continue;
      const record = view.cachedGroup(g);
      if (record === undefined) continue; // never written
      const ids = byGroup.get(g)!;
      const nodeCursor = cursor !== undefined && g === cursor.g ? cursor.n : "";
      const limit = q.limit - out.points.length;
      const page = await this.readGroup(g, readableNodes(record), groupNodes(record).length, q, ids, nodeCursor, limit);
      out.points.push(...page.points);
      out.readRepaired += page.repaired;
      for (const id of ids) out.servedBy[id] = page.servedBy;
      if (page.nextCursor !== "") {
        out.nextCursor = encodeRouterCursor({ g, n: page.nextCursor });
        return out;
      }
      if (out.points.length >= q.limit) {
        // The page is full exactly at a group's end: resume at the next group.
        const next = [...byGroup.keys()].sort((a, b) => a - b).find((x) => x > g);
        if (next !== undefined) out.nextCursor = encodeRouterCursor({ g: next, n: "" });
        return out;
      }
    }
    return out;
  }

  private async queryNode(id: string, q: ReadQuery, ids: string[], cursor: string, limit: number): Promise<Answer> {
    const node = this.deps.view.node(id);
    if (node === undefined) throw new SoltixError("unavailable", `${id}: not registered`);
    const res = await withDeadline(this.deps.clock, READ_CALL_TIMEOUT_MS, (signal) =>
      this.client(node.address).query({ database: q.database, collection: q.collection, ids, startTime: q.startTime, endTime: q.endTime, limit, cursor }, { signal }),
    );
    return { node: id, points: res.points, nextCursor: res.nextCursor, tombstones: res.tombstones };
  }

  private async readGroup(
    g: number, readable: string[], replicas: number, q: ReadQuery, ids: string[], cursor: string, limit: number,
  ): Promise<{ points: PbPoint[]; nextCursor: string; servedBy: string; repaired: number }> {
    const need = replicasNeeded(q.consistency, replicas);
    const answers: Answer[] = [];
    const errors: string[] = [];
    // Primary first; on failure the next readable replica. quorum/all ask `need` at once.
    let next = 0;
    while (answers.length < need && next < readable.length) {
      const batch = readable.slice(next, next + (need - answers.length));
      next += batch.length;
      const settled = await Promise.allSettled(batch.map((id) => this.queryNode(id, q, ids, cursor, limit)));
      settled.forEach((s, i) => {
        if (s.status === "fulfilled") answers.push(s.value);
        else {
          const e = s.reason;
          if (e instanceof SoltixError && e.kind === "invalid_argument") throw e;
          if (isInvalidArgument(e)) throw new SoltixError("invalid_argument", errorMessage(e));
          errors.push(`${batch[i]}: ${errorMessage(e)}`);
        }
      });
    }
    if (answers.length < need) {
      const notReadable = replicas - readable.length;
      throw new SoltixError(
        "unavailable",
        `group ${g}: read.consistency ${q.consistency} needs ${need} of ${replicas} replicas, ${answers.length} answered` +
          `${notReadable > 0 ? ` (${notReadable} catching up, not readable)` : ""}${errors.length > 0 ? `: ${errors.join("; ")}` : ""}`,
      );
    }
    if (answers.length === 1) {
      const a = answers[0]!;
      return { points: a.points, nextCursor: a.nextCursor, servedBy: a.node, repaired: 0 };
    }
    return this.merge(g, q, answers);
  }

  /** Read repair of deletes: a replica that answered without some tombstone gets it (as a Write's deletes). */
  private async repairDeletes(g: number, nodeId: string, lacking: readonly Tombstone[]): Promise<void> {
    const node = this.deps.view.node(nodeId);
    if (node === undefined) return;
    try {
      for (let i = 0; i < lacking.length; i += LIMITS.deletesPerWriteMax) {
        const deletes = lacking.slice(i, i + LIMITS.deletesPerWriteMax).map(deleteRequestOf);
        await withDeadline(this.deps.clock, READ_CALL_TIMEOUT_MS, (signal) => this.client(node.address).write({ points: [], deletes }, { signal }));
      }
    } catch (e) {
      this.deps.logger.log("warn", "router: read repair of deletes failed (anti-entropy will repair)", { group: g, node: nodeId, tombstones: lacking.length, error: errorMessage(e) });
    }
  }

  /**
   * LWW merge of several replicas' pages. A replica that stopped at a cursor may hold keys past its
   * last one that another returned, so the merged page ends at the smallest last key among the
   * truncated answers; within that bound every answer is complete, and a replica that lacks a winner
   * or holds an older version of it gets the winner written back.
   */
  private async merge(g: number, q: ReadQuery, answers: Answer[]): Promise<{ points: PbPoint[]; nextCursor: string; servedBy: string; repaired: number }> {
    type V = { point: PbPoint; enc: Uint8Array };
    // A node pages in scan order — window, then key — so the merge orders (and bounds) the same way.
    const keyOf = (p: PbPoint) => `${windowStartNs(p.time).toString(16).padStart(16, "0")}|${pointKey(p.database, p.collection, p.id, p.time)}`;
    const versions = answers.map((a) => {
      const m = new Map<string, V>();
      for (const p of a.points) m.set(keyOf(p), { point: p, enc: encodePoint(pointFromProto("replica point", p, () => p.insertedAt)) });
      return m;
    });
    let bound: string | undefined;
    answers.forEach((a) => {
      if (a.nextCursor === "" || a.points.length === 0) return;
      const last = keyOf(a.points[a.points.length - 1]!);
      if (bound === undefined || last < bound) bound = last;
    });
    // Deletes any replica knows of win as they do on a replica: a version one of them covers is not
    // returned, not written back, and the tombstone goes to each replica that lacks it.
    const tombstones = new Map<string, CompiledTombstone>();
    for (const a of answers) {
      for (const enc of a.tombstones) {
        try {
          tombstones.set(toHex(enc), new CompiledTombstone(decodeTombstone(enc), enc));
        } catch (e) {
          this.deps.logger.log("warn", "router: a replica answered an invalid tombstone (ignored)", { group: g, node: a.node, error: errorMessage(e) });
        }
      }
    }
    const deleted = (v: V) => {
      if (tombstones.size === 0) return false;
      const key = pointKey(v.point.database, v.point.collection, v.point.id, v.point.time);
      for (const c of tombstones.values()) if (c.covers(key, v.point.time, v.enc)) return true;
      return false;
    };
    const winners = new Map<string, V>();
    const gone = new Set<string>();
    for (const m of versions) {
      for (const [k, v] of m) {
        if (bound !== undefined && k > bound) continue;
        const cur = winners.get(k);
        if (cur === undefined || compareVersions(v.enc, cur.enc) > 0) winners.set(k, v);
      }
    }
    for (const [k, v] of winners) if (deleted(v)) gone.add(k);
    for (const k of gone) winners.delete(k);
    const keys = [...winners.keys()].sort();
    let repaired = 0;
    await Promise.all(
      answers.map(async (a, i) => {
        const held = new Set(a.tombstones.map(toHex));
        const lacking = [...tombstones].filter(([hex]) => !held.has(hex)).map(([, c]) => c.t);
        if (lacking.length > 0) await this.repairDeletes(g, a.node, lacking);
        const stale = keys.filter((k) => {
          const mine = versions[i]!.get(k);
          return mine === undefined || compareVersions(mine.enc, winners.get(k)!.enc) < 0;
        });
        if (stale.length === 0) return;
        const node = this.deps.view.node(a.node);
        if (node === undefined) return;
        for (let s = 0; s < stale.length; s += LIMITS.writeBatchPointsMax) {
          const points = stale.slice(s, s + LIMITS.writeBatchPointsMax).map((k) => winners.get(k)!.point);
          try {
            await withDeadline(this.deps.clock, READ_CALL_TIMEOUT_MS, (signal) => this.client(node.address).write({ points }, { signal }));
            repaired += points.length;
          } catch (e) {
            this.deps.logger.log("warn", "router: read repair write failed (anti-entropy will repair)", { group: g, node: a.node, points: points.length, error: errorMessage(e) });
          }
        }
      }),
    );
    if (repaired > 0) this.deps.logger.log("info", "router: read repair", { group: g, points: repaired, consistency: q.consistency });
    if (gone.size > 0) this.deps.logger.log("info", "router: read left out versions a replica's tombstone deletes", { group: g, points: gone.size });
    const points = keys.map((k) => winners.get(k)!.point);
    let nextCursor = "";
    if (bound !== undefined) {
      const last = points[points.length - 1]!;
      nextCursor = encodeCursor({ g, w: windowStartNs(last.time), k: pointKey(last.database, last.collection, last.id, last.time) });
    }
    return { points, nextCursor, servedBy: answers.map((a) => a.node).join(","), repaired };
  }
}

/** A tombstone as the DeleteRequest that carries it (end_time 0 = no bound). */
function deleteRequestOf(t: Tombstone) {
  return { database: t.database, collection: t.collection, ids: [...t.ids], startTime: t.startNs, endTime: t.endNs === TIME_MAX_NS ? 0n : t.endNs, insertedAt: t.insertedAtNs };
}

function isInvalidArgument(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === 3; // Connect Code.InvalidArgument
}
