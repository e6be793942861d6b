// SyncService.StreamPoints in the Connect streaming protocol, binary (`application/connect+proto`,
// uncompressed): each batch is written as protobuf bytes transcoded from the canonical encodings
// (rpc/query-fast.ts; StreamPointsResponse has QueryResponse's layout: 1 repeated Point, 2 string) —
// no protobuf-es objects on the way out. The walk is the Connect handler's (streamPointPages); errors
// end the stream with the same Connect error codes. Anything else (JSON, compressed) falls through to
// the Connect router.
//
//   request  := envelope(flags 0, StreamPointsRequest)
//   response := envelope(flags 0, StreamPointsResponse)* envelope(flags 2, {"error"?: {code, message}})

import { fromBinary } from "@bufbuild/protobuf";
import { ByteWriter } from "../base/bytes.ts";
import { SoltixError, errorMessage, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { StreamPointsRequestSchema } from "../gen/soltix/v1/sync_pb.ts";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { NodeContext } from "./context.ts";
import { codeOfKind } from "./errors.ts";
import { appendNextCursor, appendPointFromEncoding } from "./query-fast.ts";
import { streamPointPages } from "./sync-service.ts";

export const STREAM_POINTS_PATH = "/soltix.v1.SyncService/StreamPoints";
const END_STREAM_FLAG = 2;
const ENVELOPE_HEADER_BYTES = 5;

/** Connect server-streaming, binary, uncompressed: what the fast path answers itself. */
export function isBinaryStream(req: Request): boolean {
  return req.method === "POST" && req.headers.get("content-type") === "application/connect+proto" && !req.headers.has("connect-content-encoding");
}

function envelope(flags: number, message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + message.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, ENVELOPE_HEADER_BYTES);
  return out;
}

function endStream(e: unknown, ctx: NodeContext): Uint8Array<ArrayBuffer> {
  let body: unknown = {};
  if (e !== undefined) {
    if (!(e instanceof SoltixError)) ctx.logger.log("error", "rpc: internal error", { procedure: "SyncService.StreamPoints", error: errorMessage(e) });
    body = { error: e instanceof SoltixError ? { code: codeToString(codeOfKind(e.kind)), message: e.message } : { code: "internal", message: `internal error: ${errorMessage(e)}` } };
  }
  return envelope(END_STREAM_FLAG, new TextEncoder().encode(JSON.stringify(body)));
}

function parseRequest(bytes: Uint8Array) {
  if (bytes.length < ENVELOPE_HEADER_BYTES) throw invalidArgument("request", `body is not a valid message: ${bytes.length} bytes is shorter than an envelope`);
  if (bytes[0] !== 0) throw invalidArgument("request", `body is not a valid message: envelope flags ${bytes[0]} (expected 0: one uncompressed message)`);
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  if (len !== bytes.length - ENVELOPE_HEADER_BYTES) throw invalidArgument("request", `body is not a valid message: envelope says ${len} bytes, body holds ${bytes.length - ENVELOPE_HEADER_BYTES}`);
  try {
    return fromBinary(StreamPointsRequestSchema, bytes.subarray(ENVELOPE_HEADER_BYTES));
  } catch (e) {
    throw invalidArgument("request", `body is not a valid message: ${errorMessage(e)}`);
  }
}

export async function fastStreamPoints(req: Request, ctx: NodeContext, requestBytesMax: number): Promise<Response> {
  const headers = { "content-type": "application/connect+proto" };
  let request;
  try {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > requestBytesMax) throw resourceExhausted("request", `body is ${declared} bytes, limit ${requestBytesMax}`);
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (bytes.length > requestBytesMax) throw resourceExhausted("request", `body is ${bytes.length} bytes, limit ${requestBytesMax}`);
    request = parseRequest(bytes);
  } catch (e) {
    return new Response(endStream(e, ctx), { status: 200, headers });
  }
  let cancelled = false;
  const pages = streamPointPages(request, ctx, () => cancelled);
  const out = new ByteWriter(64 * 1024);
  let ended = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (ended) return;
      try {
        const next = await pages.next();
        if (next.done === true) {
          ended = true;
          controller.enqueue(endStream(undefined, ctx));
          controller.close();
          return;
        }
        out.reset();
        for (const enc of next.value.encs) appendPointFromEncoding(out, enc);
        appendNextCursor(out, next.value.cursor);
        controller.enqueue(envelope(0, out.view_()));
      } catch (e) {
        ended = true;
        controller.enqueue(endStream(e, ctx));
        controller.close();
      }
    },
    cancel() {
      cancelled = true;
      void pages.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers });
}
