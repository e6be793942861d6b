// Credentials and trust of one process, read once at start from the files the config names: the
// bearer token, the server certificate, the CA for HTTPS peers, and TLS material for etcd and NATS.
// A missing or unusable file is a config error naming the key and the file.

import { errorMessage, invalidArgument } from "../base/errors.ts";
import type { NodeConfig, TlsFiles } from "../config/config.ts";
import type { FileSystem } from "../ports/fs.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { Platform } from "../ports/platform.ts";
import { parseToken, type GuardOptions } from "../rpc/guard.ts";
import type { PemSet } from "../base/pem.ts";

export interface Security {
  /** What the server checks before anything else. */
  guard: GuardOptions;
  /** How this process calls nodes. */
  net: PeerNet;
  /** Server certificate and key (PEM) when the server speaks HTTPS. */
  serverTls?: { cert: string; key: string } | undefined;
  etcdTls?: PemSet | undefined;
  queueTls?: PemSet | undefined;
}

async function readText(fs: FileSystem, key: string, path: string): Promise<string> {
  try {
    return new TextDecoder().decode(await fs.readFile(path));
  } catch (e) {
    throw invalidArgument(key, `${path}: cannot read (${errorMessage(e)})`);
  }
}

async function pemSet(fs: FileSystem, prefix: string, f: TlsFiles): Promise<PemSet | undefined> {
  if (f.caFile === "" && f.certFile === "") return undefined;
  return {
    ca: f.caFile === "" ? undefined : await readText(fs, `${prefix}.ca_file`, f.caFile),
    cert: f.certFile === "" ? undefined : await readText(fs, `${prefix}.cert_file`, f.certFile),
    key: f.keyFile === "" ? undefined : await readText(fs, `${prefix}.key_file`, f.keyFile),
  };
}

/**
 * The bearer token and the peer CA from their files ("" = not set); errors name `fields` (config keys,
 * or an operator command's flags).
 */
export async function readPeerCredentials(
  fs: FileSystem,
  files: { tokenFile: string; caFile: string },
  fields = { token: "auth.token_file", ca: "tls.ca_file" },
): Promise<{ token: string | undefined; caPem: string | undefined }> {
  return {
    token: files.tokenFile === "" ? undefined : parseToken(files.tokenFile, await readText(fs, fields.token, files.tokenFile), fields.token),
    caPem: files.caFile === "" ? undefined : await readText(fs, fields.ca, files.caFile),
  };
}

export async function loadSecurity(config: NodeConfig, platform: Platform): Promise<Security> {
  const { fs, clock } = platform;
  const { token, caPem } = await readPeerCredentials(fs, { tokenFile: config.auth.tokenFile, caFile: config.tls.caFile });
  const t = config.server.tls;
  const serverTls = t.certFile === "" ? undefined : { cert: await readText(fs, "server.tls.cert_file", t.certFile), key: await readText(fs, "server.tls.key_file", t.keyFile) };
  return {
    guard: { token, requestsPerSecPerPeer: config.server.requestsPerSecPerPeer, nowMs: () => clock.monotonicMs() },
    // A TLS cluster is TLS throughout: a node that serves HTTPS, or trusts a CA for peers, dials HTTPS.
    net: platform.peerNet({ token, https: serverTls !== undefined || caPem !== undefined, caPem }),
    serverTls,
    etcdTls: await pemSet(fs, "etcd.tls", config.etcd.tls),
    queueTls: await pemSet(fs, "queue.tls", config.queue.tls),
  };
}
