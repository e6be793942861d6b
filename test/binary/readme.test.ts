// The README's curl lines, run as written (only the port changes) against the compiled binary.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { hashRecords } from "../../src/engine/engine.ts";
import { recordOf } from "../../src/model/encoding.ts";
import { groupOf } from "../../src/model/group.ts";

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
let node: RunningBinary;
beforeAll(async () => {
  node = await startBinary(["node", "--storage.data_dir", `${tmp.dir}/data`, "--server.port", "0"]);
});
afterAll(async () => {
  await node.kill9();
  tmp.cleanup();
});

describe("README curl lines", () => {
  test("run against the binary and print what the README says", async () => {
    const cmds = demoCommands();
    expect(cmds.length).toBe(5);
    const outputs: any[] = [];
    for (const c of cmds) {
      const r = Bun.spawnSync(["bash", "-c", c.replaceAll("127.0.0.1:7001", `127.0.0.1:${node.port}`)]);
      expect(r.exitCode).toBe(0);
      outputs.push(JSON.parse(r.stdout.toString()));
    }
    const [write, query, last, checksum, health] = outputs;
    expect(write).toEqual({ accepted: 4 });
    expect(query.points.map((p: { time: string }) => p.time)).toEqual(["1732406400000000000", "1732406460000000000", "1732406520000000000"]);
    expect(last).toEqual({ timestamp: "1732406520000000000" });
    // The checksum is the canonical one (recomputed here from the README's points) and the README quotes it.
    expect(groupOf("demo", "sensors", "dev-1", 256)).toBe(132);
    const writeJson = JSON.parse(cmds[0]!.slice(cmds[0]!.indexOf("-d '") + 4, cmds[0]!.lastIndexOf("'")));
    const dev1 = (writeJson.points as any[]).filter((p) => p.id === "dev-1");
    const expected = hashRecords(
      dev1
        .map((p) =>
          recordOf({
            database: p.database,
            collection: p.collection,
            id: p.id,
            timeNs: BigInt(p.time),
            insertedAtNs: BigInt(p.insertedAt),
            fields: Object.entries(p.fields as Record<string, Record<string, unknown>>).map(([k, v]) => {
              const [kind, value] = Object.entries(v)[0]!;
              if (kind === "numberValue") return [k, { kind: "number", value: value as number }] as const;
              if (kind === "boolValue") return [k, { kind: "bool", value: value as boolean }] as const;
              if (kind === "intValue") return [k, { kind: "int", value: BigInt(value as string) }] as const;
              return [k, { kind: "string", value: value as string }] as const;
            }),
          }),
        )
        .sort((a, b) => (a.key < b.key ? -1 : 1)),
    );
    expect(checksum).toEqual({ sha256: expected.sha256Hex, pointCount: "3" });
    expect(README).toContain(`{"sha256":"${expected.sha256Hex.slice(0, 16)}…","pointCount":"3"}`);
    expect(health.status).toBe("ok");
  });
});
