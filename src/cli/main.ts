// `soltix <command>`: dispatches to subcommands with the runtime's platform; prints clear errors
// (never a stack trace for an operating condition) and exits non-zero on failure. The runtime entry
// (src/main.ts) only supplies the server.

import { ConnectError } from "@connectrpc/connect";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { configHelp, unknownEnvWarnings } from "../config/config.ts";
import { SOLTIX_VERSION } from "../app/node.ts";
import type { Serve } from "../ports/serve.ts";
import type { Platform } from "../ports/platform.ts";
import { systemPlatform } from "../adapters/platform.ts";
import { parseArgs } from "./args.ts";
import { runNode } from "./node-command.ts";
import { ROUTER_DEFAULTS, runRouter } from "./router-command.ts";
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

/** Keys a router does not read, and a node does not: left out of each one's --help. */
const ROUTER_SKIPS = ["node.address", "storage.", "cluster."];
const NODE_SKIPS = ["read.", "ingest.", "replication.strategy", "replication.min_replicas_for_write", "replication.hint_buffer_bytes"];

const KEYS_INTRO = `Every config key can be set in the YAML file (nested: server: { host: 0.0.0.0 }), as an environment
variable, or as a flag; flags win over env, env over file, file over defaults:

  flag                                     env                                        default / meaning`;

const NODE_HELP = `usage: soltix node --config FILE [--key.path VALUE ...]

Runs a storage node: WAL → memory store → segments; Connect-RPC + HTTP on server.port (/metrics,
/healthz, /readyz, the status page at /), gRPC on server.grpc_port.
${KEYS_INTRO}
${configHelp({ skip: NODE_SKIPS })}
`;

const ROUTER_HELP = `usage: soltix router --config FILE [--key.path VALUE ...]

Runs a router on server.port (default 8080):
  POST /v1/databases/:db/collections/:coll/write        one flat JSON point {"id","time",...fields}
  POST /v1/databases/:db/collections/:coll/write/batch  {"points":[...]} (at most 10000); ?precision=ns|us|ms|s
  GET  /v1/databases/:db/collections/:coll/query?ids=a,b[&start_time=T&end_time=T&limit=N&cursor=C&consistency=one|quorum|all]
  DELETE /v1/databases/:db/collections/:coll/points?ids=a,b&start_time=T&end_time=T
  POST /write?db=DB, /api/v2/write?bucket=DB           Influx line protocol (gzip, precision)
  POST /api/v1/write?db=DB                              Prometheus remote_write 1.0
  Connect soltix.v1.RouterService/Write (gRPC on server.grpc_port), /, /api/status, /metrics, /healthz, /readyz
Each point goes to its group and to every node of the group (queue.type: direct = the node's Write
RPC, nats = JetStream subject soltix.write.node.<nodeId>).
${KEYS_INTRO}
${configHelp({ skip: ROUTER_SKIPS, defaults: ROUTER_DEFAULTS })}
`;

const DEV_HELP = `usage: soltix dev [--nodes 3] [--dir DIR] [--port 8080] [--log.level warn]

Starts a router and N storage nodes in one process on the embedded defaults (metadata in memory,
direct delivery; no etcd or NATS needed). Nodes listen on 7001.. and the router on --port
(--port 0: any free ports); gRPC on each port + 1000. Data goes to DIR (default: a new temp dir).
Ctrl-C stops it.
`;

const REACH = `Reaching nodes: --token-file F (or SOLTIX_AUTH_TOKEN_FILE) when they require a bearer token;
--ca-file F (or SOLTIX_TLS_CA_FILE) to trust a private CA and dial https. ADDR is host:port
(e.g. 127.0.0.1:7001) or a URL. --json prints only JSON on stdout (messages go to stderr).`;

const CLUSTER_REACH = `Asks any node: --server ADDR (default 127.0.0.1:7001, or SOLTIX_SERVER).
${REACH}`;

const COMMAND_HELP: Record<string, string> = {
  status: `usage: soltix status --node ADDR [--json]

A node's groups: their state (serving, catching up, joining), points, newest point, startup sync
progress and the last anti-entropy results; peers it sees down.
${REACH}
`,
  checksum: `usage: soltix checksum --nodes A,B[,C] --group G [--window YYYY-MM-DD|NS]

The flat SHA-256 checksum and point count of every window of group G (or one window) on each node,
side by side. Exits 3 when replicas differ.
${REACH}
`,
  tree: `usage: soltix tree --nodes A,B --group G [--window YYYY-MM-DD|NS]

The Merkle roots of two nodes for group G's windows and, where they differ, the time ranges and
device buckets the descent narrows the difference to. Exits 3 when replicas differ.
${REACH}
`,
  repair: `usage: soltix repair --node ADDR --group G [--json]

Runs anti-entropy for group G on the node now (with every other replica) and prints each window's
result: in sync, repaired (how, how many points, bytes, round trips), or partial/failed.
Exits 3 when a replica could not be compared (partial or failed).
${REACH}
`,
};

const CLUSTER_HELP = `usage:
  soltix cluster status                              nodes, groups per node, under-replicated groups, moves
  soltix cluster decommission --node ID              move every group off a live node (then it holds nothing)
  soltix cluster remove --node ID                    a dead node: its copies are re-placed now
  soltix cluster replace --node OLD --with NEW       a new registered node takes a dead node's place (its groups)
  soltix cluster rebalance                           plan now: the changes toward the desired placement
  soltix cluster <subcommand> --help                 help for one of them

A new node joins by starting with the cluster's etcd: the planner gives it its share by itself.
${CLUSTER_REACH}
`;

const CLUSTER_COMMAND_HELP: Record<string, string> = {
  status: `usage: soltix cluster status [--server ADDR] [--json]

Every node (state, registered, groups held and joining, address, down since), the groups with fewer
than replication.factor copies and why, every move with windows done/total, bytes, rate, ETA and
last error (STALLED when it made no progress for a minute), and what the planner waits for.
${CLUSTER_REACH}
`,
  decommission: `usage: soltix cluster decommission --node ID [--server ADDR] [--json]

Moves every group off a live member node; it ends holding nothing and leaves the placement. Refused
when it would leave fewer member nodes than replication.factor, for an unknown id, or for a node
already in an operation. Progress: soltix cluster status.
${CLUSTER_REACH}
`,
  remove: `usage: soltix cluster remove --node ID [--server ADDR] [--json]

A dead node (not registered) leaves the cluster now: its copies are re-placed on the other members
from the remaining replicas (without waiting for cluster.dead_node_timeout). Refused for a node that
is still registered (decommission it instead) or an unknown id.
${CLUSTER_REACH}
`,
  replace: `usage: soltix cluster replace --node OLD --with NEW [--server ADDR] [--json]

A new, registered node NEW takes dead node OLD's place: exactly OLD's groups move to it (from the
remaining replicas). Refused when OLD is still registered, NEW is not, or either is in an operation.
${CLUSTER_REACH}
`,
  rebalance: `usage: soltix cluster rebalance [--server ADDR] [--json]

Plans now: prints the changes toward the desired placement (rendezvous over the member nodes) and
what blocks others; the elected planner applies them.
${CLUSTER_REACH}
`,
};

/** What a runtime adds to the system platform: worker threads, a garbage collection hint. */
export type RuntimeExtras = Pick<Platform, "computePool" | "collectGarbage">;

async function dispatch(argv: string[], serve: Serve, runtime: RuntimeExtras): Promise<number> {
  const platform = systemPlatform(serve, runtime);
  const [command, ...rest] = argv;
  const args = parseArgs(rest, new Set(["json"]));
  // A mistyped variable would otherwise be silently ignored.
  for (const w of unknownEnvWarnings(process.env)) process.stderr.write(`soltix: warning: ${w}\n`);
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
        process.stdout.write(COMMAND_HELP[command]!);
        return 0;
      }
      const run = { status: runStatus, checksum: runChecksum, tree: runTree, repair: runRepair }[command];
      return run(parseArgs(rest, new Set(["json"])), platform);
    }
    case "cluster":
      if (args.help) {
        process.stdout.write(CLUSTER_COMMAND_HELP[args.positional[0] ?? ""] ?? CLUSTER_HELP);
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
      // An unreachable node (the cause names it: app/ops.ts), or a node's answer (a refusal with its
      // reason): the message, no stack.
      else if (e instanceof ConnectError) process.stderr.write(`soltix: ${e.cause instanceof SoltixError ? e.cause.message : e.message}\n`);
      else process.stderr.write(`soltix: fatal: ${errorMessage(e)}\n${e instanceof Error ? e.stack ?? "" : ""}\n`);
      process.exit(1);
    },
  );
}
