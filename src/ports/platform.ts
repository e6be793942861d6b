// Everything a node or router process needs from the world, one implementation of each port: the
// composition roots in app/ build from this and nothing else. The binary passes the real one
// (adapters/platform.ts with the runtime's server); the simulator passes its own per simulated node.

import type { PemSet } from "../base/pem.ts";
import type { Clock } from "./clock.ts";
import type { Compute } from "./compute.ts";
import type { FileSystem } from "./fs.ts";
import type { MetadataStore } from "./metadata.ts";
import type { PeerNet, PeerNetOptions } from "./peer-net.ts";
import type { Rng } from "./rng.ts";
import type { Serve, ServeGrpc } from "./serve.ts";

/** An exclusive hold on a data dir; released by the process ending, or by release(). */
export interface DirLock {
  release(): Promise<void>;
}

export interface Platform {
  readonly fs: FileSystem;
  readonly clock: Clock;
  readonly rng: Rng;
  /** Listens and hands requests to an app. */
  readonly serve: Serve;
  /** gRPC over HTTP/2 for the same services; absent where there is none (the simulator). */
  readonly serveGrpc?: ServeGrpc;
  /** The metadata store: etcd at `endpoints`, or a new embedded (in-process) store when there are none. */
  openMetadata(endpoints: readonly string[], tls: PemSet | undefined): MetadataStore;
  /** How this process calls nodes, with these credentials. */
  peerNet(o: PeerNetOptions): PeerNet;
  /**
   * Takes the data dir's exclusive lock, or throws a failed_precondition error naming the holder.
   * Throws an error with `code` (ENOSPC, EROFS, ...) when the lock file cannot be written.
   */
  lockDataDir(dir: string): Promise<DirLock>;
  /**
   * Worker threads for the engine's CPU-heavy tasks (0 threads = the runtime's default); absent where
   * the runtime has none (the tasks then run inline, e.g. in the simulator).
   */
  computePool?(threads: number): Compute;
  /** The process's memory as the OS and the JS heap see it; absent in the simulator. */
  memoryUsage?(): MemoryUsage;
  /** The process's resident memory alone (cheap: the engine reads it on every write). */
  residentBytes?(): number;
  /**
   * Asks the runtime to collect garbage now (after a flush released a memory store): a hint, so the
   * process's RSS follows the engine's budget rather than the collector's own pace.
   */
  collectGarbage?(): void;
}

export interface MemoryUsage {
  rssBytes: number;
  heapUsedBytes: number;
  /** Array buffers and other memory outside the JS heap. */
  externalBytes: number;
}
