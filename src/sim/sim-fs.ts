// A crashable in-memory FileSystem. Durability follows the port's contract exactly: file bytes are
// durable after sync(), names (create, rename, remove) after syncDir() of their directory. crash()
// keeps only what was durable — optionally with a torn tail (part of the unsynced appends, possibly
// garbled) — and makes every handle of the old incarnation fail, so a crashed process can touch
// nothing afterwards.

import type { AppendFile, FileSystem } from "../ports/fs.ts";
import type { Rng } from "./rng.ts";

interface SimFile {
  data: Uint8Array;
  /** Contents as of the last sync (what survives a crash). */
  synced: Uint8Array;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file ${path}`), { code: "ENOENT" });
}

export class SimFs implements FileSystem {
  /** The current namespace: what the running process sees. */
  private cur = new Map<string, SimFile>();
  /** The durable namespace: names whose creation/rename was followed by syncDir. */
  private dur = new Map<string, SimFile>();
  private dirs = new Set<string>(["/"]);
  private generation = 0;
  /** Simulated latency of an append or a sync (so a crash can land between them). */
  latency: () => Promise<void> = async () => {};

  private alive(gen: number): void {
    if (gen !== this.generation) throw new Error("I/O after crash (process is dead)");
  }

  async mkdirp(dir: string): Promise<void> {
    for (let d = dir; d !== "/" && d !== ""; d = dirOf(d)) this.dirs.add(d);
  }

  async list(dir: string): Promise<string[]> {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    const out: string[] = [];
    for (const p of this.cur.keys()) if (p.startsWith(prefix) && !p.slice(prefix.length).includes("/")) out.push(p.slice(prefix.length));
    for (const d of this.dirs) if (d.startsWith(prefix) && !d.slice(prefix.length).includes("/")) out.push(d.slice(prefix.length));
    return out.sort();
  }

  async readFile(path: string): Promise<Uint8Array> {
    const f = this.cur.get(path);
    if (f === undefined) throw enoent(path);
    return f.data.slice();
  }

  async readRange(path: string, position: number, length: number): Promise<Uint8Array> {
    const f = this.cur.get(path);
    if (f === undefined) throw enoent(path);
    return f.data.slice(position, position + length);
  }

  async size(path: string): Promise<number> {
    const f = this.cur.get(path);
    if (f === undefined) throw enoent(path);
    return f.data.length;
  }

  async create(path: string): Promise<AppendFile> {
    const gen = this.generation;
    const f: SimFile = { data: new Uint8Array(0), synced: new Uint8Array(0) };
    this.cur.set(path, f);
    return {
      append: async (bytes) => {
        this.alive(gen);
        await this.latency();
        this.alive(gen);
        const next = new Uint8Array(f.data.length + bytes.length);
        next.set(f.data);
        next.set(bytes, f.data.length);
        f.data = next;
      },
      sync: async () => {
        this.alive(gen);
        await this.latency();
        this.alive(gen);
        f.synced = f.data.slice();
      },
      close: async () => {},
    };
  }

  async truncate(path: string, length: number): Promise<void> {
    const f = this.cur.get(path);
    if (f === undefined) throw enoent(path);
    f.data = f.data.slice(0, length);
    f.synced = f.data.slice(); // the real adapter fsyncs after truncating
  }

  async rename(from: string, to: string): Promise<void> {
    const f = this.cur.get(from);
    if (f === undefined) throw enoent(from);
    this.cur.delete(from);
    this.cur.set(to, f);
  }

  async remove(path: string): Promise<void> {
    this.cur.delete(path);
  }

  async syncDir(dir: string): Promise<void> {
    const prefix = `${dir}/`;
    const direct = (p: string) => p.startsWith(prefix) && !p.slice(prefix.length).includes("/");
    for (const p of [...this.dur.keys()]) if (direct(p) && !this.cur.has(p)) this.dur.delete(p);
    for (const [p, f] of this.cur) if (direct(p)) this.dur.set(p, f);
  }

  /**
   * The process dies: the namespace falls back to durable names with their synced bytes. With `rng`,
   * a file with unsynced appends may keep part of them (a torn write), sometimes with garbage at the end.
   * Returns how many files were left torn, and how many of those garbled.
   */
  crash(rng?: Rng): { torn: number; garbled: number } {
    this.generation++;
    const out = { torn: 0, garbled: 0 };
    const next = new Map<string, SimFile>();
    for (const [p, f] of this.dur) {
      let data = f.synced.slice();
      const extra = f.data.length - f.synced.length;
      if (rng !== undefined && extra > 0 && rng.chance(0.3) && startsWith(f.data, f.synced)) {
        const keep = 1 + rng.int(extra);
        data = f.data.slice(0, f.synced.length + keep);
        out.torn++;
        if (rng.chance(0.5)) {
          data[data.length - 1 - rng.int(Math.min(keep, 8))]! ^= 1 + rng.int(255);
          out.garbled++;
        }
      }
      next.set(p, { data, synced: data.slice() });
    }
    this.cur = next;
    this.dur = new Map(next);
    return out;
  }
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}
