// The router's HTTP surface: the Soltix-compatible write API (Hono), RouterService over Connect, a
// query endpoint that reads the group's primary and fails over to its replicas, /healthz, /readyz.

import type { Hono, Context } from "hono";
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { SoltixError, errorMessage, invalidArgument, resourceExhausted, type ErrorKind } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { validateId, validateName } from "../model/validate.ts";
import { groupOf } from "../model/group.ts";
import type { Point } from "../model/point.ts";
import { pointFromProto } from "../rpc/convert.ts";
import { httpStatusOfKind } from "../rpc/errors.ts";
import { RouterService, RouterWriteResponseSchema } from "../gen/soltix/v1/router_pb.ts";
import { groupNodes } from "../cluster/records.ts";
import type { ClusterView } from "../cluster/view.ts";
import type { Logger } from "../ports/logger.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { parseJsonExact, pointFromSoltixJson, pointsFromBatchJson } from "./points.ts";
import type { WriteRouter } from "./write-router.ts";


export interface RouterContext {
  view: ClusterView;
  writer: WriteRouter;
  stamp: () => bigint;
  policy: { factor: number; totalGroups: number };
  logger: Logger;
  /** How nodes are reached (scheme, token, trust). */
  net: PeerNet;
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
      const points = req.points.map((p, i) => pointFromProto(`points[${i}]`, p, ctx.stamp));
      const r = await ctx.writer.write(points);
      return create(RouterWriteResponseSchema, { accepted: r.accepted, groups: r.groups, minAcks: r.minAcks });
    },
  };
}

export function mountRouterRoutes(app: Hono, ctx: RouterContext): void {
  const write = async (c: Context, batch: boolean) => {
    try {
      const db = c.req.param("db")!;
      const coll = c.req.param("coll")!;
      validateName("database", db);
      validateName("collection", coll);
      const body = await bodyJson(c);
      const points: Point[] = batch ? pointsFromBatchJson(body, db, coll, ctx.stamp) : [pointFromSoltixJson("point", body, db, coll, ctx.stamp)];
      const r = await ctx.writer.write(points);
      return c.json({ accepted: r.accepted, groups: r.groups, min_acks: r.minAcks });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  };
  app.post("/v1/databases/:db/collections/:coll/write", (c) => write(c, false));
  app.post("/v1/databases/:db/collections/:coll/write/batch", (c) => write(c, true));

  // Soltix makes clients create databases and collections first; we accept the calls, not require them.
  app.post("/v1/databases", async (c) => {
    try {
      const body = (await bodyJson(c)) as { name?: unknown };
      if (typeof body?.name !== "string") throw invalidArgument("name", "is required");
      validateName("name", body.name);
      return c.json({ name: body.name, created: true });
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
      if (ids.length > 1000) throw resourceExhausted("ids", `${ids.length} ids, limit 1000`);
      ids.forEach((id, i) => validateId(`ids[${i}]`, id));
      const num = (name: string) => {
        const v = c.req.query(name);
        if (v === undefined || v === "") return "0";
        if (!/^\d+$/.test(v)) throw invalidArgument(name, `${JSON.stringify(v)} must be integer nanoseconds`);
        return v;
      };
      const startTime = num("start_time");
      const endTime = num("end_time");
      const limit = Number(num("limit")) || LIMITS.pageSizeDefault;
      if (limit > LIMITS.pageSizeMax) throw resourceExhausted("limit", `${limit}, limit ${LIMITS.pageSizeMax}`);
      const points: unknown[] = [];
      const servedBy: Record<string, string> = {};
      let truncated = false;
      for (const id of [...new Set(ids)].sort()) {
        if (points.length >= limit) {
          truncated = true;
          break;
        }
        const group = groupOf(db, coll, id, ctx.policy.totalGroups);
        const record = ctx.view.cachedGroup(group);
        if (record === undefined) continue; // never written
        const { node, body } = await queryWithFailover(ctx, groupNodes(record), { database: db, collection: coll, ids: [id], startTime, endTime, limit: limit - points.length });
        servedBy[id] = node;
        points.push(...((body.points as unknown[] | undefined) ?? []));
        if (body.nextCursor) truncated = true;
      }
      return c.json({ points, served_by: servedBy, truncated });
    } catch (e) {
      return errorJson(c, e, ctx.logger);
    }
  });
}

/** Reads from the primary, then each replica in turn; unavailable only when none answers. */
async function queryWithFailover(ctx: RouterContext, nodeIds: string[], req: Record<string, unknown>): Promise<{ node: string; body: Record<string, unknown> }> {
  const errors: string[] = [];
  for (const id of nodeIds) {
    const node = ctx.view.node(id);
    if (node === undefined) {
      errors.push(`${id}: not registered`);
      continue;
    }
    try {
      const res = await ctx.net.fetch(ctx.net.url(node.address, "/soltix.v1.StorageService/Query"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status === 200) return { node: id, body };
      if (res.status === 400) throw new SoltixError("invalid_argument", String(body.message));
      errors.push(`${id}: HTTP ${res.status} ${String(body.message ?? "")}`);
    } catch (e) {
      if (e instanceof SoltixError) throw e;
      errors.push(`${id}: ${errorMessage(e)}`);
    }
  }
  throw new SoltixError("unavailable", `no replica answered the query: ${errors.join("; ")}`);
}
