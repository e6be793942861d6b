// The router's ingest fast path: RouterService.Write in Connect unary binary (`application/proto`,
// uncompressed). RouterWriteRequest has WriteRequest's wire layout, so the node's decoder validates
// and stamps it; each point's original bytes are forwarded with the stamped inserted_at appended
// (proto3: the last value of a field wins), so nothing is decoded into objects or re-encoded.

import { ByteWriter } from "../base/bytes.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock } from "../ports/clock.ts";
import { fastUnary, type FastUnaryLimits } from "../rpc/fast-unary.ts";
import { storedFromWriteRequestBinary } from "../rpc/write-fast.ts";
import type { RoutedPoint, WriteRouter } from "./write-router.ts";

export const ROUTER_WRITE_PATH = "/soltix.v1.RouterService/Write";
const INSERTED_AT_TAG = 0x30; // field 6, varint

export function routedFromBinary(body: Uint8Array, stamp: () => bigint, totalGroups: number): RoutedPoint[] {
  const spans: number[] = [];
  const stored = storedFromWriteRequestBinary(body, stamp, totalGroups, spans);
  const w = new ByteWriter(256);
  return stored.map((p, i) => {
    const start = spans[2 * i]!;
    const end = spans[2 * i + 1]!;
    // inserted_at is bytes 1..9 (big-endian) of the canonical encoding; append it as a varint.
    w.reset();
    let hi = ((p.enc[1]! << 24) | (p.enc[2]! << 16) | (p.enc[3]! << 8) | p.enc[4]!) >>> 0;
    let lo = ((p.enc[5]! << 24) | (p.enc[6]! << 16) | (p.enc[7]! << 8) | p.enc[8]!) >>> 0;
    w.u8(INSERTED_AT_TAG);
    while (hi !== 0 || lo >= 0x80) {
      w.u8((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    w.u8(lo);
    const tail = w.toBytes();
    const len = end - start + tail.length;
    const entry = new ByteWriter(len + 6);
    entry.u8(0x0a);
    entry.uvarint(len);
    entry.copyFrom(body, start, end);
    entry.bytes(tail);
    return { group: p.group, entry: entry.toBytes() };
  });
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

export function fastRouterWrite(req: Request, writer: WriteRouter, stamp: () => bigint, totalGroups: number, clock: Clock, logger: Logger, limits: FastUnaryLimits): Promise<Response> {
  return fastUnary(req, "RouterService.Write", limits, clock, logger, async (body) => {
    const r = await writer.writeRouted(routedFromBinary(body, stamp, totalGroups));
    return encodeResponse(r.accepted, r.groups, r.minAcks);
  });
}
