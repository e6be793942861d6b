// The shell of a hand-decoded Connect unary binary call (the ingest fast paths of node and router):
// eligibility, body limit, server deadline, and errors as Connect error responses — the same limits
// and codes the Connect router applies to every other call.

import { SoltixError, resourceExhausted } from "../base/errors.ts";
import type { Logger } from "../ports/logger.ts";
import { raceDeadline, type Clock } from "../ports/clock.ts";
import { connectErrorResponse } from "./errors.ts";

/** Connect unary binary, uncompressed: what the fast paths decode themselves. */
export function isFastUnary(req: Request): boolean {
  if (req.method !== "POST") return false;
  const enc = req.headers.get("content-encoding");
  return req.headers.get("content-type") === "application/proto" && (enc === null || enc === "identity");
}

export interface FastUnaryLimits {
  requestBytesMax: number;
  deadlineMs: number;
}

/** Runs `handle` on the request body; its result is the binary response message. */
export async function fastUnary(
  req: Request,
  procedure: string,
  limits: FastUnaryLimits,
  clock: Clock,
  logger: Logger,
  handle: (body: Uint8Array) => Promise<Uint8Array<ArrayBuffer>>,
): Promise<Response> {
  try {
    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > limits.requestBytesMax) throw resourceExhausted("request", `body is ${declared} bytes, limit ${limits.requestBytesMax}`);
    const work = (async () => {
      const body = new Uint8Array(await req.arrayBuffer());
      if (body.length > limits.requestBytesMax) throw resourceExhausted("request", `body is ${body.length} bytes, limit ${limits.requestBytesMax}`);
      return handle(body);
    })();
    const out = await raceDeadline(clock, limits.deadlineMs, work, () => new SoltixError("deadline_exceeded", `${procedure} did not finish within ${limits.deadlineMs} ms (server deadline)`));
    return new Response(out, { status: 200, headers: { "content-type": "application/proto" } });
  } catch (e) {
    return connectErrorResponse(e, logger, procedure);
  }
}
