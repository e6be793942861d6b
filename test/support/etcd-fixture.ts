// A binary test file's shared setup: a temp dir, a real etcd started before its tests, and a pool of
// binaries; all of it stopped and removed after them. Call at the top level of the test file.

import { afterAll, beforeAll } from "bun:test";
import { binaryPool } from "./binary.ts";
import { startEtcd, type RunningServer } from "./servers.ts";
import { tempDir } from "./engine.ts";

export function etcdFixture(prefix: string): { dir: string; pool: ReturnType<typeof binaryPool>; etcd(): RunningServer } {
  const tmp = tempDir(prefix);
  const pool = binaryPool();
  let etcd: RunningServer | undefined;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await pool.killAll();
    await etcd?.stop();
    tmp.cleanup();
  });
  return {
    dir: tmp.dir,
    pool,
    etcd: () => {
      if (etcd === undefined) throw new Error("etcd is started in beforeAll");
      return etcd;
    },
  };
}
