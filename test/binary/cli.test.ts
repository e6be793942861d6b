// The command line as an operator meets it (compiled binary, against `soltix dev`): `--json` prints
// only valid JSON on stdout, every field included (group 0's id, zero counts), messages on stderr;
// each command and cluster subcommand has its own help; the router's help lists the router's keys
// with its own defaults; an unreachable node is one line naming the address and the cause (no
// stack); a mistyped SOLTIX_* variable is warned about, naming the closest real one.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { binaryPath, postJson, startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/engine.ts";
import { groupOf } from "../../src/model/group.ts";

const tmp = tempDir("cli");
let dev: RunningBinary;
let node = "";

/** stdout and stderr apart (cli() in support joins them). */
function run(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([binaryPath(), ...args], { stdout: "pipe", stderr: "pipe", timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

beforeAll(async () => {
  dev = await startBinary(["dev", "--nodes", "2", "--port", "0", "--dir", `${tmp.dir}/dev`]);
  node = (dev.ready as { nodes: Array<{ url: string }> }).nodes[0]!.url.replace("http://", "");
  // A device in group 0, so group 0 is held and has points.
  const id = Array.from({ length: 100_000 }, (_, i) => `d${i}`).find((x) => groupOf("cli", "c", x, 256) === 0)!;
  expect((await postJson(`${(dev.ready as { router: string }).router}/v1/databases/cli/collections/c/write`, { id, time: "2024-11-24T00:00:00Z", v: 1 })).status).toBe(200);
});
afterAll(async () => {
  await dev?.stop();
  tmp.cleanup();
});

describe("the CLI (compiled binary)", () => {
  test("--json: only JSON on stdout, every field (group 0's id, zeros)", () => {
    const status = run(["status", "--node", node, "--json"]);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { groups: Array<{ groupId: number; points: string }> };
    const g0 = s.groups.find((g) => g.groupId === 0);
    expect(g0).toBeDefined();
    expect(Number(g0!.points)).toBe(1);

    const repair = run(["repair", "--node", node, "--group", "0", "--json"]);
    expect(repair.code).toBe(0);
    const r = JSON.parse(repair.stdout) as { records: Array<{ pointsRepaired: string; pointsDiffering: string; reason: string; result: string }> };
    expect(r.records.length).toBeGreaterThan(0);
    for (const rec of r.records) {
      expect(rec.result).toBe("in_sync");
      expect(rec.pointsRepaired).toBe("0");
      expect(rec.pointsDiffering).toBe("0");
      expect(rec.reason).toBe("");
    }

    const cluster = run(["cluster", "status", "--server", node, "--json"]);
    expect(cluster.code).toBe(0);
    const c = JSON.parse(cluster.stdout) as { nodes: Array<{ joining: number }>; underReplicated: unknown[]; moves: unknown[] };
    expect(c.nodes.length).toBe(2);
    expect(c.nodes.every((n) => n.joining === 0)).toBe(true);
    expect(c.underReplicated).toEqual([]);
    expect(c.moves).toEqual([]);
  });

  test("a help page per command and per cluster subcommand; the router's lists its own keys and port", () => {
    const pages = new Map<string, string>();
    for (const args of [["status"], ["checksum"], ["tree"], ["repair"], ["cluster"], ["cluster", "status"], ["cluster", "decommission"], ["cluster", "remove"], ["cluster", "replace"], ["cluster", "rebalance"], ["node"], ["router"], ["dev"]]) {
      const h = run([...args, "--help"]);
      expect(h.code).toBe(0);
      expect(h.stdout).toStartWith(args[0] === "cluster" && args.length === 1 ? "usage:" : `usage: soltix ${args.join(" ")}`);
      pages.set(args.join(" "), h.stdout);
    }
    expect(new Set(pages.values()).size).toBe(pages.size);
    const router = pages.get("router")!;
    expect(router).toMatch(/--server\.port\s+SOLTIX_SERVER_PORT\s+default 8080 /);
    expect(router).not.toContain("7001");
    expect(router).not.toContain("--storage.");
    expect(router).not.toContain("--cluster.");
    expect(router).toContain("--read.consistency");
    const nodeHelp = pages.get("node")!;
    expect(nodeHelp).toMatch(/--server\.port\s+SOLTIX_SERVER_PORT\s+default 7001 /);
    expect(nodeHelp).toContain("--storage.data_dir");
    expect(nodeHelp).not.toContain("--read.consistency");
    expect(pages.get("cluster replace")).toContain("--with NEW");
  });

  test("an unreachable node: one line naming the address and the cause, no stack trace", () => {
    for (const args of [["status", "--node", "127.0.0.1:1"], ["cluster", "status", "--server", "127.0.0.1:1"], ["checksum", "--nodes", `127.0.0.1:1,${node}`, "--group", "0"], ["repair", "--node", "127.0.0.1:1", "--group", "0", "--json"]]) {
      const r = run(args);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("soltix: cannot reach 127.0.0.1:1 (http://127.0.0.1:1): connection refused (nothing listens there: is the node running, and is this its server.port?)\n");
    }
    const dns = run(["status", "--node", "no-such-host.invalid:7001"]);
    expect(dns.stderr).toBe("soltix: cannot reach no-such-host.invalid:7001 (http://no-such-host.invalid:7001): host name not found\n");
  });

  test("a mistyped SOLTIX_* variable is warned about, naming the closest real one; real ones are not", () => {
    const r = run(["status", "--node", node, "--json"], { SOLTIX_SERVR: "x", SOLTIX_STORAGE_DATADIR: "/tmp/x", SOLTIX_TOTALLY_UNRELATED_THING: "1", SOLTIX_LOG_LEVEL: "warn" });
    expect(r.code).toBe(0);
    JSON.parse(r.stdout);
    expect(r.stderr.split("\n").filter((l) => l !== "")).toEqual([
      "soltix: warning: SOLTIX_SERVR is not a soltix setting and is ignored; did you mean SOLTIX_SERVER?",
      "soltix: warning: SOLTIX_STORAGE_DATADIR is not a soltix setting and is ignored; did you mean SOLTIX_STORAGE_DATA_DIR?",
      "soltix: warning: SOLTIX_TOTALLY_UNRELATED_THING is not a soltix setting and is ignored (settings: soltix node --help)",
    ]);
  });
});
