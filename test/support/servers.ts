// Real etcd and nats-server for integration tests: started on free loopback ports with temp dirs,
// stopped afterwards. The servers come from Debian's packages (scripts/test.sh installs them).

import { createServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

function managed(url: string, proc: { kill(sig?: number | string): void; exited: Promise<number> }, dir: string): RunningServer {
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      proc.kill(9);
      await proc.exited;
    },
  };
}

async function waitHealthy(url: string, ok: (body: string) => boolean, what: string, proc: { exitCode: number | null }, caPem?: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    try {
      const r = await fetch(url, caPem === undefined ? {} : ({ tls: { ca: caPem } } as RequestInit));
      if (ok(await r.text())) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(20);
  }
  throw new Error(`${what} not healthy within 15 s (${url})`);
}

/** Test TLS material: a CA and a certificate for 127.0.0.1 it signed (test/fixtures/tls). */
export const TEST_TLS = {
  caFile: new URL("../fixtures/tls/ca.pem", import.meta.url).pathname,
  certFile: new URL("../fixtures/tls/server.pem", import.meta.url).pathname,
  keyFile: new URL("../fixtures/tls/server.key", import.meta.url).pathname,
};

/** etcd on a free port; with `tls`, its client URL is https with the test certificate. */
export async function startEtcd(clientPort?: number, tls = false): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "soltix-etcd-"));
  const client = clientPort ?? (await freePort());
  const peer = await freePort();
  const c = `${tls ? "https" : "http"}://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  const proc = Bun.spawn(
    ["etcd", "--data-dir", dir, "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
      "--initial-advertise-peer-urls", p, "--initial-cluster", `default=${p}`, "--heartbeat-interval", "10", "--election-timeout", "100", "--log-level", "error",
      ...(tls ? ["--cert-file", TEST_TLS.certFile, "--key-file", TEST_TLS.keyFile] : [])],
    { stdout: "ignore", stderr: "ignore" },
  );
  await waitHealthy(`${c}/health`, (b) => b.includes('"health":"true"'), "etcd", proc, tls ? readFileSync(TEST_TLS.caFile, "utf8") : undefined);
  return managed(c, proc, dir);
}

/** nats-server with JetStream on a free port; with `tls`, clients must speak TLS (test certificate). */
export async function startNats(clientPort?: number, tls = false): Promise<RunningServer & { port: number }> {
  const dir = mkdtempSync(join(tmpdir(), "soltix-nats-"));
  const port = clientPort ?? (await freePort());
  const monitor = await freePort();
  const bin = Bun.which("nats-server") ?? "/usr/sbin/nats-server";
  const tlsArgs = tls ? ["--tls", "--tlscert", TEST_TLS.certFile, "--tlskey", TEST_TLS.keyFile] : [];
  const proc = Bun.spawn([bin, "-js", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-sd", dir, ...tlsArgs], { stdout: "ignore", stderr: "ignore" });
  await waitHealthy(`http://127.0.0.1:${monitor}/healthz`, (b) => b.includes("ok"), "nats-server", proc);
  return { ...managed(`nats://127.0.0.1:${port}`, proc, dir), port };
}

/** Prometheus (Debian's 2.42) on a free port scraping `targets` (host:port) every second, TSDB in a temp dir. */
export async function startPrometheus(targetsOf: readonly string[] | ((selfPort: number) => readonly string[]), extraConfig = ""): Promise<RunningServer & { port: number }> {
  const dir = mkdtempSync(join(tmpdir(), "soltix-prom-"));
  const port = await freePort();
  const targets = typeof targetsOf === "function" ? targetsOf(port) : targetsOf;
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "scrape_configs:",
    "  - job_name: soltix",
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
    extraConfig,
    "",
  ].join("\n");
  await Bun.write(join(dir, "prometheus.yml"), config);
  const proc = Bun.spawn(
    ["prometheus", `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=error", "--web.enable-remote-write-receiver"],
    { stdout: "ignore", stderr: "ignore" },
  );
  await waitHealthy(`http://127.0.0.1:${port}/-/ready`, (b) => b.includes("Ready"), "prometheus", proc);
  return { ...managed(`http://127.0.0.1:${port}`, proc, dir), port };
}

/** `promtool check metrics` on a metrics page: its exit code and what it printed (empty when clean). */
export function promtoolCheck(text: string): { code: number; out: string } {
  const r = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}
