// A full pull that breaks mid-stream resumes from the last written batch's cursor: the puller ends with
// exactly the peer's points, each pulled once; a break that repeats without progress gives up.

import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { pointPagesClient, type PointPages } from "../../src/sync/point-pages.ts";
import { StorageService } from "../../src/gen/soltix/v1/storage_pb.ts";
import { pullStream, STREAM_RESUME_ATTEMPTS_MAX } from "../../src/sync/pull-stream.ts";
import { systemClock } from "../../src/adapters/system-clock.ts";
import { NS_PER_DAY, NS_PER_SECOND } from "../../src/base/time.ts";
import { startTestNode } from "../support/node.ts";
import { openEngine, tempDir, TEST_GROUPS } from "../support/engine.ts";
import { groupOf } from "../../src/model/group.ts";

const DAY = 20_410n * NS_PER_DAY;

describe("pullStream", () => {
  test("resumes a broken stream from the last cursor: every point once, none skipped", async () => {
    const peer = await startTestNode({ "coordinator.total_groups": String(TEST_GROUPS) });
    const { dir, cleanup } = tempDir("pull");
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
      const group = groupOf("db", "m", ids[0]!, TEST_GROUPS);
      const mine = ids.filter((id) => groupOf("db", "m", id, TEST_GROUPS) === group);
      const points = mine.flatMap((id) => Array.from({ length: 50 }, (_, t) => ({ database: "db", collection: "m", id, time: DAY + BigInt(t) * NS_PER_SECOND, fields: { v: { value: { case: "numberValue" as const, value: t } } } })));
      await peer.client(StorageService).write({ points });
      const real = pointPagesClient(peer.net, "node", systemClock);
      let breaks = 0;
      // Breaks after the second message of each of the first three attempts; each attempt makes progress.
      const flaky: PointPages = {
        async *pages(req, timeoutMs) {
          let sent = 0;
          for await (const m of real.pages(req, timeoutMs)) {
            yield m;
            if (++sent === 2 && breaks < 3) {
              breaks++;
              throw new ConnectError("connection reset", Code.Unavailable);
            }
          }
        },
      };
      const engine = await openEngine(dir);
      const n = await pullStream(flaky, { groupId: group, startTime: DAY, endTime: DAY + NS_PER_DAY, batchSize: 7 }, 10_000, engine, TEST_GROUPS, systemClock);
      expect(breaks).toBe(3);
      expect(n).toBe(points.length);
      expect(await engine.windowChecksum(group, DAY)).toEqual(await peer.node.engine.windowChecksum(group, DAY));

      // Without progress between failures it gives up after STREAM_RESUME_ATTEMPTS_MAX attempts.
      let attempts = 0;
      const dead: PointPages = {
        // eslint-disable-next-line require-yield
        async *pages() {
          attempts++;
          throw new ConnectError("refused", Code.Unavailable);
        },
      };
      await expect(pullStream(dead, { groupId: group }, 1_000, engine, TEST_GROUPS, systemClock)).rejects.toThrow(/refused/);
      expect(attempts).toBe(STREAM_RESUME_ATTEMPTS_MAX);
      await engine.close();
    } finally {
      cleanup();
      await peer.close();
    }
  });
});
