// The real platform: node:fs, the system clock and randomness, etcd (or an embedded store), HTTP(S)
// peers and the data dir lock file. The runtime supplies the server (Bun.serve or Deno.serve).

import { SoltixError } from "../base/errors.ts";
import type { Platform } from "../ports/platform.ts";
import type { Serve } from "../ports/serve.ts";
import { isoNow } from "../ports/clock.ts";
import { nodeFileSystem } from "./node-fs.ts";
import { systemClock } from "./system-clock.ts";
import { systemRng } from "./system-rng.ts";
import { EtcdMetadataStore } from "./etcd-metadata.ts";
import { MemoryMetadataStore } from "./memory-metadata.ts";
import { httpPeerNet } from "./peer-net.ts";
import { lockDataDir } from "./dir-lock.ts";
import { serveGrpc } from "./grpc-serve.ts";
import { memoryUsage } from "node:process";

const noServer: Serve = () => {
  throw new SoltixError("internal", "this platform has no server (pass the runtime's serve)");
};

export function systemPlatform(serve: Serve = noServer, overrides: Partial<Platform> = {}): Platform {
  return {
    fs: nodeFileSystem,
    clock: systemClock,
    rng: systemRng,
    serve,
    serveGrpc,
    openMetadata: (endpoints, tls) => (endpoints.length > 0 ? new EtcdMetadataStore(endpoints, tls) : new MemoryMetadataStore(systemClock)),
    peerNet: (o) => httpPeerNet(o, systemClock, systemRng),
    lockDataDir: (dir) => lockDataDir(dir, () => isoNow(systemClock)),
    memoryUsage: () => {
      const m = memoryUsage();
      return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, externalBytes: m.external };
    },
    residentBytes: () => memoryUsage.rss(),
    ...overrides,
  };
}
