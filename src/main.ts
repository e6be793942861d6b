// The compiled entry: `soltix <command>`. Dispatches to subcommands; prints clear errors (never a
// stack trace for an operating condition) and exits non-zero on failure.

import { SoltixError, errorMessage } from "./base/errors.ts";
import { configHelp } from "./config/config.ts";
import { SOLTIX_VERSION } from "./app/node.ts";
import { parseArgs } from "./cli/args.ts";
import { runNode } from "./cli/node-command.ts";
import { serveWithBun } from "./runtime/bun/serve.ts";

const USAGE = `soltix ${SOLTIX_VERSION} — storage node of a replicated time-series database

usage:
  soltix node --config FILE [--key.path VALUE ...]   run a storage node
  soltix version                                     print the version
  soltix <command> --help                            help for a command

`;

const NODE_HELP = `usage: soltix node --config FILE [--key.path VALUE ...]

Runs a storage node: WAL → memory store → segments, Connect-RPC + HTTP on server.port.
Every config key can be set in the YAML file, as an environment variable, or as a flag
(flags win over env, env over file, file over defaults):

  flag                                     env                                        default / meaning
${configHelp()}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const args = parseArgs(rest);
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return 0;
    case "version":
    case "--version":
      if (args.help) process.stdout.write("usage: soltix version\n\nPrints the version.\n");
      else process.stdout.write(`soltix ${SOLTIX_VERSION}\n`);
      return 0;
    case "node":
      if (args.help) {
        process.stdout.write(NODE_HELP);
        return 0;
      }
      await runNode(args, process.env, serveWithBun);
      return -1; // keeps running
    default:
      process.stderr.write(`soltix: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    if (e instanceof SoltixError) process.stderr.write(`soltix: ${e.message}\n`);
    else process.stderr.write(`soltix: fatal: ${errorMessage(e)}\n${e instanceof Error ? e.stack ?? "" : ""}\n`);
    process.exit(1);
  },
);
