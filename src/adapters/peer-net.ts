// The real PeerNet: plain fetch, http or https, with the cluster's bearer token on every call and,
// for https with a private CA, that CA as the trust root (Bun's fetch `tls` option).

import type { PeerNet, PeerNetOptions } from "../ports/peer-net.ts";
import { sleep, type Clock } from "../ports/clock.ts";
import type { Rng } from "../ports/rng.ts";

/** Times a call refused with 429 (a peer's per-peer rate limit) is retried after its Retry-After. */
export const RATE_LIMITED_RETRIES_MAX = 5;
/** Longest Retry-After honoured (s); a longer one is returned to the caller as it is. */
const RETRY_AFTER_MAX_S = 10;

export function httpPeerNet(o: PeerNetOptions, clock: Clock, rng: Rng): PeerNet {
  const scheme = o.https === true ? "https" : "http";
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    if (o.token !== undefined) headers.set("authorization", `Bearer ${o.token}`);
    const extra = o.caPem === undefined ? {} : { tls: { ca: o.caPem } };
    // A peer over its per-peer limit says when to come back: wait and resend (bodies here are bytes
    // or strings, so they can be sent again), a few times, before handing the 429 to the caller.
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(input, { ...init, headers, ...extra } as RequestInit);
      const after = Number(res.headers.get("retry-after") ?? "NaN");
      const resendable = init?.body === undefined || init.body === null || typeof init.body === "string" || init.body instanceof Uint8Array;
      if (res.status !== 429 || !resendable || !(after >= 0 && after <= RETRY_AFTER_MAX_S) || attempt >= RATE_LIMITED_RETRIES_MAX) return res;
      await res.arrayBuffer().catch(() => {});
      await sleep(clock, after * 1000 * (0.5 + rng.next() / 2));
    }
  };
  return {
    url: (address, path = "") => `${/^https?:\/\//.test(address) ? address.replace(/\/$/, "") : `${scheme}://${address}`}${path}`,
    fetch: f as typeof fetch,
  };
}
