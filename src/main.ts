// The compiled entry: `soltix <command>` on Bun. Everything runtime-specific it needs is the server.

import { runCli } from "./cli/main.ts";
import { serveWithBun } from "./runtime/bun/serve.ts";

runCli(process.argv.slice(2), serveWithBun);
