// Disk full or read-only: writes are refused with a clear error (503 unavailable naming ENOSPC or
// EROFS), /readyz says why, reads are served, nothing is acknowledged that is not durable — and the
// node takes writes again by itself once the disk can be written (no restart). A node that starts on
// a full or read-only disk starts read-only instead of refusing to start. After a restart exactly the
// acknowledged points are there. Run on the compiled binary over a small tmpfs when this machine lets
// us mount one, and always in-process over real files with a file system that fails like a full
// (ENOSPC) or read-only (EROFS) disk.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { startBinary, postJson, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { loadConfig } from "../../src/config/config.ts";
import { startNode } from "../../src/app/node.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
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

function expectClearRefusal(refusal: { status: number; json: any }, cause: RegExp = /no space left|ENOSPC/): void {
  expect(refusal.status).toBe(503);
  expect(refusal.json.code).toBe("unavailable");
  expect(refusal.json.message).toMatch(cause);
}

const onePoint = (i: number) => ({ points: [{ database: "d", collection: "c", id: "dev", time: String(DAY + BigInt(i) * NS_PER_SECOND), fields: { v: { numberValue: i } } }] });

/** Waits until the node takes writes again by itself (it retries every few seconds). */
async function writableAgain(url: string, i: number): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const r = await postJson(`${url}${WRITE}`, onePoint(i));
    if (r.status === 200) return;
    await Bun.sleep(250);
  }
  throw new Error("the node did not take writes again");
}

/** A real file system mounted read-only while `ro.on`: every change fails with EROFS. */
function readOnlyWhile(ro: { on: boolean }): FileSystem {
  const erofs = (what: string) => Object.assign(new Error(`EROFS: read-only file system, ${what}`), { code: "EROFS" });
  const guard = <A extends unknown[], R>(what: string, f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (ro.on) throw erofs(`${what} '${String(a[0])}'`);
    return f(...a);
  };
  return {
    ...nodeFileSystem,
    mkdirp: async (dir) => {
      if (ro.on && !existsSync(dir)) throw erofs(`mkdir '${dir}'`);
      return nodeFileSystem.mkdirp(dir);
    },
    create: guard("open", nodeFileSystem.create),
    truncate: guard("truncate", nodeFileSystem.truncate),
    rename: guard("rename", nodeFileSystem.rename),
    remove: guard("unlink", nodeFileSystem.remove),
    syncDir: guard("fsync", nodeFileSystem.syncDir),
  };
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
    const again = await postJson(`${url}${WRITE}`, onePoint(0));
    expectClearRefusal(again);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: string }).error).toMatch(/read-only: writes refused until the disk can be written again \(ENOSPC/);
    // Reads are served all along.
    expect(await stored(url)).toBe(acked);
    // Space again: the node takes writes by itself, without a restart.
    budget.bytes = Number.MAX_SAFE_INTEGER;
    await writableAgain(url, 80_000);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await served.stop();
    await node.close();
    // After a restart: exactly the acknowledged points (the one written after recovery too).
    const node2 = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
    const served2 = serveWithBun(node2.app.fetch, "127.0.0.1", 0);
    try {
      expect(await stored(`http://127.0.0.1:${served2.port}`)).toBe(acked + 1);
    } finally {
      await served2.stop();
      await node2.close();
    }
  }, 120_000);

  test("a node started on a full disk, and on a read-only one, starts read-only: reads served, writes refused naming the cause, writable again by itself", async () => {
    const dir = `${tmp.dir}/start-ro`;
    const config = loadConfig({ flags: new Map([["storage.data_dir", dir], ["server.port", "0"]]) });
    // Some data first, on a healthy disk.
    let node = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
    let served = serveWithBun(node.app.fetch, "127.0.0.1", 0);
    for (let i = 0; i < 10; i++) expect((await postJson(`http://127.0.0.1:${served.port}${WRITE}`, onePoint(i))).status).toBe(200);
    await served.stop();
    await node.close();
    for (const [fs, cause, heal] of [
      (() => {
        const budget = { bytes: 0 };
        return [fullAfter(budget), /ENOSPC/, () => void (budget.bytes = Number.MAX_SAFE_INTEGER)] as const;
      })(),
      (() => {
        const ro = { on: true };
        return [readOnlyWhile(ro), /EROFS/, () => void (ro.on = false)] as const;
      })(),
    ]) {
      node = await startNode(config, { platform: systemPlatform(undefined, { fs }), logger: silentLogger });
      served = serveWithBun(node.app.fetch, "127.0.0.1", 0);
      node.joinCluster(`127.0.0.1:${served.port}`);
      const url = `http://127.0.0.1:${served.port}`;
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: string }).error).toMatch(new RegExp(`read-only: writes refused until the disk can be written again .*${cause.source}`));
      expect(await stored(url)).toBeGreaterThanOrEqual(10);
      expectClearRefusal(await postJson(`${url}${WRITE}`, onePoint(100)), cause);
      heal();
      await writableAgain(url, 100);
      await served.stop();
      await node.close();
    }
    node = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
    served = serveWithBun(node.app.fetch, "127.0.0.1", 0);
    try {
      expect(await stored(`http://127.0.0.1:${served.port}`)).toBe(11);
    } finally {
      await served.stop();
      await node.close();
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
    // Restarted on the still-full disk: it starts (read-only), serves what it holds, says why.
    bin = await startBinary(args);
    expect(await stored(bin.url)).toBe(acked);
    const ready = await fetch(`${bin.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: string }).error).toMatch(/read-only: .*ENOSPC/);
    expectClearRefusal(await postJson(`${bin.url}${WRITE}`, onePoint(80_000)));
    // More space: writable again by itself.
    expect(Bun.spawnSync(["mount", "-o", "remount,size=64m", mnt]).exitCode).toBe(0);
    await writableAgain(bin.url, 80_000);
    await bin.kill9();
    // A read-only mount: the same, naming EROFS.
    expect(Bun.spawnSync(["mount", "-o", "remount,ro", mnt]).exitCode).toBe(0);
    bin = await startBinary(args);
    expect(await stored(bin.url)).toBe(acked + 1);
    expectClearRefusal(await postJson(`${bin.url}${WRITE}`, onePoint(80_001)), /EROFS|read-only file system/);
    expect(Bun.spawnSync(["mount", "-o", "remount,rw", mnt]).exitCode).toBe(0);
    await writableAgain(bin.url, 80_001);
    expect(await stored(bin.url)).toBe(acked + 2);
    await bin.kill9();
  }, 120_000);
});
