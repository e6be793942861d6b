// Helpers for engine tests: temp data dirs, stored points, the naive checksum oracle.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, hashRecords, type StoredPoint, type WindowChecksum } from "../../src/engine/engine.ts";
import { nodeFileSystem } from "../../src/adapters/node-fs.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { storedFromPoint } from "../../src/rpc/convert.ts";
import { lwwMerge } from "../../src/model/lww.ts";
import { windowStartNs } from "../../src/base/time.ts";
import { timeOfEncoding } from "../../src/model/encoding.ts";
import type { Point } from "../../src/model/point.ts";

export const TEST_GROUPS = 4;

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `soltix-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openEngine(dataDir: string, extra: Partial<Parameters<typeof Engine.open>[0]> = {}): Promise<Engine> {
  return Engine.open({ dataDir, fs: nodeFileSystem, logger: silentLogger, totalGroups: TEST_GROUPS, ...extra });
}

export function stored(points: readonly Point[]): StoredPoint[] {
  return points.map((p) => storedFromPoint(p, TEST_GROUPS));
}

/** Naive oracle: LWW union per (group, window), hashed in key order. */
export function oracleChecksums(points: readonly StoredPoint[]): Map<string, WindowChecksum> {
  const byWindow = new Map<string, StoredPoint[]>();
  for (const p of points) {
    const id = `${p.group}:${windowStartNs(timeOfEncoding(p.enc))}`;
    const list = byWindow.get(id) ?? [];
    list.push(p);
    byWindow.set(id, list);
  }
  const out = new Map<string, WindowChecksum>();
  for (const [id, list] of byWindow) out.set(id, hashRecords(lwwMerge(list)));
  return out;
}

export async function engineChecksums(engine: Engine, ids: Iterable<string>): Promise<Map<string, WindowChecksum>> {
  const out = new Map<string, WindowChecksum>();
  for (const id of ids) {
    const [g, w] = id.split(":");
    out.set(id, await engine.windowChecksum(Number(g), BigInt(w!)));
  }
  return out;
}
