// A storage node in this process on a real socket, sharing an embedded metadata store with others
// (sync, auth tests): started from flags through launchNode (the binary's composition), stopped once.
// `workers` gives it the binary's Compute pool (Bun worker threads running src/worker.ts) instead of
// running the codec tasks inline.

import { loadConfig } from "../../src/config/config.ts";
import { launchNode, type StorageNode } from "../../src/app/node.ts";
import { startRouter, type Router } from "../../src/app/router.ts";
import { until } from "./wait.ts";
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

/**
 * A router in this process on a real socket over the nodes registered in `metadata` (flags on top of
 * port 0), stopped with `closers`; resolves once its /readyz answers 200 (it sees enough nodes).
 */
export async function startServedRouter(metadata: MemoryMetadataStore, flags: Record<string, string>, closers: Array<() => Promise<void>>): Promise<{ url: string; router: Router }> {
  const config = loadConfig({ flags: new Map(Object.entries({ "server.port": "0", ...flags })) });
  const router = await startRouter(config, { platform: systemPlatform(), logger: silentLogger, metadata });
  const served = serveWithBun(router.app.fetch, "127.0.0.1", 0);
  closers.push(async () => {
    await served.stop();
    await router.close();
  });
  const url = `http://127.0.0.1:${served.port}`;
  await until("router ready", async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
  return { url, router };
}
