// A Connect server-streaming call in the binary protocol (`application/connect+proto`, uncompressed),
// answered directly: the request envelope parsed with the method's schema, each response message's
// bytes enveloped as the handler produces them (pulled: back-pressure reaches the handler), and the
// end-of-stream envelope carrying the Connect error when one occurred. No protobuf-es stream machinery
// per message. Anything else (JSON, compressed) falls through to the Connect router.
//
//   request  := envelope(flags 0, Request)
//   response := envelope(flags 0, Response)* envelope(flags 2, {"error"?: {code, message}})

import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { SoltixError, errorMessage, invalidArgument, resourceExhausted } from "../base/errors.ts";
import type { NodeContext } from "./context.ts";
import { codeOfKind } from "./errors.ts";

const END_STREAM_FLAG = 2;
const ENVELOPE_HEADER_BYTES = 5;

/** Connect server-streaming, binary, uncompressed: what the fast paths answer themselves. */
export function isBinaryStream(req: Request): boolean {
  return req.method === "POST" && req.headers.get("content-type") === "application/connect+proto" && !req.headers.has("connect-content-encoding");
}

export function envelope(flags: number, message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + message.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, ENVELOPE_HEADER_BYTES);
  return out;
}

function endStream(e: unknown, ctx: NodeContext, procedure: string): Uint8Array<ArrayBuffer> {
  let body: unknown = {};
  if (e !== undefined) {
    if (!(e instanceof SoltixError)) ctx.logger.log("error", "rpc: internal error", { procedure, error: errorMessage(e) });
    body = { error: e instanceof SoltixError ? { code: codeToString(codeOfKind(e.kind)), message: e.message } : { code: "internal", message: `internal error: ${errorMessage(e)}` } };
  }
  return envelope(END_STREAM_FLAG, new TextEncoder().encode(JSON.stringify(body)));
}

function parseRequest<S extends DescMessage>(schema: S, bytes: Uint8Array): MessageShape<S> {
  if (bytes.length < ENVELOPE_HEADER_BYTES) throw invalidArgument("request", `body is not a valid message: ${bytes.length} bytes is shorter than an envelope`);
  if (bytes[0] !== 0) throw invalidArgument("request", `body is not a valid message: envelope flags ${bytes[0]} (expected 0: one uncompressed message)`);
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  if (len !== bytes.length - ENVELOPE_HEADER_BYTES) throw invalidArgument("request", `body is not a valid message: envelope says ${len} bytes, body holds ${bytes.length - ENVELOPE_HEADER_BYTES}`);
  try {
    return fromBinary(schema, bytes.subarray(ENVELOPE_HEADER_BYTES));
  } catch (e) {
    throw invalidArgument("request", `body is not a valid message: ${errorMessage(e)}`);
  }
}

export interface FastStreamMethod<S extends DescMessage> {
  /** "Service.Method", for the log. */
  procedure: string;
  request: S;
  /** The response messages' bytes; `cancelled` turns true when the caller went away. */
  messages: (request: MessageShape<S>, cancelled: () => boolean) => AsyncGenerator<Uint8Array>;
}

export async function fastServerStream<S extends DescMessage>(req: Request, ctx: NodeContext, requestBytesMax: number, method: FastStreamMethod<S>): Promise<Response> {
  const headers = { "content-type": "application/connect+proto" };
  let request: MessageShape<S>;
  try {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > requestBytesMax) throw resourceExhausted("request", `body is ${declared} bytes, limit ${requestBytesMax}`);
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (bytes.length > requestBytesMax) throw resourceExhausted("request", `body is ${bytes.length} bytes, limit ${requestBytesMax}`);
    request = parseRequest(method.request, bytes);
  } catch (e) {
    return new Response(endStream(e, ctx, method.procedure), { status: 200, headers });
  }
  let cancelled = false;
  const messages = method.messages(request, () => cancelled);
  let ended = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (ended) return;
      try {
        const next = await messages.next();
        if (next.done === true) {
          ended = true;
          controller.enqueue(endStream(undefined, ctx, method.procedure));
          controller.close();
          return;
        }
        controller.enqueue(envelope(0, next.value));
      } catch (e) {
        ended = true;
        controller.enqueue(endStream(e, ctx, method.procedure));
        controller.close();
      }
    },
    cancel() {
      cancelled = true;
      void messages.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers });
}
