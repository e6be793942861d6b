// `soltix <command>`: dispatches to subcommands with the runtime's platform; prints clear errors
// (never a stack trace for an operating condition) and exits non-zero on failure. The runtime entry
// (src/main.ts) only supplies the server.

import { SoltixError, errorMessage } from "../base/errors.ts";
import { configHelp } from "../config/config.ts";
import { SOLTIX_VERSION } from "../app/node.ts";
import type { Serve } from "../ports/serve.ts";
import type { Platform } from "../ports/platform.ts";
import { systemPlatform } from "../adapters/platform.ts";
import { parseArgs } from "./args.ts";
import { runNode } from "./node-command.ts";
import { runRouter } from "./router-command.ts";
import { runDev } from "./dev-command.ts";
import { runChecksum, runCluster, runRepair, runStatus, runTree } from "./ops-commands.ts";

const USAGE = `soltix ${SOLTIX_VERSION} — storage node of a replicated time-series database

usage:
  soltix node --config FILE [--key.path VALUE ...]   run a storage node
  soltix router --config FILE [--key.path VALUE ...] run a router (Soltix HTTP write API, fan-out)
  soltix dev [--nodes 3] [--dir DIR] [--port 8080]   a local cluster (router + nodes) in one process
  soltix status   --node ADDR                        groups, state, sync progress, last anti-entropy
  soltix checksum --nodes A,B[,C] --group G [--window YYYY-MM-DD]   window checksums side by side
  soltix tree     --nodes A,B --group G [--window YYYY-MM-DD]       Merkle roots and the differing ranges
  soltix repair   --node ADDR --group G              run anti-entropy for a group now and show the result
  soltix cluster status|decommission|remove|replace|rebalance [--server ADDR]   membership (any node answers)
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

const ROUTER_HELP = `usage: soltix router --config FILE [--key.path VALUE ...]

Runs a router: the Soltix-compatible HTTP write API
  POST /v1/databases/:db/collections/:coll/write        one flat JSON point {"id","time",...fields}
  POST /v1/databases/:db/collections/:coll/write/batch  {"points":[...]} (at most 10000)
  GET  /v1/databases/:db/collections/:coll/query?ids=a,b[&start_time=T&end_time=T&limit=N&cursor=C&consistency=one|quorum|all]
       (T: RFC 3339 or integer ns; a page ends with next_cursor; read.consistency is the default)
  Connect soltix.v1.RouterService/Write, /healthz, /readyz
Each point goes to its group and to every node of the group (queue.type: direct = the node's Write
RPC, nats = JetStream subject soltix.write.node.<nodeId>). Same config keys as a node; port 8080.

${configHelp()}
`;

const DEV_HELP = `usage: soltix dev [--nodes 3] [--dir DIR] [--port 8080] [--log.level warn]

Starts a router and N storage nodes in one process on the embedded defaults (metadata in memory,
direct delivery; no etcd or NATS needed). Nodes listen on 7001.. and the router on --port
(--port 0: any free ports). Data goes to DIR (default: a new temp dir). Ctrl-C stops it.
`;

const CLUSTER_HELP = `usage:
  soltix cluster status                              nodes, groups per node, under-replicated groups, moves
  soltix cluster decommission --node ID              move every group off a live node (then it holds nothing)
  soltix cluster remove --node ID                    a dead node: its copies are re-placed now
  soltix cluster replace --node OLD --with NEW       a new registered node takes a dead node's place (its groups)
  soltix cluster rebalance                           plan now: the changes toward the desired placement

Asks any node: --server ADDR (default 127.0.0.1:7001, or SOLTIX_SERVER). --json prints JSON.
A new node joins by starting with the cluster's etcd: the planner gives it its share by itself.
Refused, with the reason: a decommission that would leave fewer member nodes than
replication.factor, an unknown node id, a second operation on a node already in one, removing or
replacing a node that is still registered. Also takes --token-file F and --ca-file F.
`;

const OPS_HELP = `usage:
  soltix status   --node ADDR [--json]
  soltix checksum --nodes A,B[,C] --group G [--window YYYY-MM-DD|NS]
  soltix tree     --nodes A,B --group G [--window YYYY-MM-DD|NS]
  soltix repair   --node ADDR --group G [--json]

Every command also takes --token-file F (or SOLTIX_AUTH_TOKEN_FILE) when nodes require a bearer
token, and --ca-file F (or SOLTIX_TLS_CA_FILE) to trust a private CA and dial https.
ADDR is host:port (e.g. 127.0.0.1:7001) or a URL. checksum and tree exit 3 when replicas differ;
repair exits 3 when a replica could not be compared (partial).
`;

/** What a runtime adds to the system platform: worker threads, a garbage collection hint. */
export type RuntimeExtras = Pick<Platform, "computePool" | "collectGarbage">;

async function dispatch(argv: string[], serve: Serve, runtime: RuntimeExtras): Promise<number> {
  const platform = systemPlatform(serve, runtime);
  const [command, ...rest] = argv;
  const args = parseArgs(rest, new Set(["json"]));
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
      await runNode(args, process.env, platform);
      return -1; // keeps running
    case "router":
      if (args.help) {
        process.stdout.write(ROUTER_HELP);
        return 0;
      }
      await runRouter(args, process.env, platform);
      return -1;
    case "dev":
      if (args.help) {
        process.stdout.write(DEV_HELP);
        return 0;
      }
      await runDev(args, platform);
      return -1;
    case "status":
    case "checksum":
    case "tree":
    case "repair": {
      if (args.help) {
        process.stdout.write(OPS_HELP);
        return 0;
      }
      const run = { status: runStatus, checksum: runChecksum, tree: runTree, repair: runRepair }[command];
      return run(parseArgs(rest, new Set(["json"])), platform);
    }
    case "cluster":
      if (args.help) {
        process.stdout.write(CLUSTER_HELP);
        return 0;
      }
      return runCluster(args, platform);
    default:
      process.stderr.write(`soltix: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

/**
 * Runs the command line; exits when a one-shot command ends (servers keep the process alive). The
 * runtime supplies the server and, where it has them, a compute pool for the nodes' engines and a
 * garbage collection hint.
 */
export function runCli(argv: string[], serve: Serve, runtime: RuntimeExtras = {}): void {
  dispatch(argv, serve, runtime).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (e: unknown) => {
      if (e instanceof SoltixError) process.stderr.write(`soltix: ${e.message}\n`);
      // A node's answer (a refusal with its reason, an unreachable node): the message, no stack.
      else if (e instanceof Error && e.name === "ConnectError") process.stderr.write(`soltix: ${e.message}\n`);
      else process.stderr.write(`soltix: fatal: ${errorMessage(e)}\n${e instanceof Error ? e.stack ?? "" : ""}\n`);
      process.exit(1);
    },
  );
}
