// The data dir's exclusive lock: a LOCK file created exclusively (O_EXCL), holding the owner's pid,
// host and start time, as PostgreSQL's postmaster.pid does. A lock left by a process that is gone
// (kill -9, power loss) is stale and taken over; one held by a live process — or by another node of
// this process — refuses the start with the holder named. A holder on another host cannot be checked
// and always refuses. Release removes the file.

import * as fsp from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { kill, pid } from "node:process";
import { SoltixError, errorMessage } from "../base/errors.ts";
import type { DirLock } from "../ports/platform.ts";
import { unwritableCode } from "../ports/fs.ts";

export const LOCK_FILE = "LOCK";

/** Dirs locked by this process (two nodes of one process share the pid, so the file cannot tell). */
const heldHere = new Set<string>();

interface LockInfo {
  pid: number;
  host: string;
  started_at: string;
}

function alive(p: number): boolean {
  try {
    kill(p, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM"; // exists, owned by someone else
  }
}

function held(dir: string, info: LockInfo | undefined, why: string): SoltixError {
  const who = info === undefined ? "another process" : `pid ${info.pid} on ${info.host} (since ${info.started_at})`;
  return new SoltixError(
    "failed_precondition",
    `storage.data_dir ${dir} is locked by ${who}: ${why}. Stop that process, or give this one its own storage.data_dir`,
  );
}

async function readInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const o = JSON.parse(await fsp.readFile(path, "utf8")) as Partial<LockInfo>;
    if (typeof o.pid === "number" && typeof o.host === "string") return { pid: o.pid, host: o.host, started_at: String(o.started_at ?? "") };
  } catch {
    // unreadable or half-written: judged by age below
  }
  return undefined;
}

export async function lockDataDir(dir: string, nowIso: () => string): Promise<DirLock> {
  const abs = resolve(dir);
  if (heldHere.has(abs)) throw held(dir, { pid, host: hostname(), started_at: "this process" }, "another node of this process uses it");
  const path = `${abs}/${LOCK_FILE}`;
  const mine: LockInfo = { pid, host: hostname(), started_at: nowIso() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(path, "wx");
      try {
        await fh.writeFile(`${JSON.stringify(mine)}\n`);
        await fh.sync();
      } catch (e) {
        // A full disk can create the name but not hold its content: leave no empty lock behind.
        await fh.close().catch(() => {});
        await fsp.rm(path, { force: true }).catch(() => {});
        throw e;
      }
      await fh.close();
      heldHere.add(abs);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          heldHere.delete(abs);
          await fsp.rm(path, { force: true }).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
    }
    const info = await readInfo(path);
    if (info === undefined) {
      // A lock file without content: its writer died between create and write, or is writing now.
      const st = await fsp.stat(path).catch(() => undefined);
      if (st !== undefined && Date.now() - st.mtimeMs < 5_000) throw held(dir, undefined, "its lock file is being written");
    } else if (info.host !== mine.host) {
      throw held(dir, info, "a process on another host (cannot check whether it is alive)");
    } else if (info.pid !== pid && alive(info.pid)) {
      throw held(dir, info, "that process is running");
    }
    // Stale: move it aside (one of two racing starts wins the rename), then try again.
    try {
      await fsp.rename(path, `${path}.stale-${pid}`);
      await fsp.rm(`${path}.stale-${pid}`, { force: true });
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") continue;
      if (unwritableCode(e) !== undefined) throw e; // a full or read-only disk: the node starts read-only
      throw new SoltixError("unavailable", `cannot replace the stale lock ${path}: ${errorMessage(e)}`);
    }
  }
  throw held(dir, await readInfo(path), "the lock changed hands while starting");
}
