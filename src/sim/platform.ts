// The platform of one simulated process: its machine's crashable file system, its process clock,
// the seed's randomness, the simulated network (serving = attaching the app at the machine's
// address) and a session on the shared embedded metadata store. Data-dir locks are per machine and
// die with the process that took them.

import { SoltixError } from "../base/errors.ts";
import type { MemoryMetadataStore } from "../adapters/memory-metadata.ts";
import type { MetadataStore } from "../ports/metadata.ts";
import type { DirLock, Platform } from "../ports/platform.ts";
import type { ServeEnv } from "../ports/serve.ts";
import type { Rng } from "../ports/rng.ts";
import type { ProcessClock } from "./sim-clock.ts";
import type { SimFs } from "./sim-fs.ts";
import { SimNet } from "./sim-net.ts";

/** Data-dir locks of the whole simulation: (machine, dir) → the process clock of the holder. */
export class SimLocks {
  private readonly held = new Map<string, ProcessClock>();

  acquire(machine: string, dir: string, holder: ProcessClock): DirLock {
    const key = `${machine}:${dir}`;
    const cur = this.held.get(key);
    if (cur !== undefined && cur.alive && cur !== holder) {
      throw new SoltixError("failed_precondition", `storage.data_dir ${dir} is locked by another process on ${machine}: that process is running`);
    }
    this.held.set(key, holder);
    return {
      release: async () => {
        if (this.held.get(key) === holder) this.held.delete(key);
      },
    };
  }
}

export interface SimProcess {
  platform: Platform;
  /** The metadata sessions this process opened (closed when it crashes: a dead process watches nothing). */
  sessions: MetadataStore[];
}

export function simProcess(o: { machine: string; fs: SimFs; clock: ProcessClock; rng: Rng; net: SimNet; metadata: MemoryMetadataStore; locks: SimLocks; residentBytes?: () => number }): SimProcess {
  const sessions: MetadataStore[] = [];
  const platform: Platform = {
    fs: o.fs,
    clock: o.clock,
    rng: o.rng,
    serve: (appFetch) => {
      o.net.attach(o.machine, { fetch: (req, env) => appFetch(req, (env ?? {}) as ServeEnv) }, o.clock.machine);
      return {
        port: 1,
        stop: async () => o.net.detach(o.machine),
      };
    },
    openMetadata: () => {
      const s = o.metadata.session(o.clock);
      sessions.push(s);
      return s;
    },
    peerNet: () => o.net.for(o.machine, o.clock.machine),
    lockDataDir: async (dir) => o.locks.acquire(o.machine, dir, o.clock),
    ...(o.residentBytes === undefined ? {} : { residentBytes: o.residentBytes }),
  };
  return { platform, sessions };
}

export { SimNet };
