// The entry: `soltix <command>`. The compiled binary runs on Bun, with Bun's server, worker threads for
// the engine's codec tasks (src/worker.ts, a second entrypoint of the build) and Bun's collector (a
// full collection after a flush released a memory store, so RSS follows the budget). `deno run -A
// src/main.ts …` runs the same command line on Deno (DESIGN §8) with Deno.serve, codec tasks inline.

import { runCli } from "./cli/main.ts";
import { serveWithBun } from "./runtime/bun/serve.ts";
import { bunWorkerPool, workerThreadsFor } from "./runtime/bun/workers.ts";
import { collectGarbage } from "./runtime/bun/gc.ts";

const WORKER_ENTRY = new URL("./worker.ts", import.meta.url);
/** Loaded only on Deno (a name, not a literal: the Bun build and tsc leave the Deno adapter alone). */
const DENO_SERVE_MODULE = "./runtime/deno/serve.ts";

if ((globalThis as Record<string, unknown>)["Deno"] !== undefined) {
  const { serveWithDeno } = (await import(DENO_SERVE_MODULE)) as { serveWithDeno: typeof serveWithBun };
  runCli(process.argv.slice(2), serveWithDeno, {});
} else {
  runCli(process.argv.slice(2), serveWithBun, {
    computePool: (threads) => bunWorkerPool(WORKER_ENTRY, workerThreadsFor(threads)),
    collectGarbage,
  });
}
