// How a routed batch reaches a node. `durable` resolves once the node has fsynced it to its WAL;
// `accepted` once the transport has taken responsibility (a JetStream PubAck). Direct delivery calls
// the node's Write RPC (binary Connect, the node's fast path), so it is always durable.

import { SoltixError, errorMessage } from "../base/errors.ts";
import type { NodeRecord } from "../cluster/records.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { withDeadline, type Clock } from "../ports/clock.ts";

export type DeliveryMode = "durable" | "accepted";

export interface Delivery {
  deliver(node: NodeRecord, batchId: string, body: Uint8Array, mode: DeliveryMode): Promise<void>;
  /** Transport health for /readyz; undefined = fine. */
  problem(): string | undefined;
  /** Batches waiting in the transport for a node (its queue backlog); 0 when the transport keeps none. */
  backlog(nodeId: string): Promise<number>;
  close(): Promise<void>;
}

/** Per-node call deadline for direct delivery. */
export const DIRECT_CALL_TIMEOUT_MS = 10_000;

export class DirectDelivery implements Delivery {
  constructor(private readonly net: PeerNet, private readonly clock: Clock) {}

  async deliver(node: NodeRecord, _batchId: string, body: Uint8Array, _mode: DeliveryMode): Promise<void> {
    await withDeadline(this.clock, DIRECT_CALL_TIMEOUT_MS, (signal) => this.call(node, body, signal));
  }

  private async call(node: NodeRecord, body: Uint8Array, signal: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await this.net.fetch(this.net.url(node.address, "/soltix.v1.StorageService/Write"), {
        method: "POST",
        headers: { "content-type": "application/proto", "connect-protocol-version": "1", "connect-timeout-ms": String(DIRECT_CALL_TIMEOUT_MS) },
        body: new Uint8Array(body),
        signal,
      });
    } catch (e) {
      throw new SoltixError("unavailable", `node ${node.id} (${node.address}) unreachable: ${errorMessage(e)}`);
    }
    if (res.status !== 200) {
      let message = `HTTP ${res.status}`;
      try {
        const j = (await res.json()) as { code?: string; message?: string };
        message = `${j.code ?? res.status}: ${j.message ?? ""}`;
      } catch {
        // not a Connect error body
      }
      // A node that refuses our credentials is a cluster misconfiguration, not a bad write.
      const kind = res.status >= 500 || res.status === 429 || res.status === 401 ? "unavailable" : "invalid_argument";
      throw new SoltixError(kind, `node ${node.id} refused the write: ${message}${res.status === 401 ? " (auth.token_file must hold the same token on routers and nodes)" : ""}`);
    }
    await res.arrayBuffer();
  }

  problem(): string | undefined {
    return undefined;
  }

  async backlog(_nodeId: string): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}
