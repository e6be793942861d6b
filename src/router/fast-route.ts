// The router's ingest fast path: RouterService.Write in Connect unary binary (`application/proto`,
// uncompressed). RouterWriteRequest has WriteRequest's wire layout, so the node's decoder validates
// and stamps it; each point's original bytes are forwarded with the stamped inserted_at appended
// (proto3: the last value of a field wins), so nothing is decoded into objects or re-encoded.

import { ByteWriter } from "../base/bytes.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock } from "../ports/clock.ts";
import { fastUnary, type FastUnaryLimits } from "../rpc/fast-unary.ts";
import { scanWriteRequestForRouting } from "../rpc/write-fast.ts";
import type { RoutedPoint, WriteRouter } from "./write-router.ts";
import type { BatchFieldTypes } from "../cluster/field-types.ts";

export const ROUTER_WRITE_PATH = "/soltix.v1.RouterService/Write";
const INSERTED_AT_TAG = 0x30; // field 6, varint

export function routedFromBinary(body: Uint8Array, stamp: () => bigint, totalGroups: number): RoutedPoint[] & { databases?: Set<string>; fieldTypes?: BatchFieldTypes } {
  const scan = scanWriteRequestForRouting(body, stamp, totalGroups);
  // Every entry is written into one buffer (tag, length, the original bytes, inserted_at as a
  // varint) and handed out as a view: one allocation per batch, not per point.
  const w = new ByteWriter(body.length + scan.count * 16);
  const bounds = new Uint32Array(scan.count + 1);
  for (let i = 0; i < scan.count; i++) {
    const start = scan.spans[2 * i]!;
    const end = scan.spans[2 * i + 1]!;
    let hi = scan.insertedAtHi[i]!;
    let lo = scan.insertedAtLo[i]!;
    let tail = 2; // tag + the last varint byte
    for (let h = hi, l = lo; h !== 0 || l >= 0x80; tail++) {
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
    }
    w.u8(0x0a);
    w.uvarint(end - start + tail);
    w.copyFrom(body, start, end);
    w.u8(INSERTED_AT_TAG);
    while (hi !== 0 || lo >= 0x80) {
      w.u8((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    w.u8(lo);
    bounds[i + 1] = w.length;
  }
  const all = w.view_();
  const out = new Array<RoutedPoint>(scan.count);
  for (let i = 0; i < scan.count; i++) out[i] = { group: scan.groups[i]!, entry: all.subarray(bounds[i]!, bounds[i + 1]!) };
  return Object.assign(out, { databases: scan.databases, fieldTypes: scan.fieldTypes });
}

function encodeResponse(accepted: number, groups: number, minAcks: number): Uint8Array<ArrayBuffer> {
  const w = new ByteWriter(16);
  w.u8(0x08);
  w.uvarint(accepted);
  w.u8(0x10);
  w.uvarint(groups);
  w.u8(0x18);
  w.uvarint(minAcks);
  return new Uint8Array(w.toBytes());
}

export function fastRouterWrite(req: Request, writer: WriteRouter, stamps: () => () => bigint, totalGroups: number, clock: Clock, logger: Logger, limits: FastUnaryLimits): Promise<Response> {
  return fastUnary(req, "RouterService.Write", limits, clock, logger, async (body) => {
    const routed = routedFromBinary(body, stamps(), totalGroups);
    const r = await writer.writeRouted(routed, routed.databases, routed.fieldTypes);
    return encodeResponse(r.accepted, r.groups, r.minAcks);
  });
}
