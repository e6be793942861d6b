// Window checksums of several nodes side by side (binary tests): one string per node, equal strings
// = equal replicas for those (group, window) pairs.

import { postJson, type RunningBinary } from "./binary.ts";

/** `windows` holds "group:windowStartNs" strings. */
export async function windowSums(nodes: Array<Pick<RunningBinary, "url">>, windows: Iterable<string>): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes) {
    const parts: string[] = [];
    for (const w of [...windows].sort()) {
      const [g, ws] = w.split(":");
      const r = await postJson(`${n.url}/soltix.v1.SyncService/GetChecksum`, { groupId: Number(g), windowStart: ws });
      parts.push(`${w}=${r.json.sha256}/${r.json.pointCount}`);
    }
    out.push(parts.join(","));
  }
  return out;
}
