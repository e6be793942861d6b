// Clients for talking to replicas (SyncService over binary Connect), with byte accounting: a session
// passes its own counters, so its record says how many bytes went each way.

import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { SyncService } from "../gen/soltix/v1/sync_pb.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import { sleep, type Clock } from "../ports/clock.ts";

export interface ByteCounter {
  sent: number;
  received: number;
}

/** Per-call deadline for unary sync calls; streams are bounded by the session. */
export const PEER_CALL_TIMEOUT_MS = 30_000;

/**
 * fetch that counts bytes each way and, with a cap, paces calls so the bytes this client moved never
 * run ahead of bytesPerSecMax (a session's bandwidth bound).
 */
export function peerFetch(net: PeerNet, clock: Clock, counter: ByteCounter, bytesPerSecMax: number): typeof fetch {
  const started = clock.monotonicMs();
  const pace = async () => {
    if (bytesPerSecMax <= 0) return;
    const dueMs = ((counter.sent + counter.received) / bytesPerSecMax) * 1000;
    const aheadMs = dueMs - (clock.monotonicMs() - started);
    if (aheadMs > 0) await sleep(clock, aheadMs);
  };
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    await pace();
    const body = init?.body;
    if (body instanceof Uint8Array) counter.sent += body.length;
    else if (body instanceof ArrayBuffer) counter.sent += body.byteLength;
    else if (typeof body === "string") counter.sent += body.length;
    const res = await net.fetch(input, init);
    if (res.body === null) return res;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          counter.received += chunk.length;
          ctl.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return f as typeof fetch;
}

export function syncClient(net: PeerNet, address: string, clock: Clock, counter: ByteCounter = { sent: 0, received: 0 }, bytesPerSecMax = 0): Client<typeof SyncService> {
  const transport = createConnectTransport({
    baseUrl: net.url(address),
    useBinaryFormat: true,
    fetch: peerFetch(net, clock, counter, bytesPerSecMax),
    defaultTimeoutMs: PEER_CALL_TIMEOUT_MS,
  });
  return createClient(SyncService, transport);
}
