// Field types per collection (cluster/field-types.ts, DESIGN §12) through a router (3 nodes in one
// process): a field keeps the type of its first write; a later write that changes it — JSON API,
// Influx line protocol, binary RouterService.Write — is refused with InfluxDB's message, and nothing of
// the batch is stored; another collection or database is free to type it otherwise; a collection drop
// forgets its types; a second router sees the types the first recorded.

import { afterAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { startLocalCluster, type LocalCluster } from "../../src/app/local-cluster.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { RouterWriteRequestSchema } from "../../src/gen/soltix/v1/router_pb.ts";
import { FieldTypes } from "../../src/cluster/field-types.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { postJson } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";

const tmp = tempDir("field-types");
let cluster: LocalCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  tmp.cleanup();
});

describe("field types", () => {
  test("a field keeps its first type per collection; a change is refused like InfluxDB's, in every write format; a drop forgets", async () => {
    cluster = await startLocalCluster({ nodes: 3, dir: tmp.dir, routerPort: 0 }, { platform: systemPlatform(serveWithBun), logger: silentLogger });
    const c = cluster;
    const batch = (coll: string, points: unknown[]) => postJson(`${c.routerUrl}/v1/databases/ft/collections/${coll}/write/batch`, { points });
    expect((await batch("sensors", [{ id: "a", time: "1", temp: 21.5, ok: true }])).status).toBe(200);
    // JSON: a string where a float was — refused, naming the field, the collection and both types.
    const r = await batch("sensors", [{ id: "b", time: "2", ok: false }, { id: "b", time: "3", temp: "hot" }]);
    expect(r.status).toBe(400);
    expect(r.json.message).toBe('points.fields["temp"]: field type conflict: input field "temp" on collection "sensors" is type string, already exists as type float');
    // Nothing of that batch is stored.
    const q = await fetch(`${c.routerUrl}/v1/databases/ft/collections/sensors/query?ids=b`);
    expect(((await q.json()) as { points: unknown[] }).points).toEqual([]);
    // Line protocol: an integer where a float was.
    const lp = await fetch(`${c.routerUrl}/write?db=ft`, { method: "POST", body: "sensors,id=c temp=3i 4" });
    expect(lp.status).toBe(400);
    expect(((await lp.json()) as { error: string }).error).toContain("field type conflict: input field \"temp\" on collection \"sensors\" is type int, already exists as type float");
    // Binary RouterService.Write (the fast path): a bool where a float was.
    const bin = toBinary(RouterWriteRequestSchema, create(RouterWriteRequestSchema, { points: [{ database: "ft", collection: "sensors", id: "d", time: 5n, fields: { temp: { value: { case: "boolValue", value: true } } } }] }));
    const br = await fetch(`${c.routerUrl}/soltix.v1.RouterService/Write`, { method: "POST", headers: { "content-type": "application/proto" }, body: bin });
    expect(br.status).toBe(400);
    // A new field, and the same name in another collection with another type: fine.
    expect((await batch("sensors", [{ id: "a", time: "6", temp: 2, note: "x" }])).status).toBe(200);
    expect((await batch("other", [{ id: "a", time: "6", temp: "warm" }])).status).toBe(200);
    // A second router (same metadata) knows the types the first recorded.
    const second = FieldTypes.open(c.router.view["store"] as never, silentLogger, systemClock, () => "now");
    await expect(second.check(new Map([["ft\u0000sensors", new Map([["note", "int" as const]])]]))).rejects.toThrow(/input field "note" on collection "sensors" is type int, already exists as type string/);
    await second.close();
    // A drop forgets the collection's types.
    expect((await fetch(`${c.routerUrl}/v1/databases/ft/collections/sensors`, { method: "DELETE" })).status).toBe(200);
    expect((await batch("sensors", [{ id: "a", time: "7", temp: "now a string" }])).status).toBe(200);
  }, 60_000);

  test("the JSON API's ?precision= sets the unit of integer times (RFC 3339 times are unchanged); a bad one is named", async () => {
    const c = cluster!;
    const w = await postJson(`${c.routerUrl}/v1/databases/ft/collections/prec/write/batch?precision=s`, { points: [{ id: "p", time: 1732406400, v: 1 }, { id: "p", time: "1732406401", v: 2 }, { id: "p", time: "2024-11-24T00:00:02Z", v: 3 }] });
    expect(w.status).toBe(200);
    const q = await fetch(`${c.routerUrl}/v1/databases/ft/collections/prec/query?ids=p`);
    expect(((await q.json()) as { points: Array<{ time: string }> }).points.map((p) => p.time)).toEqual(["1732406400000000000", "1732406401000000000", "1732406402000000000"]);
    const bad = await postJson(`${c.routerUrl}/v1/databases/ft/collections/prec/write?precision=h`, { id: "p", time: 1, v: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/^precision: "h" must be one of ns, us, ms, s/);
  });
});
