// The node's read fast path on the wire: StorageService.Query in Connect unary binary answers with
// protobuf bytes transcoded from the canonical encodings (rpc/query-fast.ts) — the request is small
// and decoded by protobuf-es; the page is never materialised as protobuf-es objects. JSON and every
// other shape fall through to the Connect router (the same queryPage behind both).

import { fromBinary } from "@bufbuild/protobuf";
import { ByteWriter } from "../base/bytes.ts";
import { invalidArgument } from "../base/errors.ts";
import { QueryRequestSchema } from "../gen/soltix/v1/storage_pb.ts";
import type { NodeContext } from "./context.ts";
import { fastUnary, type FastUnaryLimits } from "./fast-unary.ts";
import { appendNextCursor, appendPointFromEncoding, appendTombstones } from "./query-fast.ts";
import { queryPage, queryTombstones } from "./storage-service.ts";

export const QUERY_PATH = "/soltix.v1.StorageService/Query";

export function fastQuery(req: Request, ctx: NodeContext, limits: FastUnaryLimits): Promise<Response> {
  return fastUnary(req, "StorageService.Query", limits, ctx.clock, ctx.logger, async (body) => {
    let request;
    try {
      request = fromBinary(QueryRequestSchema, body);
    } catch (e) {
      throw invalidArgument("request", `not a QueryRequest: ${e instanceof Error ? e.message : String(e)}`);
    }
    const out = new ByteWriter(64 * 1024);
    const next = await queryPage(request, ctx, (enc) => appendPointFromEncoding(out, enc));
    appendNextCursor(out, next);
    appendTombstones(out, queryTombstones(request, ctx));
    return new Uint8Array(out.toBytes());
  });
}
