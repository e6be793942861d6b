// The router's InfluxDB-compatible endpoints (DESIGN §12): `POST /write?db=DB[&precision=]` (v1, as the
// `influx` CLI and Telegraf send it), `POST /api/v2/write?bucket=DB[&precision=]` (v2), and `/ping`.
// Bodies are line protocol (router/line-protocol.ts), gzip allowed (`Content-Encoding: gzip`, inflated
// under the request size limit). The points go through the same write path as the JSON API; an
// accepted request answers 204 like InfluxDB. Errors carry InfluxDB's shape (v1 `{"error": …}`, v2
// `{"code": …, "message": …}`) beside ours, with the line named.

import type { Context, Hono } from "hono";
import { SoltixError, errorMessage, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { validateName } from "../model/validate.ts";
import { httpStatusOfKind } from "../rpc/errors.ts";
import { PRECISION_NS, parseLineProtocol } from "./line-protocol.ts";
import type { RouterContext } from "./http.ts";

/** Version reported by /ping (the influx CLI prints it). */
export const INFLUX_COMPAT_VERSION = "1.8.10-soltix";

const V2_CODES: Record<string, string> = { invalid_argument: "invalid", not_found: "not found", resource_exhausted: "request too large", unavailable: "unavailable", unauthenticated: "unauthorized" };

/** The body as text: gzip inflated (a bomb stops at the size limit), UTF-8 checked. */
async function bodyText(c: Context): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > LIMITS.requestBytesMax) throw resourceExhausted("body", `${declared} bytes, limit ${LIMITS.requestBytesMax}`);
  const encoding = (c.req.header("content-encoding") ?? "identity").toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip") throw invalidArgument("Content-Encoding", `${JSON.stringify(encoding)} is not supported (gzip or none)`);
  const raw = c.req.raw.body;
  if (raw === null) return "";
  const stream = encoding === "gzip" ? raw.pipeThrough(new DecompressionStream("gzip")) : raw;
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > LIMITS.requestBytesMax) throw resourceExhausted("body", `more than ${LIMITS.requestBytesMax} bytes${encoding === "gzip" ? " once inflated" : ""}`);
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof SoltixError) throw e;
    throw invalidArgument("body", `${encoding === "gzip" ? "not valid gzip" : "unreadable"}: ${errorMessage(e)}`);
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(n);
  let at = 0;
  for (const ch of chunks) {
    bytes.set(ch, at);
    at += ch.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalidArgument("body", "is not valid UTF-8");
  }
}

function precisionOf(text: string | undefined, allowed: readonly string[]): bigint {
  const p = text ?? "ns";
  if (!allowed.includes(p)) throw invalidArgument("precision", `${JSON.stringify(p)} must be one of ${allowed.join(", ")}`);
  return PRECISION_NS[p]!;
}

export function mountInfluxRoutes(app: Hono, ctx: RouterContext): void {
  const write = async (c: Context, v2: boolean) => {
    try {
      const db = v2 ? c.req.query("bucket") : c.req.query("db");
      const dbField = v2 ? "bucket" : "db";
      if (db === undefined || db === "") throw invalidArgument(dbField, "is required: the database to write to");
      validateName(dbField, db);
      const precisionNs = precisionOf(c.req.query("precision"), v2 ? ["ns", "us", "ms", "s"] : ["ns", "n", "u", "ms", "s", "m", "h"]);
      const text = await bodyText(c);
      const points = parseLineProtocol(text, { database: db, precisionNs, idTag: ctx.influxIdTag, nowNs: ctx.nowNs(), stamp: ctx.stamps() });
      for (let i = 0; i < points.length; i += LIMITS.writeBatchPointsMax) await ctx.writer.write(points.slice(i, i + LIMITS.writeBatchPointsMax));
      return c.body(null, 204);
    } catch (e) {
      const kind = e instanceof SoltixError ? e.kind : "internal";
      const message = e instanceof SoltixError ? e.message : `internal error: ${errorMessage(e)}`;
      if (!(e instanceof SoltixError)) ctx.logger.log("error", "router: influx write failed", { error: errorMessage(e) });
      const status = httpStatusOfKind(kind);
      return c.json(v2 ? { code: V2_CODES[kind] ?? "internal error", message } : { error: message, code: kind, message }, status);
    }
  };
  app.post("/write", (c) => write(c, false));
  app.post("/api/v2/write", (c) => write(c, true));
  const ping = (c: Context) => c.body(null, 204, { "X-Influxdb-Version": INFLUX_COMPAT_VERSION, "X-Influxdb-Build": "OSS" });
  app.get("/ping", ping);
  app.on("HEAD", "/ping", ping);
}
