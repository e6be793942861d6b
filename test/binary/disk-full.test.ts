// Disk full: writes are refused with a clear error (503 unavailable naming the cause), /readyz says
// why, and nothing is acknowledged that is not durable — after a restart with space again, exactly
// the acknowledged points are there. Run on the compiled binary over a small tmpfs when this machine
// lets us mount one, and always in-process over real files with a byte budget that fails like a full
// disk (ENOSPC).

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { startBinary, postJson, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { loadConfig } from "../../src/config/config.ts";
import { startNode } from "../../src/app/node.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import type { FileSystem } from "../../src/ports/fs.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";

const tmp = tempDir("diskfull");
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.cleanup();
});

const DAY = 20_450n * NS_PER_DAY;
const WRITE = "/soltix.v1.StorageService/Write";
const QUERY = "/soltix.v1.StorageService/Query";

/** Writes 500-point batches until one is refused; returns how many points were acknowledged and the refusal. */
async function fillUp(url: string): Promise<{ acked: number; refusal: { status: number; json: any } }> {
  let acked = 0;
  for (let b = 0; b < 10_000; b++) {
    const points = Array.from({ length: 500 }, (_, i) => ({ database: "d", collection: "c", id: "dev", time: String(DAY + BigInt(b * 500 + i) * NS_PER_SECOND), fields: { pad: { stringValue: "p".repeat(200) } } }));
    const r = await postJson(`${url}${WRITE}`, { points });
    if (r.status !== 200) return { acked, refusal: r };
    acked += 500;
  }
  throw new Error("the disk never filled");
}

async function stored(url: string): Promise<number> {
  let n = 0;
  let cursor = "";
  for (;;) {
    const r = await postJson(`${url}${QUERY}`, { database: "d", collection: "c", ids: ["dev"], startTime: String(DAY), endTime: String(DAY + NS_PER_DAY), limit: 10000, cursor });
    expect(r.status).toBe(200);
    n += (r.json.points ?? []).length;
    cursor = r.json.nextCursor ?? "";
    if (cursor === "") return n;
  }
}

function expectClearRefusal(refusal: { status: number; json: any }): void {
  expect(refusal.status).toBe(503);
  expect(refusal.json.code).toBe("unavailable");
  expect(refusal.json.message).toMatch(/no space left|ENOSPC/);
}

/** A real file system that fails like a full disk once `budget` bytes have been appended in total. */
function fullAfter(budget: { bytes: number }): FileSystem {
  let used = 0;
  return {
    ...nodeFileSystem,
    async create(path) {
      const f = await nodeFileSystem.create(path);
      return {
        ...f,
        async append(bytes) {
          if (used + bytes.length > budget.bytes) {
            // Like the kernel: as much as fits is written, then ENOSPC.
            const fits = Math.max(0, budget.bytes - used);
            if (fits > 0) await f.append(bytes.subarray(0, fits));
            used += fits;
            throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: "ENOSPC" });
          }
          used += bytes.length;
          await f.append(bytes);
        },
      };
    },
  };
}

describe("disk full", () => {
  test("in-process node over real files: refused clearly, nothing acknowledged that is not durable", async () => {
    const dir = `${tmp.dir}/inproc`;
    const budget = { bytes: 2 * 1024 * 1024 };
    const config = loadConfig({ flags: new Map([["storage.data_dir", dir], ["server.port", "0"]]) });
    const node = await startNode(config, { platform: systemPlatform(undefined, { fs: fullAfter(budget) }), logger: silentLogger });
    const served = serveWithBun(node.app.fetch, "127.0.0.1", 0);
    node.joinCluster(`127.0.0.1:${served.port}`);
    const url = `http://127.0.0.1:${served.port}`;
    const { acked, refusal } = await fillUp(url);
    expect(acked).toBeGreaterThan(0);
    expectClearRefusal(refusal);
    const again = await postJson(`${url}${WRITE}`, { points: [{ database: "d", collection: "c", id: "dev", time: String(DAY), fields: { v: { numberValue: 1 } } }] });
    expectClearRefusal(again);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: string }).error).toMatch(/writes refused until restart: WAL I\/O failed \(ENOSPC/);
    await served.stop();
    await node.close();
    // Space again: exactly the acknowledged points are there.
    const node2 = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
    const served2 = serveWithBun(node2.app.fetch, "127.0.0.1", 0);
    try {
      expect(await stored(`http://127.0.0.1:${served2.port}`)).toBe(acked);
    } finally {
      await served2.stop();
      await node2.close();
    }
  }, 120_000);

  test("compiled binary on a small tmpfs (when mounting is allowed here)", async () => {
    const mnt = `${tmp.dir}/tmpfs`;
    mkdirSync(mnt, { recursive: true });
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], { stderr: "pipe" });
    if (mount.exitCode !== 0) {
      // Not privileged: the in-process test above covers the behaviour over real files.
      console.error(`disk-full: tmpfs mount not permitted here (${mount.stderr.toString().trim()}); binary variant not run`);
      return;
    }
    cleanups.push(() => void Bun.spawnSync(["umount", "-l", mnt]));
    const args = ["node", "--storage.data_dir", `${mnt}/data`, "--server.port", "0", "--storage.memstore_bytes_max", String(64 * 1024 * 1024)];
    let bin: RunningBinary = await startBinary(args);
    cleanups.push(() => bin.kill9().catch(() => {}));
    const { acked, refusal } = await fillUp(bin.url);
    expect(acked).toBeGreaterThan(0);
    expectClearRefusal(refusal);
    expect((await fetch(`${bin.url}/readyz`)).status).toBe(503);
    await bin.kill9();
    expect(Bun.spawnSync(["mount", "-o", "remount,size=64m", mnt]).exitCode).toBe(0);
    bin = await startBinary(args);
    expect(await stored(bin.url)).toBe(acked);
    await bin.kill9();
  }, 120_000);
});
