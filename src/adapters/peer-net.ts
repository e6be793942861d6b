// The real PeerNet: plain fetch, http or https, with the cluster's bearer token on every call and,
// for https with a private CA, that CA as the trust root (Bun's fetch `tls` option).

import type { PeerNet } from "../ports/peer-net.ts";

export interface PeerNetOptions {
  /** Bearer token sent on every call (auth.token_file). */
  token?: string | undefined;
  /** Dial https (the cluster serves TLS). */
  https?: boolean;
  /** PEM CA bundle trusted for https peers (tls.ca_file); default: the system roots. */
  caPem?: string | undefined;
}

export function httpPeerNet(o: PeerNetOptions = {}): PeerNet {
  const scheme = o.https === true ? "https" : "http";
  const f = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    if (o.token !== undefined) headers.set("authorization", `Bearer ${o.token}`);
    const extra = o.caPem === undefined ? {} : { tls: { ca: o.caPem } };
    return fetch(input, { ...init, headers, ...extra } as RequestInit);
  };
  return {
    url: (address, path = "") => `${/^https?:\/\//.test(address) ? address.replace(/\/$/, "") : `${scheme}://${address}`}${path}`,
    fetch: f as typeof fetch,
  };
}
