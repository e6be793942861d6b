// Boot → write → checksum under Deno: the same node app (Hono + Connect handlers, real engine on
// node:fs) served by the Deno.serve adapter, called over real HTTP.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/config.ts";
import { startNode } from "../../src/app/node.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithDeno } from "../../src/runtime/deno/serve.ts";
import { hashRecords } from "../../src/engine/engine.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { groupOf } from "../../src/model/group.ts";

Deno.test("boot, write, checksum over HTTP under Deno.serve", async () => {
  const dir = mkdtempSync(join(tmpdir(), "soltix-deno-"));
  const config = loadConfig({ flags: new Map([["storage.data_dir", dir], ["server.port", "0"]]) });
  const node = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
  const served = serveWithDeno(node.app.fetch, "127.0.0.1", 0);
  try {
    const base = `http://127.0.0.1:${served.port}`;
    const day = 1732406400000000000n;
    const points = [1, 2, 3].map((i) => ({ database: "demo", collection: "sensors", id: "dev-1", time: String(day + BigInt(i)), insertedAt: String(100 + i), fields: { v: { numberValue: i / 2 } } }));
    const w = await fetch(`${base}/soltix.v1.StorageService/Write`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ points }) });
    assert.deepEqual(await w.json(), { accepted: 3 });
    const group = groupOf("demo", "sensors", "dev-1", 256);
    const c = await fetch(`${base}/soltix.v1.SyncService/GetChecksum`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ groupId: group, windowStart: String(day) }) });
    const expected = hashRecords(
      [1, 2, 3].map((i) => recordOf({ database: "demo", collection: "sensors", id: "dev-1", timeNs: day + BigInt(i), insertedAtNs: BigInt(100 + i), fields: [["v", { kind: "number", value: i / 2 }]] })),
    );
    assert.deepEqual(await c.json(), { sha256: expected.sha256Hex, pointCount: "3" });
    const bad = await fetch(`${base}/soltix.v1.StorageService/Write`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ points: [{ ...points[0], id: "../x" }] }) });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).message, /points\[0\]\.id/);
  } finally {
    await served.stop();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
