// A storage node in this process on a real socket, sharing an embedded metadata store with others
// (sync, auth tests): started from flags through launchNode (the binary's composition), stopped once.
// `workers` gives it the binary's Compute pool (Bun worker threads running src/worker.ts) instead of
// running the codec tasks inline.

import { loadConfig } from "../../src/config/config.ts";
import { launchNode, type StorageNode } from "../../src/app/node.ts";
import type { MemoryMetadataStore } from "../../src/adapters/memory-metadata.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { serveWithBun } from "../../src/runtime/bun/serve.ts";
import { bunWorkerPool, workerThreadsFor } from "../../src/runtime/bun/workers.ts";

const WORKER_ENTRY = new URL("../../src/worker.ts", import.meta.url);

export interface ServedNode {
  id: string;
  /** As registered (node.address when one is given). */
  url: string;
  /** Its own listening port, whatever address it registered. */
  directUrl: string;
  node: StorageNode;
  stop(): Promise<void>;
}

/** Starts node `id` with its data under `dir`; `closers` gets its stop (for afterAll). */
export async function startServedNode(metadata: MemoryMetadataStore, id: string, dir: string, flags: Record<string, string>, closers: Array<() => Promise<void>>, opts: { workers?: boolean } = {}): Promise<ServedNode> {
  const config = loadConfig({
    flags: new Map(Object.entries({ "node.id": id, "server.port": "0", "storage.data_dir": `${dir}/${id}`, "storage.sync.anti_entropy.interval": "1h", "storage.sync.anti_entropy.settle": "0s", ...flags })),
  });
  const platform = systemPlatform(serveWithBun, opts.workers === true ? { computePool: (threads) => bunWorkerPool(WORKER_ENTRY, workerThreadsFor(threads)) } : {});
  const running = await launchNode(config, { platform, logger: silentLogger, metadata });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await running.stop();
  };
  closers.push(stop);
  return { id, url: `http://${running.address}`, directUrl: `http://${config.server.host}:${running.port}`, node: running.node, stop };
}
