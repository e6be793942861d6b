// The compiled entry: `soltix <command>` on Bun. Everything runtime-specific it needs: the server,
// worker threads (src/worker.ts, a second entrypoint of the build) for the engine's codec tasks, and
// Bun's collector (a full collection after a flush released a memory store, so RSS follows the budget).

import { runCli } from "./cli/main.ts";
import { serveWithBun } from "./runtime/bun/serve.ts";
import { bunWorkerPool, workerThreadsFor } from "./runtime/bun/workers.ts";
import { collectGarbage } from "./runtime/bun/gc.ts";

const WORKER_ENTRY = new URL("./worker.ts", import.meta.url);

runCli(process.argv.slice(2), serveWithBun, {
  computePool: (threads) => bunWorkerPool(WORKER_ENTRY, workerThreadsFor(threads)),
  collectGarbage,
});
