// MetadataStore over a real etcd (npm etcd3): CAS as transactions on mod_revision, create-if-absent
// as a transaction on create_revision = 0, watches on prefixes, leases with keep-alive. etcd being
// down is an operating condition: calls fail with `unavailable` naming the endpoints.

import { Etcd3, type Lease as EtcdLease } from "etcd3";
import { Buffer } from "node:buffer";
import { SoltixError, errorMessage } from "../base/errors.ts";
import type { PemSet } from "../base/pem.ts";
import type { KeyValue, Lease, MetadataStore, WatchEvent } from "../ports/metadata.ts";

/** Per-call deadline for etcd requests. */
const ETCD_CALL_TIMEOUT_MS = 5_000;

export class EtcdMetadataStore implements MetadataStore {
  private readonly client: Etcd3;

  constructor(private readonly endpoints: readonly string[], tls?: PemSet) {
    const credentials =
      tls?.ca === undefined && tls?.cert === undefined
        ? {}
        : {
            credentials: {
              rootCertificate: Buffer.from(tls.ca ?? ""),
              ...(tls.key === undefined ? {} : { privateKey: Buffer.from(tls.key) }),
              ...(tls.cert === undefined ? {} : { certChain: Buffer.from(tls.cert) }),
            },
          };
    this.client = new Etcd3({ hosts: [...endpoints], ...credentials, dialTimeout: ETCD_CALL_TIMEOUT_MS, defaultCallOptions: () => ({ deadline: new Date(Date.now() + ETCD_CALL_TIMEOUT_MS) }) });
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw new SoltixError("unavailable", `etcd ${what} failed (endpoints ${this.endpoints.join(",")}): ${errorMessage(e)}`);
    }
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.call("get", async () => {
      const res = await this.client.get(key).exec();
      const kv = res.kvs[0];
      return kv === undefined ? undefined : { key, value: kv.value.toString("utf8"), modRevision: BigInt(kv.mod_revision) };
    });
  }

  list(prefix: string): Promise<KeyValue[]> {
    return this.call("list", async () => {
      const res = await this.client.getAll().prefix(prefix).exec();
      return res.kvs.map((kv) => ({ key: kv.key.toString("utf8"), value: kv.value.toString("utf8"), modRevision: BigInt(kv.mod_revision) }));
    });
  }

  create(key: string, value: string): Promise<boolean> {
    return this.call("create", async () => {
      const res = await this.client.if(key, "Create", "==", 0).then(this.client.put(key).value(value)).commit();
      return res.succeeded;
    });
  }

  compareAndSwap(key: string, value: string, expected: bigint): Promise<boolean> {
    return this.call("compare-and-swap", async () => {
      const res = await this.client.if(key, "Mod", "==", expected.toString()).then(this.client.put(key).value(value)).commit();
      return res.succeeded;
    });
  }

  compareAndDelete(key: string, expected: bigint): Promise<boolean> {
    return this.call("compare-and-delete", async () => {
      const res = await this.client.if(key, "Mod", "==", expected.toString()).then(this.client.delete().key(key)).commit();
      return res.succeeded;
    });
  }

  put(key: string, value: string): Promise<void> {
    return this.call("put", async () => {
      await this.client.put(key).value(value).exec();
    });
  }

  delete(key: string): Promise<void> {
    return this.call("delete", async () => {
      await this.client.delete().key(key).exec();
    });
  }

  watchPrefix(prefix: string, onEvent: (e: WatchEvent) => void): Promise<() => Promise<void>> {
    return this.call("watch", async () => {
      const watcher = await this.client.watch().prefix(prefix).create();
      watcher.on("put", (kv) => onEvent({ type: "put", key: kv.key.toString("utf8"), value: kv.value.toString("utf8"), modRevision: BigInt(kv.mod_revision) }));
      watcher.on("delete", (kv) => onEvent({ type: "delete", key: kv.key.toString("utf8") }));
      watcher.on("error", () => {}); // etcd3 reconnects watchers itself
      return async () => {
        await watcher.cancel();
      };
    });
  }

  grantLease(ttlSeconds: number): Promise<Lease> {
    return this.call("lease grant", async () => {
      const lease: EtcdLease = this.client.lease(ttlSeconds, { autoKeepAlive: true });
      const id = String(await lease.grant());
      return {
        id,
        put: (key, value) => this.call("lease put", async () => void (await lease.put(key).value(value).exec())),
        create: (key, value) =>
          this.call("lease create", async () => (await this.client.if(key, "Create", "==", 0).then(lease.put(key).value(value)).commit()).succeeded),
        onLost: (cb) => void lease.on("lost", (err) => cb(errorMessage(err))),
        revoke: () => this.call("lease revoke", async () => void (await lease.revoke())),
      };
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
