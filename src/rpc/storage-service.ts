// StorageService: Write (validate → stamp → encode → WAL fsync → memory) and Query (paged reads
// that merge memory and segments). Limits are checked before any work is done.

import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { SoltixError, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { NS_PER_DAY, TIME_MAX_NS, windowStartNs } from "../base/time.ts";
import { groupOf } from "../model/group.ts";
import { seriesPrefix } from "../model/point.ts";
import { timeOfEncoding } from "../model/encoding.ts";
import { validateId, validateName, validateTimeNs } from "../model/validate.ts";
import type { StoredPoint } from "../engine/engine.ts";
import { StorageService, QueryResponseSchema, type QueryRequest } from "../gen/soltix/v1/storage_pb.ts";
import type { Point as PbPoint } from "../gen/soltix/v1/point_pb.ts";
import { pointFromProto, pointToProtoFromEncoding, storedFromPoint } from "./convert.ts";
import { decodeCursor, encodeCursor, type ScanCursor } from "./cursor.ts";
import { countRejected, refuseBelowPurgeFloor, storeDeletes } from "./deletes.ts";
import { tombstoneOfDeleteRequest } from "./write-fast.ts";
import type { NodeContext } from "./context.ts";

/** Validates and converts a Write batch (shared by the RPC and, later, the queue consumer). */
export function storedFromWireBatch(points: readonly PbPoint[], ctx: NodeContext): StoredPoint[] {
  if (points.length === 0) throw invalidArgument("points", "must hold at least one point");
  if (points.length > LIMITS.writeBatchPointsMax) {
    throw resourceExhausted("points", `${points.length} points in one batch, limit ${LIMITS.writeBatchPointsMax}`);
  }
  const stamp = ctx.stamper.batch();
  const out = new Array<StoredPoint>(points.length);
  for (let i = 0; i < points.length; i++) {
    out[i] = storedFromPoint(pointFromProto(`points[${i}]`, points[i]!, stamp), ctx.totalGroups);
  }
  return out;
}

/** Time range [start, end) of a request; end 0 means no upper bound. */
export function timeRange(startField: string, start: bigint, endField: string, end: bigint): [bigint, bigint] {
  if (start !== 0n) validateTimeNs(startField, start);
  const e = end === 0n ? TIME_MAX_NS : end;
  if (end !== 0n) validateTimeNs(endField, end);
  if (e <= start) throw invalidArgument(endField, `${end} must be greater than ${startField} ${start}`);
  return [start, e];
}

export function pageSize(field: string, n: number): number {
  if (n === 0) return LIMITS.pageSizeDefault;
  if (n > LIMITS.pageSizeMax) throw resourceExhausted(field, `${n}, limit ${LIMITS.pageSizeMax}`);
  return n;
}

const TIME_SUFFIX_LEN = 16;


/** The fields of a QueryRequest a page needs. */
export type QueryRequestFields = Pick<QueryRequest, "database" | "collection" | "ids" | "startTime" | "endTime" | "limit" | "cursor">;

export function storageService(ctx: NodeContext): ServiceImpl<typeof StorageService> {
  return {
    write: (req) => countRejected(ctx, async () => {
      if (req.deletes.length > LIMITS.deletesPerWriteMax) throw resourceExhausted("deletes", `${req.deletes.length} deletes in one request, limit ${LIMITS.deletesPerWriteMax}`);
      const stamp = ctx.stamper.batch();
      const deletes = req.deletes.map((d, i) => tombstoneOfDeleteRequest(`deletes[${i}]`, d, stamp));
      const stored = req.deletes.length > 0 && req.points.length === 0 ? [] : storedFromWireBatch(req.points, ctx);
      refuseBelowPurgeFloor(stored, ctx.engine);
      if (stored.length > 0) await ctx.engine.write(stored);
      const tombstones = deletes.length === 0 ? 0 : await storeDeletes(ctx, deletes);
      return { accepted: stored.length, tombstones };
    }),

    delete: (req) => countRejected(ctx, async () => {
      const t = tombstoneOfDeleteRequest("delete", req, ctx.stamper.batch());
      const tombstones = await storeDeletes(ctx, [t]);
      return { tombstones, insertedAt: t.insertedAtNs };
    }),

    async query(req) {
      const points: PbPoint[] = [];
      const nextCursor = await queryPage(req, ctx, (enc) => points.push(pointToProtoFromEncoding(enc)));
      return create(QueryResponseSchema, { points, nextCursor, tombstones: queryTombstones(req, ctx) });
    },
  };
}

/**
 * The live tombstones touching a query (validated by queryPage first): of the groups of its devices
 * (or every group holding tombstones), those of its database and collection (or every collection)
 * naming one of its devices (or every device) whose range meets the query's.
 */
export function queryTombstones(req: QueryRequestFields, ctx: NodeContext): Uint8Array[] {
  const groups = req.ids.length === 0 ? ctx.engine.tombstoneGroups() : [...new Set(req.ids.map((id) => groupOf(req.database, req.collection, id, ctx.totalGroups)))];
  const end = req.endTime === 0n ? TIME_MAX_NS : req.endTime;
  const ids = new Set(req.ids);
  const out = new Map<string, Uint8Array>();
  for (const g of groups) {
    for (const { id, tombstone: t, encoding } of ctx.engine.liveTombstones(g)) {
      if (t.database !== req.database || (t.collection !== "" && t.collection !== req.collection)) continue;
      if (t.endNs <= req.startTime || end <= t.startNs) continue;
      if (ids.size > 0 && t.ids.length > 0 && !t.ids.some((x) => ids.has(x))) continue;
      out.set(id, encoding);
    }
  }
  return [...out.values()];
}

/**
 * One Query page: validates the request, merges memory and segments in scan order and hands each
 * point's canonical encoding to `emit`; returns the next page's cursor ("" at the end). Shared by the
 * Connect handler and the binary fast path (rpc/query-route.ts).
 */
export async function queryPage(req: QueryRequestFields, ctx: NodeContext, emit: (enc: Uint8Array) => void): Promise<string> {
  validateName("database", req.database);
  validateName("collection", req.collection);
  if (req.ids.length > LIMITS.queryIdsMax) throw resourceExhausted("ids", `${req.ids.length} ids, limit ${LIMITS.queryIdsMax}`);
  req.ids.forEach((id, i) => validateId(`ids[${i}]`, id));
  const [start, end] = timeRange("start_time", req.startTime, "end_time", req.endTime);
  const limit = pageSize("limit", req.limit);
  const cursor = req.cursor === "" ? undefined : decodeCursor("cursor", req.cursor);

  // Prefixes to scan per group: the requested series, or the whole collection.
  const prefixesByGroup = new Map<number, string[]>();
  if (req.ids.length === 0) {
    for (const g of ctx.engine.groups()) prefixesByGroup.set(g, [`${req.database}\u0000${req.collection}\u0000`]);
  } else {
    for (const id of new Set(req.ids)) {
      const g = groupOf(req.database, req.collection, id, ctx.totalGroups);
      const list = prefixesByGroup.get(g) ?? [];
      list.push(seriesPrefix(req.database, req.collection, id));
      prefixesByGroup.set(g, list);
    }
  }
  // Every device: any group may hold some (one catching up may hold none locally yet).
  const touched = req.ids.length === 0 ? Array.from({ length: ctx.totalGroups }, (_, g) => g) : [...prefixesByGroup.keys()];
  const refused = touched.map((g) => ctx.readRefusal(g)).filter((r) => r !== undefined);
  if (refused.length > 0) throw new SoltixError("unavailable", `${refused[0]}${refused.length > 1 ? ` (and ${refused.length - 1} more groups)` : ""}; read from another replica`);
  let emitted = 0;
  // The position of the last point returned: a page ends there and the next resumes after it
  // (group, then window, then key — the scan order), whatever group or window comes next.
  let last: ScanCursor | undefined;
  const groups = [...prefixesByGroup.keys()].sort((a, b) => a - b);
  for (const g of groups) {
    if (cursor !== undefined && g < cursor.g) continue;
    const prefixes = prefixesByGroup.get(g)!.sort();
    const firstWindow = windowStartNs(start);
    for (const ws of ctx.engine.windowsOf(g)) {
      if (ws < firstWindow || ws >= end) continue;
      if (cursor !== undefined && g === cursor.g && ws < cursor.w) continue;
      const resumeAfter = cursor !== undefined && g === cursor.g && ws === cursor.w ? cursor.k : undefined;
      for (const prefix of prefixes) {
        // A series prefix can start at the first wanted time; a collection prefix (every device)
        // must start at the prefix itself, or devices whose ids sort below the time digits are skipped.
        let lo = req.ids.length === 0 ? prefix : `${prefix}${(start > ws ? start : ws).toString(16).padStart(TIME_SUFFIX_LEN, "0")}`;
        // Resume by seeking past the cursor's key (the smallest key above it), not by skipping.
        if (resumeAfter !== undefined && resumeAfter >= lo) lo = `${resumeAfter}\u0000`;
        const windowEnd = ws + NS_PER_DAY;
        for await (const r of ctx.engine.scanWindow(g, ws, lo, `${prefix}\uffff`)) {
          if (resumeAfter !== undefined && r.key <= resumeAfter) continue;
          const t = timeOfEncoding(r.enc);
          if (t >= end || t >= windowEnd) continue;
          if (t < start) continue;
          if (emitted === limit) return encodeCursor(last!);
          emit(r.enc);
          emitted++;
          last = { g, w: ws, k: r.key };
        }
      }
    }
  }
  return "";
}
