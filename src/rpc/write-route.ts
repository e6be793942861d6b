// The ingest fast path on the wire: POST /soltix.v1.StorageService/Write with Connect unary binary
// (`application/proto`, no compression) is decoded by write-fast.ts instead of protobuf-es. Every
// other request shape (JSON, compressed, streaming protocols) falls through to the Connect router.
// Same limits, same deadline, same error codes and messages.

import { SoltixError, resourceExhausted } from "../base/errors.ts";
import type { NodeContext } from "./context.ts";
import { connectErrorResponse } from "./errors.ts";
import { storedFromWriteRequestBinary } from "./write-fast.ts";

export const WRITE_PATH = "/soltix.v1.StorageService/Write";

export function isFastWrite(req: Request): boolean {
  if (req.method !== "POST") return false;
  const ct = req.headers.get("content-type");
  const enc = req.headers.get("content-encoding");
  return ct === "application/proto" && (enc === null || enc === "identity");
}

function encodeWriteResponse(accepted: number): Uint8Array<ArrayBuffer> {
  // WriteResponse { uint32 accepted = 1 }: tag 0x08 then a varint.
  const out = [0x08];
  let v = accepted;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return new Uint8Array(out);
}

export async function fastWrite(req: Request, ctx: NodeContext, requestBytesMax: number, deadlineMs: number): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > requestBytesMax) throw resourceExhausted("request", `body is ${declared} bytes, limit ${requestBytesMax}`);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SoltixError("deadline_exceeded", `Write did not finish within ${deadlineMs} ms (server deadline)`)), deadlineMs);
    });
    const work = (async () => {
      const body = new Uint8Array(await req.arrayBuffer());
      if (body.length > requestBytesMax) throw resourceExhausted("request", `body is ${body.length} bytes, limit ${requestBytesMax}`);
      const stored = storedFromWriteRequestBinary(body, () => ctx.stamper.next(), ctx.totalGroups);
      await ctx.engine.write(stored);
      return stored.length;
    })();
    const accepted = await Promise.race([work, deadline]);
    return new Response(encodeWriteResponse(accepted), { status: 200, headers: { "content-type": "application/proto" } });
  } catch (e) {
    return connectErrorResponse(e, ctx.logger, "Write");
  } finally {
    clearTimeout(timer);
  }
}
