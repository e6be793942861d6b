// The folder import table and the runtime-globals table of src/README.md, enforced: every import
// of a src/ file names a folder its row allows, the folder graph has no cycles, and Bun, Deno,
// process, timers, the wall clock, randomness and bare fetch appear only where the table allows.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = join(import.meta.dir, "..", "..", "src");
const README = readFileSync(join(SRC, "README.md"), "utf8");

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** The unit a file belongs to: its top folder under src/, or "main.ts". */
function unitOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes("/") ? rel.split("/")[0]! : rel;
}

function tableRows(after: string): string[][] {
  const start = README.indexOf(after);
  expect(start).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of README.slice(start).split("\n").slice(1)) {
    if (!line.startsWith("|")) {
      if (rows.length > 0) break;
      continue;
    }
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells[0] === "folder" || cells[0] === "global" || /^-+$/.test(cells[0]!)) continue;
    rows.push(cells);
  }
  return rows;
}

const names = (cell: string) => (cell === "—" ? [] : cell.split(",").map((s) => s.trim().replace(/`/g, "").replace(/\/$/, "").replace(/ \(.*\)$/, "")));

// folder → allowed folders
const allowed = new Map<string, Set<string>>();
for (const row of tableRows("## Folders")) {
  const unit = row[0]!.replace(/`/g, "").replace(/\/$/, "");
  allowed.set(unit, new Set(names(row[2]!)));
}

/** Source text without comments and string contents (so "Bun.serve" in a comment is not a use). */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1")
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) out.push(m[1]!);
  return out;
}

const all = files(SRC);

describe("architecture", () => {
  test("the table names every folder under src/ (and nothing else)", () => {
    const units = new Set(all.map(unitOf));
    expect([...units].sort()).toEqual([...allowed.keys()].sort());
  });

  test("every import follows the folder table", () => {
    const bad: string[] = [];
    for (const f of all) {
      const from = unitOf(f);
      if (from === "gen") continue;
      for (const spec of importsOf(f)) {
        if (!spec.startsWith(".")) continue; // packages and node: modules
        const target = unitOf(resolve(dirname(f), spec));
        if (target === from) continue;
        if (!allowed.get(from)!.has(target)) bad.push(`${relative(SRC, f)} imports ${spec} (${from} → ${target} is not in its row)`);
      }
    }
    expect(bad).toEqual([]);
  });

  test("the folder graph has no cycles", () => {
    const edges = new Map<string, Set<string>>();
    for (const f of all) {
      const from = unitOf(f);
      for (const spec of importsOf(f)) {
        if (!spec.startsWith(".")) continue;
        const to = unitOf(resolve(dirname(f), spec));
        if (to !== from) (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(to);
      }
    }
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (u: string, path: string[]) => {
      if (state.get(u) === "done") return;
      if (state.get(u) === "open") {
        cycles.push([...path.slice(path.indexOf(u)), u].join(" → "));
        return;
      }
      state.set(u, "open");
      for (const v of edges.get(u) ?? []) visit(v, [...path, u]);
      state.set(u, "done");
    };
    for (const u of edges.keys()) visit(u, []);
    expect(cycles).toEqual([]);
  });

  test("runtime globals appear only where the globals table allows", () => {
    const rules: Array<{ what: string; re: RegExp }> = [
      { what: "`Bun`", re: /(?<![\w.])Bun\./ },
      { what: "`Deno`", re: /(?<![\w.])Deno\./ },
      { what: "`process`", re: /(?<![\w.])process\./ },
      { what: "timers (`setTimeout`, `setInterval`, `clearTimeout`, `clearInterval`), `Date.now`, `new Date()`, `performance.now`, `AbortSignal.timeout`", re: /(?<![\w.])(?:setTimeout|setInterval|clearTimeout|clearInterval)\s*\(|Date\.now\s*\(|new Date\(\s*\)|performance\.now\s*\(|AbortSignal\.timeout\s*\(/ },
      { what: "`setImmediate`", re: /(?<![\w.])setImmediate\s*\(/ },
      { what: "`Math.random`, `crypto.getRandomValues`, `crypto.randomUUID`", re: /Math\.random\s*\(|(?<![\w.])crypto\.(?:getRandomValues|randomUUID)\s*\(/ },
      { what: "a bare `fetch(`", re: /(?<![\w.])fetch\s*\(/ },
    ];
    const table = new Map(tableRows("Runtime globals").map((r) => [r[0]!, names(r[1]!)]));
    for (const r of rules) expect(table.has(r.what)).toBe(true);
    const bad: string[] = [];
    for (const f of all) {
      const rel = relative(SRC, f);
      if (rel.startsWith("gen/")) continue;
      const lines = code(readFileSync(f, "utf8")).split("\n");
      for (const r of rules) {
        const places = table.get(r.what)!;
        const ok = places.some((p) => rel === p || rel.startsWith(`${p}/`));
        if (ok) continue;
        lines.forEach((line, i) => {
          if (r.re.test(line)) bad.push(`${rel}:${i + 1} uses ${r.what}: ${line.trim().slice(0, 100)}`);
        });
      }
    }
    expect(bad).toEqual([]);
  });
});
