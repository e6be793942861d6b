// The router's HTTP surface: the Soltix-compatible write API (Hono), RouterService over Connect, and
// the query endpoint (router/reads.ts: readable replicas only, read.consistency, paged by cursor).

import type { Hono, Context } from "hono";
import type { ServiceImpl } from "@connectrpc/connect";
import { create, toJson } from "@bufbuild/protobuf";
import { SoltixError, errorMessage, invalidArgument, resourceExhausted, type ErrorKind } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { validateId, validateName, validateTimeNs } from "../model/validate.ts";
import type { Point } from "../model/point.ts";
import { TIME_MAX_NS, parseRfc3339Ns } from "../base/time.ts";
import { pointFromProto } from "../rpc/convert.ts";
import { httpStatusOfKind } from "../rpc/errors.ts";
import { RouterDeleteResponseSchema, RouterService, RouterWriteResponseSchema } from "../gen/soltix/v1/router_pb.ts";
import { PointSchema } from "../gen/soltix/v1/point_pb.ts";
import type { ClusterView } from "../cluster/view.ts";
import { getDatabase, parseRetentionMs, putDatabase, removeDatabase, type DatabaseRecord } from "../cluster/databases.ts";
import { tombstoneOfDelete, type Tombstone } from "../model/tombstone.ts";
import { tombstoneOfDeleteRequest } from "../rpc/write-fast.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import { READ_CONSISTENCIES, type ReadConsistency, type Reader } from "./reads.ts";
import { parseJsonExact, pointFromSoltixJson, pointsFromBatchJson } from "./points.ts";
import type { WriteResult, WriteRouter } from "./write-router.ts";
import { mountInfluxRoutes } from "./influx-http.ts";
import { PRECISION_NS } from "./line-protocol.ts";

/** Units of integer times the JSON write API takes (?precision=). */
const JSON_PRECISIONS = ["ns", "us", "ms", "s"] as const;
import { mountRemoteWrite } from "./remote-write.ts";
import type { FieldTypes } from "../cluster/field-types.ts";


export interface RouterContext {
  view: ClusterView;
  writer: WriteRouter;
  /** A stamp function for one request (inserted_at of points sent without one): VersionStamper.batch. */
  stamps: () => () => bigint;
  policy: { factor: number; totalGroups: number };
  logger: Logger;
  reader: Reader;
  /** read.consistency: the default of a query without ?consistency=. */
  readConsistency: ReadConsistency;
  /** Where database records live, and the wall time (ISO) they are stamped with. */
  metadata: MetadataStore;
  nowIso: () => string;
  /** The wall clock (ns): the time of a line-protocol point sent without one. */
  nowNs: () => bigint;
  /** ingest.influx.id_tag: the line-protocol tag naming the device. */
  influxIdTag: string;
  /** Each collection's field types (forgotten by a drop); none in tests without metadata. */
  fieldTypes?: FieldTypes;
}

/** A database record as the API shows it ("" retention = the nodes' storage.retention). */
function databaseJson(d: DatabaseRecord, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: d.name, retention: d.retention === "" ? "default" : d.retention, created_at: d.created_at, updated_at: d.updated_at, ...extra };
}

/** The `retention` of a create or update body: undefined when absent, else checked (normalised "0" = forever). */
function retentionOfBody(body: unknown): string | undefined {
  const raw = (body as { retention?: unknown } | null)?.retention;
  if (raw === undefined || raw === null) return undefined;
  if (raw === "default") return "";
  parseRetentionMs("retention", raw);
  return (raw as string).trim();
}

function errorJson(c: Context, e: unknown, logger: Logger): Response {
  const kind: ErrorKind = e instanceof SoltixError ? e.kind : "internal";
  if (!(e instanceof SoltixError)) logger.log("error", "router: internal error", { error: errorMessage(e) });
  return c.json({ code: kind, message: e instanceof SoltixError ? e.message : `internal error: ${errorMessage(e)}` }, httpStatusOfKind(kind));
}

async function bodyJson(c: Context): Promise<unknown> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > LIMITS.requestBytesMax) throw resourceExhausted("body", `${declared} bytes, limit ${LIMITS.requestBytesMax}`);
  const text = await c.req.text();
  if (text.length > LIMITS.requestBytesMax) throw resourceExhausted("body", `${text.length} bytes, limit ${LIMITS.requestBytesMax}`);
  return parseJsonExact(text);
}

export function routerService(ctx: RouterContext): ServiceImpl<typeof RouterService> {
  return {
    async write(req) {
      if (req.points.length === 0) throw invalidArgument("points", "must hold at least one point");
      if (req.points.length > LIMITS.writeBatchPointsMax) throw resourceExhausted("points", `${req.points.length} points in one batch, limit ${LIMITS.writeBatchPointsMax}`);
      const stamp = ctx.stamps();
      const points = req.points.map((p, i) => pointFromProto(`points[${i}]`, p, stamp));
      const r = await ctx.writer.write(points);
      return create(RouterWriteResponseSchema, { accepted: r.accepted, groups: r.groups, minAcks: r.minAcks });
    },

    async delete(req) {
      const t = tombstoneOfDeleteRequest("delete", req, ctx.stamps());
      const r = await routeDelete(ctx, t);
      return create(RouterDeleteResponseSchema, { groups: r.groups, minAcks: r.minAcks, insertedAt: t.insertedAtNs });
    },
  };
}

/** A checked, stamped delete of a known database, routed to every node of the groups it touches. */
async function routeDelete(ctx: RouterContext, t: Tombstone): Promise<WriteResult> {
  // The watch may not show a database its first write created a moment ago: ask the store then.
  if (!ctx.view.hasDatabase(t.database) && (await getDatabase(ctx.metadata, t.database)) === undefined) {
    throw new SoltixError("not_found", `database ${JSON.stringify(t.database)} does not exist (never created nor written to); nothing deleted`);
  }
  return ctx.writer.delete(t);
}

/** The JSON answer of a delete. */
function deleteJson(t: Tombstone, r: WriteResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deleted: true,
    database: t.database,
    ...(t.collection === "" ? {} : { collection: t.collection }),
    ...(t.ids.length === 0 ? {} : { ids: t.ids }),
    start_time: t.startNs.toString(),
    end_time: t.endNs === TIME_MAX_NS ? "0" : t.endNs.toString(),
    inserted_at: t.insertedAtNs.toString(),
    groups: r.groups,
    min_acks: r.minAcks,
    ...extra,
  };
}

export function mountRouterRoutes(app: Hono, ctx: RouterContext): void {
  mountInfluxRoutes(app, ctx);
  mountRemoteWrite(app, ctx);
  const write = async (c: Context, batch: boolean) => {
    try {
      const db = c.req.param("db")!;
      const coll = c.req.param("coll")!;
      validateName("database", db);
      validateName("collection", coll);
      const precision = c.req.query("precision") ?? "ns";
      if (!(JSON_PRECISIONS as readonly string[]).includes(precision)) throw invalidArgument("precision", `${JSON.stringify(precision)} must be one of ${JSON_PRECISIONS.join(", ")} (the unit of integer times; RFC 3339 times carry their own)`);
      const precisionNs = PRECISION_NS[precision]!;
      const body = await bodyJson(c);
      const stamp = ctx.stamps();
      const points: Point[] = batch ? pointsFromBatchJson(body, db, coll, stamp, precisionNs) : [pointFromSoltixJson("point", body, db, coll, stamp, precisionNs)];
      const r = await ctx.writer.write(points);
      return c.json({ accepted: r.accepted, groups: r.groups, min_acks: r.minAcks });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  };
  app.post("/v1/databases/:db/collections/:coll/write", (c) => write(c, false));
  app.post("/v1/databases/:db/collections/:coll/write/batch", (c) => write(c, true));

  // Soltix makes clients create databases and collections first; we accept the calls, not require them.
  // A database's record holds its retention (DESIGN §11): honoured by create, shown by GET, changed by PATCH.
  app.post("/v1/databases", async (c) => {
    try {
      const body = (await bodyJson(c)) as { name?: unknown };
      if (typeof body?.name !== "string") throw invalidArgument("name", "is required");
      validateName("name", body.name);
      const r = await putDatabase(ctx.metadata, body.name, retentionOfBody(body), ctx.nowIso());
      return c.json(databaseJson(r.record, { created: r.created }));
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
  app.get("/v1/databases", (c) => c.json({ databases: ctx.view.allDatabases().map((d) => databaseJson(d)) }));
  app.get("/v1/databases/:db", async (c) => {
    try {
      const db = c.req.param("db")!;
      validateName("database", db);
      const d = await getDatabase(ctx.metadata, db);
      if (d === undefined) throw new SoltixError("not_found", `database ${JSON.stringify(db)} does not exist (never created nor written to)`);
      return c.json(databaseJson(d));
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
  app.patch("/v1/databases/:db", async (c) => {
    try {
      const db = c.req.param("db")!;
      validateName("database", db);
      const retention = retentionOfBody(await bodyJson(c));
      if (retention === undefined) throw invalidArgument("retention", "is required: a duration like \"30d\", \"0\" (forever) or \"default\" (the nodes' storage.retention)");
      const r = await putDatabase(ctx.metadata, db, retention, ctx.nowIso());
      return c.json(databaseJson(r.record, { created: r.created }));
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
  // Deletes (DESIGN §11): range tombstones, replicated like writes; a drop is a tombstone over everything.
  const del = async (c: Context, what: { database: string; collection: string; ids: string[]; start: bigint; end: bigint }, extra?: () => Promise<Record<string, unknown>>) => {
    const t = tombstoneOfDelete("delete", { database: what.database, collection: what.collection, ids: what.ids, startNs: what.start, endNs: what.end, insertedAtNs: 0n }, ctx.stamps());
    const r = await routeDelete(ctx, t);
    return c.json(deleteJson(t, r, extra === undefined ? {} : await extra()));
  };
  app.delete("/v1/databases/:db/collections/:coll/points", async (c) => {
    try {
      const ids = (c.req.query("ids") ?? "").split(",").filter((s) => s !== "");
      const start = queryTime(c.req.query("start_time"), "start_time");
      const end = queryTime(c.req.query("end_time"), "end_time");
      if (end !== 0n && end <= start) throw invalidArgument("end_time", `the range is empty or inverted: start_time ${c.req.query("start_time") ?? "0"} ≥ end_time ${c.req.query("end_time")} (end is exclusive); nothing deleted`);
      return await del(c, { database: c.req.param("db")!, collection: c.req.param("coll")!, ids, start, end });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
  app.delete("/v1/databases/:db/collections/:coll", async (c) => {
    try {
      const db = c.req.param("db")!;
      const coll = c.req.param("coll")!;
      // Every point of the collection, then its field types (a later write starts them anew).
      return await del(c, { database: db, collection: coll, ids: [], start: 0n, end: 0n }, async () => {
        await ctx.fieldTypes?.forget(db, coll);
        return {};
      });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
  app.delete("/v1/databases/:db", async (c) => {
    try {
      const db = c.req.param("db")!;
      // Every point of every collection, then the record (its retention) — a later write creates it anew.
      return await del(c, { database: db, collection: "", ids: [], start: 0n, end: 0n }, async () => {
        await ctx.fieldTypes?.forget(db);
        return { record_removed: await removeDatabase(ctx.metadata, db) };
      });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });

  app.post("/v1/databases/:db/collections", async (c) => {
    try {
      validateName("database", c.req.param("db")!);
      const body = (await bodyJson(c)) as { name?: unknown };
      if (typeof body?.name !== "string") throw invalidArgument("name", "is required");
      validateName("name", body.name);
      return c.json({ database: c.req.param("db"), name: body.name, created: true });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });

  app.get("/v1/databases/:db/collections/:coll/query", async (c) => {
    try {
      const db = c.req.param("db")!;
      const coll = c.req.param("coll")!;
      validateName("database", db);
      validateName("collection", coll);
      const ids = (c.req.query("ids") ?? "").split(",").filter((s) => s !== "");
      if (ids.length === 0) throw invalidArgument("ids", "give one or more device ids, comma-separated");
      if (ids.length > LIMITS.routerQueryIdsMax) throw resourceExhausted("ids", `${ids.length} ids, limit ${LIMITS.routerQueryIdsMax}`);
      ids.forEach((id, i) => validateId(`ids[${i}]`, id));
      const startTime = queryTime(c.req.query("start_time"), "start_time");
      const endTime = queryTime(c.req.query("end_time"), "end_time");
      if (endTime !== 0n && endTime <= startTime) throw invalidArgument("end_time", `${c.req.query("end_time")} must be after start_time ${c.req.query("start_time") ?? "0"}`);
      const limitText = c.req.query("limit") ?? "";
      if (limitText !== "" && !/^\d+$/.test(limitText)) throw invalidArgument("limit", `${JSON.stringify(limitText)} must be a positive integer`);
      const limit = limitText === "" || Number(limitText) === 0 ? LIMITS.pageSizeDefault : Number(limitText);
      if (limit > LIMITS.pageSizeMax) throw resourceExhausted("limit", `${limit}, limit ${LIMITS.pageSizeMax}`);
      const consistencyText = c.req.query("consistency") ?? ctx.readConsistency;
      if (!(READ_CONSISTENCIES as readonly string[]).includes(consistencyText)) {
        throw invalidArgument("consistency", `${JSON.stringify(consistencyText)} must be one of ${READ_CONSISTENCIES.join(", ")}`);
      }
      const r = await ctx.reader.read({
        database: db, collection: coll, ids, startTime, endTime, limit, cursor: c.req.query("cursor") ?? "", consistency: consistencyText as ReadConsistency,
      });
      return c.json({
        points: r.points.map((p) => toJson(PointSchema, p)),
        served_by: r.servedBy,
        next_cursor: r.nextCursor,
        truncated: r.nextCursor !== "",
        consistency: consistencyText,
        read_repaired: r.readRepaired,
      });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
}

/** A query time: RFC 3339 (like writes) or integer nanoseconds; absent = 0 (no bound). */
function queryTime(v: string | undefined, field: string): bigint {
  if (v === undefined || v === "") return 0n;
  if (/^\d+$/.test(v)) {
    const ns = BigInt(v);
    validateTimeNs(field, ns);
    return ns;
  }
  const ns = parseRfc3339Ns(v);
  if (ns === undefined) throw invalidArgument(field, `${JSON.stringify(v)} is neither RFC 3339 (e.g. 2024-11-24T00:00:00Z) nor integer nanoseconds`);
  validateTimeNs(field, ns);
  return ns;
}
