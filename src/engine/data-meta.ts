// The data dir's meta file, soltix-data.json: format version, coordinator.total_groups and the node
// id the dir belongs to — checked at every open so a dir is never read with the wrong grouping or by
// another node.

import { SoltixError, errorMessage } from "../base/errors.ts";
import type { FileSystem } from "../ports/fs.ts";

export const META_FILE = "soltix-data.json";
const META_VERSION = 1;

/**
 * Checks the data dir's meta file (format version, total_groups, the owning node id); returns the
 * bytes to write when it is missing or must gain the node id (the caller writes them durably).
 */
export async function checkDataMeta(fs: FileSystem, dataDir: string, totalGroups: number, nodeId: string | undefined): Promise<Uint8Array | undefined> {
  const names = await fs.list(dataDir);
  let meta: { version?: unknown; total_groups?: unknown; node_id?: unknown } | undefined;
  if (names.includes(META_FILE)) {
    try {
      meta = JSON.parse(new TextDecoder().decode(await fs.readFile(`${dataDir}/${META_FILE}`))) as typeof meta;
    } catch (e) {
      throw new SoltixError("data_loss", `${dataDir}/${META_FILE} is unreadable: ${errorMessage(e)}`);
    }
    if (meta!.version !== META_VERSION) throw new SoltixError("failed_precondition", `${dataDir}/${META_FILE}: unknown version ${String(meta!.version)}`);
    if (meta!.total_groups !== totalGroups) {
      throw new SoltixError(
        "failed_precondition",
        `coordinator.total_groups is ${totalGroups} but the data in ${dataDir} was written with ${String(meta!.total_groups)}; groups would be misplaced`,
      );
    }
    if (nodeId === undefined || meta!.node_id === nodeId) return undefined;
    if (typeof meta!.node_id === "string") {
      throw new SoltixError(
        "failed_precondition",
        `storage.data_dir ${dataDir} belongs to node ${JSON.stringify(meta!.node_id)} (written on its first start), but this node was started as ${JSON.stringify(nodeId)}: ` +
          `start it with --node.id ${meta!.node_id}, or give ${nodeId} its own storage.data_dir`,
      );
    }
    // A data dir from before node ids were recorded: it is this node's from now on.
  }
  const record: Record<string, unknown> = { version: META_VERSION, total_groups: totalGroups };
  if (nodeId !== undefined) record.node_id = nodeId;
  return new TextEncoder().encode(JSON.stringify(record) + "\n");
}
