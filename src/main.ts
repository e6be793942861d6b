// The compiled entry: `soltix <command>` on Bun. Everything runtime-specific it needs: the server,
// and worker threads (src/worker.ts, a second entrypoint of the build) for the engine's codec tasks.

import { runCli } from "./cli/main.ts";
import { serveWithBun } from "./runtime/bun/serve.ts";
import { bunWorkerPool, workerThreadsFor } from "./runtime/bun/workers.ts";

const WORKER_ENTRY = new URL("./worker.ts", import.meta.url);

runCli(process.argv.slice(2), serveWithBun, (threads) => bunWorkerPool(WORKER_ENTRY, workerThreadsFor(threads)));
