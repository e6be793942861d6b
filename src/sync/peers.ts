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

/** A session's bandwidth bound: every byte any of its clients moves, either way, is taken from it. */
export interface Pacer {
  /** Accounts `bytes` and waits while the session is ahead of its rate. */
  take(bytes: number): Promise<void>;
}

export const UNPACED: Pacer = { take: async () => {} };

/** A token bucket of one second's bytes: at most bytesPerSecMax per second over any stretch longer than a second (0 = no bound). */
export function bandwidthPacer(clock: Clock, bytesPerSecMax: number): Pacer {
  if (bytesPerSecMax <= 0) return UNPACED;
  let tokens = bytesPerSecMax;
  let atMs = clock.monotonicMs();
  return {
    async take(bytes) {
      const now = clock.monotonicMs();
      tokens = Math.min(bytesPerSecMax, tokens + ((now - atMs) / 1000) * bytesPerSecMax) - bytes;
      atMs = now;
      if (tokens < 0) await sleep(clock, (-tokens / bytesPerSecMax) * 1000);
    },
  };
}

/**
 * fetch that counts bytes each way and takes them from the session's pacer: request bodies before
 * they are sent, response bytes as they arrive (a stream is slowed by back-pressure, not only the
 * calls between streams).
 */
export function peerFetch(net: PeerNet, counter: ByteCounter, pacer: Pacer = UNPACED): typeof fetch {
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const body = init?.body;
    const sent = body instanceof Uint8Array ? body.length : body instanceof ArrayBuffer ? body.byteLength : typeof body === "string" ? body.length : 0;
    counter.sent += sent;
    await pacer.take(sent);
    const res = await net.fetch(input, init);
    if (res.body === null) return res;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, ctl) {
          counter.received += chunk.length;
          await pacer.take(chunk.length);
          ctl.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return f as typeof fetch;
}

export function syncClient(net: PeerNet, address: string, counter: ByteCounter = { sent: 0, received: 0 }, pacer: Pacer = UNPACED): Client<typeof SyncService> {
  const transport = createConnectTransport({
    baseUrl: net.url(address),
    useBinaryFormat: true,
    fetch: peerFetch(net, counter, pacer),
    defaultTimeoutMs: PEER_CALL_TIMEOUT_MS,
  });
  return createClient(SyncService, transport);
}
