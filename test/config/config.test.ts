import { describe, expect, test } from "bun:test";
import { loadConfig, envName } from "../../src/config/config.ts";
import { crc32c } from "../../src/base/crc32c.ts";
import { parseRfc3339Ns, windowStartNs, NS_PER_DAY } from "../../src/base/time.ts";

describe("config", () => {
  test("defaults < file < env < flags", () => {
    const yaml = { doc: { server: { port: 7100 }, storage: { data_dir: "/d", sync: { anti_entropy: { interval: "30m" } } } }, file: "n.yaml" };
    expect(loadConfig({}).server.port).toBe(7001);
    expect(loadConfig({ yaml }).server.port).toBe(7100);
    expect(loadConfig({ yaml, env: { SOLTIX_SERVER_PORT: "7200" } }).server.port).toBe(7200);
    const c = loadConfig({ yaml, env: { SOLTIX_SERVER_PORT: "7200" }, flags: new Map([["server.port", "7300"]]) });
    expect(c.server.port).toBe(7300);
    expect(c.storage.sync.antiEntropy.intervalMs).toBe(30 * 60_000);
    expect(c.storage.dataDir).toBe("/d");
    expect(c.node.address).toBe("127.0.0.1:7300");
    expect(envName("storage.sync.max_concurrent_syncs")).toBe("SOLTIX_STORAGE_SYNC_MAX_CONCURRENT_SYNCS");
  });

  test("bad values name the key, the value and the allowed range", () => {
    expect(() => loadConfig({ env: { SOLTIX_SERVER_PORT: "70000" } })).toThrow("server.port (from SOLTIX_SERVER_PORT) = 70000: out of range [0, 65535]");
    expect(() => loadConfig({ yaml: { doc: { server: { prot: 1 } }, file: "n.yaml" } })).toThrow("n.yaml: unknown key server.prot");
    expect(() => loadConfig({ flags: new Map([["replication.strategy", "eventual"]]) })).toThrow("must be one of sync, async");
    expect(() => loadConfig({ flags: new Map([["storage.sync.startup_timeout", "5 minutes"]]) })).toThrow("must be a duration");
    expect(() => loadConfig({ flags: new Map([["replication.min_replicas_for_write", "4"]]) })).toThrow("at most replication.factor (3)");
    expect(() => loadConfig({ flags: new Map([["queue.type", "nats"]]) })).toThrow("queue.url must be set");
    expect(() => loadConfig({ flags: new Map([["no.such", "1"]]) })).toThrow("unknown flag --no.such");
  });

  test("storage.memory_bytes_max: the memory store and caches get shares; settings that cannot fit are refused with the numbers", () => {
    const d = loadConfig({});
    expect(d.storage.memoryBytesMax).toBe(512 * 1024 ** 2);
    expect(d.storage.memory.memstoreBytes).toBe(Math.floor(0.15 * 512 * 1024 ** 2));
    expect(d.storage.memory.segmentCacheBytes).toBe(Math.floor(0.08 * 512 * 1024 ** 2));
    const big = loadConfig({ flags: new Map([["storage.memory_bytes_max", String(4 * 1024 ** 3)]]) });
    expect(big.storage.memory.treeCacheBytes).toBe(Math.floor(0.08 * 4 * 1024 ** 3));
    // an explicit memory store size replaces its share
    expect(loadConfig({ flags: new Map([["storage.memstore_bytes_max", String(8 * 1024 ** 2)]]) }).storage.memory.memstoreBytes).toBe(8 * 1024 ** 2);
    expect(() => loadConfig({ flags: new Map([["storage.memstore_bytes_max", String(1024 ** 3)]]) })).toThrow(
      /storage.memory_bytes_max = 536870912: too small for the memory store \(2 × 1073741824\) and caches .* at most 75 %/,
    );
    expect(() => loadConfig({ flags: new Map([["storage.segment_cache_bytes_max", "1000"]]) })).toThrow("storage.segment_cache_bytes_max = 1000: must be 0 (a share of storage.memory_bytes_max) or at least 1048576 (1 MiB)");
    expect(() => loadConfig({ flags: new Map([["storage.memory_bytes_max", String(1024 ** 2)]]) })).toThrow("out of range [67108864");
  });

  test("the node-loss keys: defaults, and bad values named with the allowed range", () => {
    const d = loadConfig({});
    expect(d.replication.hintWindowMs).toBe(3 * 3_600_000);
    expect(d.replication.hintBufferBytes).toBe(256 * 1024 * 1024);
    expect(d.read.consistency).toBe("one");
    expect(d.server.requestDeadlineMs).toBe(30_000);
    expect(loadConfig({ flags: new Map([["replication.hint_window", "0"]]) }).replication.hintWindowMs).toBe(0);
    expect(loadConfig({ env: { SOLTIX_READ_CONSISTENCY: "quorum" } }).read.consistency).toBe("quorum");
    expect(() => loadConfig({ flags: new Map([["replication.hint_window", "forever"]]) })).toThrow("replication.hint_window (from --replication.hint_window) = \"forever\": must be a duration like 500ms, 30s, 5m, 1h, 7d");
    expect(() => loadConfig({ flags: new Map([["replication.hint_window", "8d"]]) })).toThrow("out of range [0 ms, 604800000 ms]");
    expect(() => loadConfig({ flags: new Map([["replication.hint_window", "200h"]]) })).toThrow("replication.hint_window (from --replication.hint_window) = \"200h\": out of range [0 ms, 604800000 ms]");
    expect(() => loadConfig({ env: { SOLTIX_REPLICATION_HINT_BUFFER_BYTES: "-1" } })).toThrow("replication.hint_buffer_bytes (from SOLTIX_REPLICATION_HINT_BUFFER_BYTES) = -1: out of range [0, 68719476736]");
    expect(() => loadConfig({ env: { SOLTIX_REPLICATION_HINT_BUFFER_BYTES: "lots" } })).toThrow("must be an integer");
    expect(() => loadConfig({ flags: new Map([["read.consistency", "two"]]) })).toThrow("read.consistency (from --read.consistency) = \"two\": must be one of one, quorum, all");
    expect(() => loadConfig({ yaml: { doc: { read: { consistency: 3 } }, file: "r.yaml" } })).toThrow("read.consistency (from r.yaml) = 3: must be one of one, quorum, all");
    expect(() => loadConfig({ flags: new Map([["server.request_deadline", "10ms"]]) })).toThrow("server.request_deadline (from --server.request_deadline) = \"10ms\": out of range [1000 ms, 3600000 ms]");
  });
});

describe("base codecs", () => {
  test("CRC-32C check value and continuation", () => {
    const data = new TextEncoder().encode("123456789");
    expect(crc32c(data)).toBe(0xe3069283);
    expect(crc32c(data, 4, 9, crc32c(data, 0, 4))).toBe(0xe3069283);
  });

  test("RFC 3339 parsing keeps nanoseconds and rejects impossible dates", () => {
    expect(parseRfc3339Ns("2024-11-24T00:00:00.123456789Z")).toBe(1732406400123456789n);
    expect(parseRfc3339Ns("2024-11-24T01:00:00+01:00")).toBe(1732406400000000000n);
    expect(parseRfc3339Ns("2024-02-30T00:00:00Z")).toBeUndefined();
    expect(parseRfc3339Ns("2024-13-01T00:00:00Z")).toBeUndefined();
    expect(parseRfc3339Ns("yesterday")).toBeUndefined();
    expect(windowStartNs(1732406400123456789n)).toBe(1732406400000000000n);
    expect(1732406400000000000n % NS_PER_DAY).toBe(0n);
  });
});
