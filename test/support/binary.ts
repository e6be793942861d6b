// The real compiled binary in tests: built once per run (scripts/build.sh), started on port 0 from a
// directory without node_modules, its port read from the "listening" line on stdout.

import { mkdirSync, copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "..", "..");
let built = false;

/** Builds dist/soltix once per test process and copies it outside the repo (no node_modules near it). */
export function binaryPath(): string {
  const outside = join("/tmp", `soltix-bin-${process.pid}`);
  if (!built) {
    const r = Bun.spawnSync(["bash", join(ROOT, "scripts", "build.sh")], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
    mkdirSync(outside, { recursive: true });
    copyFileSync(join(ROOT, "dist", "soltix"), join(outside, "soltix"));
    chmodSync(join(outside, "soltix"), 0o755);
    built = true;
  }
  return join(outside, "soltix");
}

export interface RunningBinary {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  /** The parsed ready line ({"event":"listening",...} or {"event":"dev-ready",...}). */
  ready: Record<string, any>;
  url: string;
  stderr(): string;
  kill9(): Promise<void>;
  stop(): Promise<number>;
}

/** `deno run -A src/main.ts`: the sources on Deno (the same command line as the binary). */
export function denoCommand(): string[] {
  return [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A", "--quiet", join(ROOT, "src", "main.ts")];
}

export async function startBinary(args: string[], env: Record<string, string> = {}, command?: string[]): Promise<RunningBinary> {
  // SOLTIX_BIN_CMD="bun /path/src/main.ts" runs the sources instead (to compare with the binary).
  const cmd = command ?? process.env.SOLTIX_BIN_CMD?.split(" ") ?? [binaryPath()];
  const proc = Bun.spawn([...cmd, ...args], {
    cwd: command === undefined ? "/tmp" : ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let errText = "";
  void (async () => {
    const errReader = proc.stderr.getReader();
    for (;;) {
      const { value, done } = await errReader.read();
      if (done) break;
      errText += new TextDecoder().decode(value);
    }
  })();
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + (command === undefined ? 15_000 : 60_000);
  for (;;) {
    if (Date.now() > deadline) {
      proc.kill(9);
      throw new Error(`binary did not report listening in time; stderr: ${errText}`);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`binary exited before listening (code ${await proc.exited}); stderr: ${errText}`);
    out += new TextDecoder().decode(value);
    const complete = out.split("\n").slice(0, -1); // the last piece may be a partial line
    const line = complete.find((l) => l.includes('"event":"listening"') || l.includes('"event":"dev-ready"'));
    if (line !== undefined) {
      const ready = JSON.parse(line) as Record<string, any>;
      const port = (ready.port as number | undefined) ?? Number(String(ready.router).split(":").pop());
      reader.releaseLock();
      return {
        proc,
        port,
        ready,
        url: `http://127.0.0.1:${port}`,
        stderr: () => errText,
        async kill9() {
          proc.kill(9);
          await proc.exited;
        },
        async stop() {
          proc.kill("SIGTERM");
          return proc.exited;
        },
      };
    }
  }
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    return { status: res.status, json: text };
  }
}

/** Runs a one-shot soltix command (status, checksum, tree, repair) and returns its exit code and output. */
export function cli(args: string[], timeoutMs = 60_000): { code: number; out: string } {
  const r = Bun.spawnSync([binaryPath(), ...args], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

/** Binaries a test file starts, all killed at its end. */
export function binaryPool(): { start(args: string[], command?: string[]): Promise<RunningBinary>; killAll(): Promise<void> } {
  const procs: RunningBinary[] = [];
  return {
    async start(args, command) {
      const p = await startBinary(args, {}, command);
      procs.push(p);
      return p;
    },
    async killAll() {
      for (const p of procs) await p.kill9().catch(() => {});
    },
  };
}

/** Every point of `ids` through a router's paged query (`/v1/databases/:db/collections/:c/query`), as "id/time" strings. */
export async function readAllThroughRouter(routerUrl: string, db: string, collection: string, ids: readonly string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  let cursor = "";
  do {
    const r = await fetch(`${routerUrl}/v1/databases/${db}/collections/${collection}/query?ids=${ids.join(",")}&limit=10000${cursor === "" ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
    if (r.status !== 200) throw new Error(`router query answered ${r.status}: ${await r.text()}`);
    const body = (await r.json()) as { points: Array<{ id: string; time: string }>; next_cursor: string };
    for (const p of body.points) seen.add(`${p.id}/${p.time}`);
    cursor = body.next_cursor;
  } while (cursor !== "");
  return seen;
}
