// Prometheus remote_write 1.0 (DESIGN §12) → core points: the body is a Snappy block of a protobuf
// prometheus.WriteRequest (proto/prometheus/remote.proto), read by remote-write-decode.ts. A series' metric name (`__name__`) is the
// collection (a ':' of a recording rule becomes '.', a collection name has none); its other labels,
// sorted and written `name=value;…`, are the device id — '%', '/', '\', ',', ';', '=' and control
// characters of a value percent-encoded (an id is never a path, and a list of ids in a query string is
// split at commas), and an id past its byte limit
// shortened to a prefix, '~' and 16 hex digits of the SHA-256 of the whole label set; each sample
// is a point with the float field `value` at its millisecond timestamp. Non-finite samples (Prometheus'
// staleness markers among them) are skipped and counted: a float field is finite. A request is all or
// nothing otherwise: the first bad series is named.

import { uncompress } from "snappyjs";
import { SoltixError, errorMessage, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { TIME_MAX_NS } from "../base/time.ts";
import { sha256, toHex } from "../base/sha256.ts";
import type { Point } from "../model/point.ts";
import { validateId, validateName } from "../model/validate.ts";
import { decodeWriteRequest } from "./remote-write-decode.ts";
import type { Hono } from "hono";
import { httpStatusOfKind } from "../rpc/errors.ts";
import type { RouterContext } from "./http.ts";

const METRIC_NAME_LABEL = "__name__";
/** Bytes of an id's readable prefix when the label set is too long for an id. */
const ID_PREFIX_BYTES = 200;
const NS_PER_MS = 1_000_000n;
const TIME_MAX_MS = Number(TIME_MAX_NS / NS_PER_MS);
const utf8 = new TextEncoder();

/** A label value with the characters an id cannot hold, or that would make the set ambiguous, escaped. */
function escapeValue(v: string): string {
  return v.replace(/[%/\\,;=\u0000-\u001f\u007f-\u009f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** The device id of a label set (without `__name__`): sorted, `name=value` joined by ';'; "_" when empty. */
export function deviceIdOfLabels(labels: ReadonlyArray<{ name: string; value: string }>): string {
  const parts = labels
    .filter((l) => l.name !== METRIC_NAME_LABEL)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((l) => `${l.name}=${escapeValue(l.value)}`);
  const id = parts.length === 0 ? "_" : parts.join(";");
  if (id.length * 3 <= LIMITS.idBytesMax) return id; // a UTF-16 unit is at most 3 UTF-8 bytes: fits without encoding
  const bytes = utf8.encode(id);
  if (bytes.length <= LIMITS.idBytesMax) return id;
  let prefix = id.slice(0, ID_PREFIX_BYTES);
  while (utf8.encode(prefix).length > ID_PREFIX_BYTES) prefix = prefix.slice(0, -1);
  return `${prefix}~${toHex(sha256(bytes)).slice(0, 16)}`;
}

/** The collection of a metric name (a recording rule's ':' → '.'). */
export function collectionOfMetric(name: string): string {
  return name.replace(/:/g, ".");
}

export interface RemoteWriteResult {
  points: Point[];
  /** Samples left out: not finite (staleness markers, NaN, ±Inf). */
  skipped: number;
}

export function pointsFromRemoteWrite(body: Uint8Array, database: string, stamp: () => bigint): RemoteWriteResult {
  validateName("db", database);
  let raw: Uint8Array;
  try {
    raw = uncompress(body, LIMITS.requestBytesMax);
  } catch (e) {
    throw invalidArgument("body", `not a Snappy block of at most ${LIMITS.requestBytesMax} bytes (remote_write sends Content-Encoding: snappy): ${errorMessage(e)}`);
  }
  let series;
  try {
    series = decodeWriteRequest(raw);
  } catch (e) {
    throw invalidArgument("body", `not a prometheus.WriteRequest: ${errorMessage(e)}`);
  }
  const points: Point[] = [];
  let skipped = 0;
  for (let i = 0; i < series.length; i++) {
    const ts = series[i]!;
    const at = `timeseries[${i}]`;
    const name = ts.labels.find((l) => l.name === METRIC_NAME_LABEL)?.value;
    if (name === undefined || name === "") throw invalidArgument(`${at}.labels`, "has no __name__ (the metric name)");
    const collection = collectionOfMetric(name);
    validateName(`${at}.__name__`, collection);
    const id = deviceIdOfLabels(ts.labels);
    validateId(`${at}.labels`, id);
    const { values, timestampsMs } = ts;
    for (let j = 0; j < values.length; j++) {
      const value = values[j]!;
      if (!Number.isFinite(value)) {
        skipped++;
        continue;
      }
      const ms = timestampsMs[j]!;
      if (!(ms >= 0 && ms < TIME_MAX_MS)) throw invalidArgument(`${at}.samples[${j}].timestamp`, `${ms} ms is outside [0, ${TIME_MAX_MS}) ms`);
      points.push({ database, collection, id, timeNs: BigInt(ms) * NS_PER_MS, insertedAtNs: stamp(), fields: [["value", { kind: "number", value }]] });
    }
  }
  return { points, skipped };
}

/**
 * `POST /api/v1/write?db=DB` (db defaults to "prometheus"): a remote_write request through the same
 * write path as the JSON API; 204 when stored. A refusal is a 4xx Prometheus does not retry; a 503 it
 * retries.
 */
export function mountRemoteWrite(app: Hono, ctx: RouterContext): void {
  app.post("/api/v1/write", async (c) => {
    try {
      const encoding = (c.req.header("content-encoding") ?? "snappy").toLowerCase();
      if (encoding !== "snappy") throw invalidArgument("Content-Encoding", `${JSON.stringify(encoding)}: remote_write bodies are snappy`);
      const declared = Number(c.req.header("content-length") ?? "0");
      if (declared > LIMITS.requestBytesMax) throw resourceExhausted("body", `${declared} bytes, limit ${LIMITS.requestBytesMax}`);
      const body = new Uint8Array(await c.req.arrayBuffer());
      if (body.length > LIMITS.requestBytesMax) throw resourceExhausted("body", `${body.length} bytes, limit ${LIMITS.requestBytesMax}`);
      const r = pointsFromRemoteWrite(body, c.req.query("db") ?? "prometheus", ctx.stamps());
      for (let i = 0; i < r.points.length; i += LIMITS.writeBatchPointsMax) await ctx.writer.write(r.points.slice(i, i + LIMITS.writeBatchPointsMax));
      ctx.writer.stats.samplesSkipped += r.skipped;
      return c.body(null, 204);
    } catch (e) {
      const kind = e instanceof SoltixError ? e.kind : "internal";
      if (!(e instanceof SoltixError)) ctx.logger.log("error", "router: remote_write failed", { error: errorMessage(e) });
      return c.json({ code: kind, message: e instanceof SoltixError ? e.message : `internal error: ${errorMessage(e)}` }, httpStatusOfKind(kind));
    }
  });
}
