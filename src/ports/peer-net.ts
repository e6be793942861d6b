// How this process reaches other nodes' HTTP/Connect endpoints: scheme, credentials and trust in one
// place. Every node-to-node and router-to-node call goes through it (sync sessions, write delivery,
// query failover, operator commands). The real one is adapters/peer-net.ts; the simulator supplies
// one that routes to in-process apps through a faulty network.

export interface PeerNet {
  /** URL of `path` on the node at `address` (host:port). */
  url(address: string, path?: string): string;
  /** fetch carrying the cluster's credentials (bearer token) and TLS trust. */
  readonly fetch: typeof fetch;
}

export interface PeerNetOptions {
  /** Bearer token sent on every call (auth.token_file). */
  token?: string | undefined;
  /** Dial https (the cluster serves TLS). */
  https?: boolean;
  /** PEM CA bundle trusted for https peers (tls.ca_file); default: the system roots. */
  caPem?: string | undefined;
}
