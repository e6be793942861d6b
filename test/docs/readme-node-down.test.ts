// The README's "When a node is down" table says what holds; every row names the tests that check it.
// This keeps the table honest: each named test file exists and holds each quoted test title, and
// every row names at least one.

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

function rows(): Array<{ situation: string; checkedBy: string }> {
  const start = README.indexOf("## When a node is down");
  expect(start).toBeGreaterThan(0);
  const section = README.slice(start, README.indexOf("\n## ", start + 5));
  return section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| situation") && !l.startsWith("| ---"))
    .map((l) => {
      const cells = l.split(" | ");
      return { situation: cells[0]!.replace(/^\| /, ""), checkedBy: cells[cells.length - 1]!.replace(/ \|$/, "") };
    });
}

/** What the simulator checks, as the README names it → a line of the code that checks it. */
const SIM_CHECKS: Record<string, string> = {
  "quiet pauses": "after its pause (hints/queue should have brought it, no anti-entropy ran)",
  "completeness check": "serves the group without acknowledged",
  "router reads": "router read was served by ${id} while it was catching up",
  "id collisions": "a second process with node id ${n.id} was allowed to start",
  "data-dir collisions": "a second process was allowed to open ${n.id}'s data dir",
};

describe("README: When a node is down", () => {
  test("every row names tests that exist", () => {
    const table = rows();
    expect(table.length).toBeGreaterThanOrEqual(8);
    let lastFile: string | undefined;
    for (const r of table) {
      const files = [...r.checkedBy.matchAll(/`(test\/[^`]+\.ts)`/g)].map((m) => m[1]!);
      const titles = [...r.checkedBy.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.replace(/^… /, ""));
      const simulator = [...r.checkedBy.matchAll(/the simulator's ([a-z -]+)/g)].map((m) => m[1]!.trim());
      expect({ row: r.situation, checked: files.length > 0 || simulator.length > 0 || r.checkedBy.startsWith("same test") }).toEqual({ row: r.situation, checked: true });
      for (const f of files) expect({ row: r.situation, file: f, exists: existsSync(join(ROOT, f)) }).toEqual({ row: r.situation, file: f, exists: true });
      const inFiles = files.length > 0 ? files : lastFile !== undefined ? [lastFile] : [];
      for (const t of titles) {
        const found = inFiles.some((f) => readFileSync(join(ROOT, f), "utf8").includes(t));
        expect({ row: r.situation, title: t, found }).toEqual({ row: r.situation, title: t, found: true });
      }
      // The simulator's checks, by the code that performs them.
      const world = readFileSync(join(ROOT, "src/sim/world.ts"), "utf8");
      for (const what of simulator) {
        const marker = SIM_CHECKS[what];
        expect({ row: r.situation, what, known: marker !== undefined }).toEqual({ row: r.situation, what, known: true });
        expect({ row: r.situation, what, inWorld: world.includes(marker!) }).toEqual({ row: r.situation, what, inWorld: true });
      }
      if (files.length > 0) lastFile = files[files.length - 1];
    }
  });
});
