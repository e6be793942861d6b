// SyncService: what replicas ask of each other. GetLastTimestamp answers from the index;
// StreamPoints walks (window, key) order in bounded batches and can resume from any batch's cursor;
// GetChecksum is the flat SHA-256 of one 24 h window, the same function on both sides.

import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { SoltixError, invalidArgument } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { NS_PER_DAY, TIME_MAX_NS, isWindowStart, windowStartNs } from "../base/time.ts";
import { pointKey } from "../model/point.ts";
import { validateId, validateName, validateTimeNs } from "../model/validate.ts";
import { SyncService, StreamPointsResponseSchema } from "../gen/soltix/v1/sync_pb.ts";
import type { Point as PbPoint, PointKey } from "../gen/soltix/v1/point_pb.ts";
import { pointToProtoFromEncoding } from "./convert.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { pageSize, timeRange } from "./storage-service.ts";
import type { NodeContext } from "./context.ts";

export function validateGroup(field: string, group: number, totalGroups: number): void {
  if (group >= totalGroups) throw invalidArgument(field, `${group} is not a group (coordinator.total_groups is ${totalGroups})`);
}

function keyFromProto(field: string, k: PointKey): string {
  validateName(`${field}.database`, k.database);
  validateName(`${field}.collection`, k.collection);
  validateId(`${field}.id`, k.id);
  validateTimeNs(`${field}.time`, k.time);
  return pointKey(k.database, k.collection, k.id, k.time);
}

const TIME_SUFFIX_LEN = 16;

export function syncService(ctx: NodeContext): ServiceImpl<typeof SyncService> {
  return {
    getLastTimestamp(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      return { timestamp: ctx.engine.lastTimestamp(req.groupId) };
    },

    async *streamPoints(req, call) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      const [start, end] = timeRange("start_time", req.startTime, "end_time", req.endTime);
      const batch = pageSize("batch_size", req.batchSize);
      const keyLo = req.keyStart === undefined ? "" : keyFromProto("key_start", req.keyStart);
      const keyHi = req.keyEnd === undefined ? undefined : keyFromProto("key_end", req.keyEnd);
      if (keyHi !== undefined && keyHi <= keyLo) throw invalidArgument("key_end", "must be after key_start");
      const cursor = req.cursor === "" ? undefined : decodeCursor("cursor", req.cursor);
      if (cursor !== undefined && cursor.g !== req.groupId) throw invalidArgument("cursor", `belongs to group ${cursor.g}, not ${req.groupId}`);
      const startedMs = ctx.clock.monotonicMs();
      const firstWindow = windowStartNs(start);
      let points: PbPoint[] = [];
      for (const ws of ctx.engine.windowsOf(req.groupId)) {
        if (ws < firstWindow || ws >= end) continue;
        if (cursor !== undefined && ws < cursor.w) continue;
        const resumeAfter = cursor !== undefined && ws === cursor.w ? cursor.k : undefined;
        const from = resumeAfter !== undefined && resumeAfter >= keyLo ? `${resumeAfter}\u0000` : keyLo;
        for await (const r of ctx.engine.scanWindow(req.groupId, ws, from, keyHi)) {
          const t = BigInt(`0x${r.key.slice(r.key.length - TIME_SUFFIX_LEN)}`);
          if (t < start || t >= end) continue;
          points.push(pointToProtoFromEncoding(r.enc));
          if (points.length === batch) {
            yield create(StreamPointsResponseSchema, { points, cursor: encodeCursor({ g: req.groupId, w: ws, k: r.key }) });
            points = [];
            if (call.signal.aborted) return;
            if (ctx.clock.monotonicMs() - startedMs > LIMITS.streamDeadlineMs) {
              throw new SoltixError("deadline_exceeded", `StreamPoints ran over ${LIMITS.streamDeadlineMs} ms; resume from the last cursor`);
            }
          }
        }
        if (points.length > 0) {
          yield create(StreamPointsResponseSchema, {
            points,
            cursor: encodeCursor({ g: req.groupId, w: ws, k: "\uffff" }),
          });
          points = [];
        }
      }
    },

    async getChecksum(req) {
      validateGroup("group_id", req.groupId, ctx.totalGroups);
      if (!isWindowStart(req.windowStart) || req.windowStart < 0n || req.windowStart >= TIME_MAX_NS) {
        throw invalidArgument("window_start", `${req.windowStart} is not a UTC midnight in ns (a multiple of ${NS_PER_DAY})`);
      }
      const c = await ctx.engine.windowChecksum(req.groupId, req.windowStart);
      return { sha256: c.sha256Hex, pointCount: BigInt(c.pointCount) };
    },
  };
}
