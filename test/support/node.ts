// In-process node for RPC tests: the real app (Hono + Connect) on a temp data dir, called through
// fetch without sockets; plus a Connect client over the same fetch.

import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { loadConfig } from "../../src/config/config.ts";
import { startNode, type StorageNode } from "../../src/app/node.ts";
import { systemPlatform } from "../../src/adapters/platform.ts";
import { silentLogger } from "../../src/ports/logger.ts";
import { tempDir } from "./engine.ts";
import type { PeerNet } from "../../src/ports/peer-net.ts";

export interface TestNode {
  node: StorageNode;
  dir: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
  client<S extends DescService>(service: S, binary?: boolean): Client<S>;
  /** A PeerNet whose every address is this node (for peer clients: sync/peers.ts, sync/point-pages.ts). */
  net: PeerNet;
  close(): Promise<void>;
}

export async function startTestNode(flags: Record<string, string> = {}): Promise<TestNode> {
  const { dir, cleanup } = tempDir("node");
  const config = loadConfig({ flags: new Map(Object.entries({ "storage.data_dir": `${dir}/data`, "server.port": "0", ...flags })) });
  const node = await startNode(config, { platform: systemPlatform(), logger: silentLogger });
  const fetchApp = (input: RequestInfo | URL, init?: RequestInit) => Promise.resolve(node.app.fetch(new Request(input, init)));
  return {
    node,
    dir,
    net: { url: (_address, path = "") => `http://node${path}`, fetch: fetchApp as typeof fetch },
    async post(path, body, headers = {}) {
      const res = await node.app.fetch(
        new Request(`http://node${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      );
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    },
    client(service, binary = false) {
      return createClient(service, createConnectTransport({ baseUrl: "http://node", fetch: fetchApp as typeof fetch, useBinaryFormat: binary }));
    },
    async close() {
      await node.close();
      cleanup();
    },
  };
}
