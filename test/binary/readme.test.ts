// The README's curl lines, run as written against `soltix dev` from the compiled binary (only the
// ports change), and what they print checked against what the README says.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { hashRecords } from "../../src/engine/engine.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { groupOf } from "../../src/model/group.ts";
import type { FieldValue } from "../../src/model/point.ts";

const README = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");

function demoCommands(): string[] {
  const block = README.split("<!-- demo:begin -->")[1]!.split("<!-- demo:end -->")[0]!;
  const lines = block.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("```"));
  const cmds: string[] = [];
  for (const l of lines) {
    if (l.startsWith("curl ") || cmds.length === 0) cmds.push(l);
    else cmds[cmds.length - 1] += `\n${l}`;
  }
  return cmds;
}

const tmp = tempDir("readme");
let dev: RunningBinary;
beforeAll(async () => {
  dev = await startBinary(["dev", "--nodes", "3", "--port", "0", "--dir", `${tmp.dir}/data`]);
});
afterAll(async () => {
  await dev.kill9();
  tmp.cleanup();
});

describe("README curl lines", () => {
  test("run against `soltix dev` and print what the README says", async () => {
    const ports: Record<string, string> = { "8080": String(dev.port) };
    (dev.ready.nodes as Array<{ url: string }>).forEach((n, i) => (ports[String(7001 + i)] = n.url.split(":").pop()!));
    const cmds = demoCommands();
    expect(cmds.length).toBe(7);
    const outputs: any[] = [];
    for (const c of cmds) {
      const r = Bun.spawnSync(["bash", "-c", c.replace(/127\.0\.0\.1:(8080|700[1-3])/g, (_m, p: string) => `127.0.0.1:${ports[p]}`)]);
      expect(r.exitCode).toBe(0);
      outputs.push(JSON.parse(r.stdout.toString()));
    }
    const [write, query, last, ...rest] = outputs;
    const sums = rest.slice(0, 3);
    const roots = rest[3];
    expect(roots.roots).toEqual([{ windowStart: "1732406400000000000", root: { digest: expect.any(String), count: "3", leaf: true } }]);
    expect(roots.shape).toEqual({ fanout: 16, depthMax: 6, leafPointsMax: 32, seriesBits: 8 });
    expect(write).toEqual({ accepted: 4, groups: 2, min_acks: 3 });
    expect(README).toContain('`{"accepted":4,"groups":2,"min_acks":3}`');
    expect(query.points.map((p: { time: string }) => p.time)).toEqual(["1732406400000000000", "1732406460000000000", "1732406520250000000"]);
    expect(last).toEqual({ timestamp: "1732406520250000000" });
    expect(README).toContain('`{"timestamp":"1732406520250000000"}`');
    // Every replica has the same checksum, and it is the canonical one of the points read back.
    expect(groupOf("demo", "sensors", "dev-1", 256)).toBe(132);
    const expected = hashRecords(
      (query.points as any[])
        .map((p) =>
          recordOf({
            database: p.database,
            collection: p.collection,
            id: p.id,
            timeNs: BigInt(p.time),
            insertedAtNs: BigInt(p.insertedAt),
            fields: Object.entries(p.fields as Record<string, Record<string, unknown>>).map(([k, v]): readonly [string, FieldValue] => {
              const [kind, value] = Object.entries(v)[0]!;
              if (kind === "numberValue") return [k, { kind: "number", value: value as number }];
              if (kind === "boolValue") return [k, { kind: "bool", value: value as boolean }];
              if (kind === "intValue") return [k, { kind: "int", value: BigInt(value as string) }];
              return [k, { kind: "string", value: value as string }];
            }),
          }),
        )
        .sort((a, b) => (a.key < b.key ? -1 : 1)),
    );
    expect(sums).toEqual([0, 1, 2].map(() => ({ sha256: expected.sha256Hex, pointCount: "3" })));
  });
});
