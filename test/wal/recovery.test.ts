import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wal } from "../../src/wal/wal.ts";
import { parsePointsPayload, pointsRecord, scanWal, WAL_MAGIC_V1 } from "../../src/wal/format.ts";
import { encodePoint } from "../../src/model/encoding.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
import { silentLogger } from "../../src/ports/logger.ts";

function batch(i: number, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, j) =>
    encodePoint({ database: "db", collection: "c", id: `d${i}`, timeNs: BigInt(j), insertedAtNs: BigInt(i + 1), fields: [["v", { kind: "number", value: i * 10 + j }]] }),
  );
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "soltix-wal-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("WAL recovery", () => {
  test("records appended concurrently share fsyncs and all come back in order", async () => {
    const d = join(dir, "group-commit");
    const { wal } = await Wal.open(nodeFileSystem, d, silentLogger);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 50 }, (_, i) => wal.append(pointsRecord(batch(i, 3)), () => order.push(i))));
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(wal.stats.fsyncs).toBeLessThan(50);
    await wal.close();
    const { wal: again, recovery } = await Wal.open(nodeFileSystem, d, silentLogger);
    expect(recovery.payloads.map((p) => parsePointsPayload(p).length)).toEqual(Array(50).fill(3));
    expect(recovery.payloads.map((p) => parsePointsPayload(p)[0])).toEqual(Array.from({ length: 50 }, (_, i) => batch(i, 3)[0]!));
    await again.close();
  });

  test("a WAL cut at every byte offset of its last records yields exactly the complete records", async () => {
    const records = Array.from({ length: 4 }, (_, i) => pointsRecord(batch(i, 2)));
    const full = new Uint8Array([...WAL_MAGIC_V1, ...records.flatMap((r) => [...r])]);
    const boundaries: number[] = [WAL_MAGIC_V1.length];
    for (const r of records) boundaries.push(boundaries.at(-1)! + r.length);
    const tailStart = boundaries[1]!; // cut anywhere inside records 2..4
    for (let cut = tailStart; cut <= full.length; cut++) {
      const d = join(dir, `cut-${cut}`);
      const name = "wal-0000000000000001.log";
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, name), full.subarray(0, cut));
      const { wal, recovery } = await Wal.open(nodeFileSystem, d, silentLogger);
      const complete = boundaries.filter((b) => b <= cut).length - 1;
      expect(recovery.payloads.length).toBe(complete);
      for (let i = 0; i < complete; i++) expect(parsePointsPayload(recovery.payloads[i]!)).toEqual(batch(i, 2));
      // The torn tail was truncated away, so a second recovery sees a clean file.
      expect(readFileSync(join(d, name)).length).toBe(boundaries[complete]!);
      await wal.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("a flipped bit in any byte of a record is detected and that record is never applied", () => {
    const records = Array.from({ length: 3 }, (_, i) => pointsRecord(batch(i, 2)));
    const full = new Uint8Array([...WAL_MAGIC_V1, ...records.flatMap((r) => [...r])]);
    const secondStart = WAL_MAGIC_V1.length + records[0]!.length;
    const secondEnd = secondStart + records[1]!.length;
    for (let at = secondStart; at < secondEnd; at++) {
      for (const bit of [0, 3, 7]) {
        const damaged = full.slice();
        damaged[at]! ^= 1 << bit;
        const scan = scanWal(damaged);
        expect(scan.payloads.length).toBe(1);
        expect(scan.stopReason).toBeDefined();
        expect(scan.validBytes).toBe(secondStart);
      }
    }
  });

  test("rotation splits the log and removeBefore drops only older files", async () => {
    const d = join(dir, "rotate");
    const { wal } = await Wal.open(nodeFileSystem, d, silentLogger);
    await wal.append(pointsRecord(batch(1, 1)), () => {});
    let rotatedTo = -1;
    const seq = await wal.rotate((s) => (rotatedTo = s));
    expect(rotatedTo).toBe(seq);
    await wal.append(pointsRecord(batch(2, 1)), () => {});
    await wal.removeBefore(seq);
    expect(readdirSync(d).length).toBe(1);
    await wal.close();
    const { wal: again, recovery } = await Wal.open(nodeFileSystem, d, silentLogger);
    expect(recovery.payloads.map((p) => parsePointsPayload(p))).toEqual([batch(2, 1)]);
    await again.close();
  });
});
