// The node's ingest fast path on the wire: StorageService.Write in Connect unary binary is decoded by
// write-fast.ts instead of protobuf-es. Every other request shape falls through to the Connect router.

import { ByteWriter } from "../base/bytes.ts";
import type { NodeContext } from "./context.ts";
import { fastUnary, type FastUnaryLimits } from "./fast-unary.ts";
import { countRejected, ingestWriteRequest } from "./deletes.ts";

export const WRITE_PATH = "/soltix.v1.StorageService/Write";

/** WriteResponse { uint32 accepted = 1; uint32 tombstones = 2 }. */
function encodeWriteResponse(accepted: number, tombstones: number): Uint8Array<ArrayBuffer> {
  const w = new ByteWriter(16);
  w.u8(0x08);
  w.uvarint(accepted);
  if (tombstones > 0) {
    w.u8(0x10);
    w.uvarint(tombstones);
  }
  return new Uint8Array(w.toBytes());
}

export function fastWrite(req: Request, ctx: NodeContext, limits: FastUnaryLimits): Promise<Response> {
  return fastUnary(req, "StorageService.Write", limits, ctx.clock, ctx.logger, async (body) => {
    const r = await countRejected(ctx, () => ingestWriteRequest(body, ctx, ctx.stamper.batch()));
    return encodeWriteResponse(r.points.length, r.tombstones);
  });
}
