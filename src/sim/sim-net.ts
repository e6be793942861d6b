// The simulated network between nodes and the router: every call is an in-process Request to the
// target's app, subject to the faults of the moment — partitions, lost requests, lost responses,
// duplicated requests, and random delays (which reorder concurrent calls). All decided by the seed.
// A paused machine (SIGSTOP) neither sends nor answers until it resumes; a caller's deadline (its
// abort signal, or Connect's connect-timeout-ms header) ends the wait in simulated time.

import type { PeerNet } from "../ports/peer-net.ts";
import type { Rng } from "./rng.ts";
import type { Scheduler } from "./scheduler.ts";
import type { SimMachineClock } from "./sim-clock.ts";

export interface NetFaults {
  lossRequest: number;
  lossResponse: number;
  duplicate: number;
  /** Upper bound of a one-way delay (simulated ms). */
  delayMsMax: number;
}

export const NO_FAULTS: NetFaults = { lossRequest: 0, lossResponse: 0, duplicate: 0, delayMsMax: 0 };

type App = { fetch: (req: Request, env?: unknown) => Response | Promise<Response> };

/** What the world hears about each delivered call (after the target answered). */
export type CallObserver = (from: string, to: string, path: string, status: number, requestBody: Uint8Array) => void;

export class SimNet {
  private readonly apps = new Map<string, { id: string; app: App; machine: SimMachineClock | undefined }>();
  private readonly cut = new Set<string>();
  faults: NetFaults = NO_FAULTS;
  observer: CallObserver = () => {};
  readonly stats = { calls: 0, lostRequests: 0, lostResponses: 0, duplicated: 0, refused: 0 };

  constructor(private readonly sched: Scheduler, private readonly rng: Rng) {}

  static address(id: string): string {
    return `${id}.sim:1`;
  }

  attach(id: string, app: App, machine?: SimMachineClock): void {
    this.apps.set(SimNet.address(id), { id, app, machine });
  }

  detach(id: string): void {
    this.apps.delete(SimNet.address(id));
  }

  /** Cuts (both ways) or heals the link between two endpoints. */
  partition(a: string, b: string, cut: boolean): void {
    for (const k of [`${a}|${b}`, `${b}|${a}`]) {
      if (cut) this.cut.add(k);
      else this.cut.delete(k);
    }
  }

  healAll(): void {
    this.cut.clear();
  }

  private async delay(): Promise<void> {
    if (this.faults.delayMsMax > 0) await this.sched.sleep(this.rng.int(this.faults.delayMsMax + 1));
  }

  /** The PeerNet of one endpoint (on `machine`: its calls wait while it is paused). */
  for(from: string, machine?: SimMachineClock): PeerNet {
    const call = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const headers = new Headers(init?.headers);
      const timeoutMs = Number(headers.get("connect-timeout-ms") ?? "NaN");
      const signal = init?.signal ?? undefined;
      return new Promise<Response>((resolve, reject) => {
        let over = false;
        let deadline: { cancel(): void } | undefined;
        const end = (e: Error) => {
          if (over) return;
          over = true;
          deadline?.cancel();
          reject(e);
        };
        if (signal?.aborted === true) return end(new DOMException("aborted", "AbortError"));
        signal?.addEventListener("abort", () => end(new DOMException("sim network: call aborted (deadline)", "AbortError")), { once: true });
        if (Number.isFinite(timeoutMs) && timeoutMs > 0) deadline = this.sched.setTimer(timeoutMs, () => end(new TypeError(`sim network: no answer within ${timeoutMs} ms`)));
        this.send(from, machine, input, init).then(
          (r) => {
            if (!over) {
              over = true;
              deadline?.cancel();
              resolve(r);
            }
          },
          (e: unknown) => end(e instanceof Error ? e : new Error(String(e))),
        );
      });
    };
    return { url: (address, path = "") => `http://${address}${path}`, fetch: call as typeof fetch };
  }

  private async send(from: string, machine: SimMachineClock | undefined, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      const body = init?.body === undefined || init.body === null ? new Uint8Array(0) : new Uint8Array(await new Response(init.body).arrayBuffer());
      this.stats.calls++;
      await machine?.whenRunning();
      await this.delay();
      const target = this.apps.get(url.host);
      if (target === undefined) {
        this.stats.refused++;
        throw Object.assign(new TypeError(`sim network: nothing listens at ${url.host} (connection refused)`), { code: "ECONNREFUSED" });
      }
      if (this.cut.has(`${from}|${target.id}`)) {
        this.stats.refused++;
        throw new TypeError(`sim network: ${url.host} unreachable from ${from}`);
      }
      if (this.rng.chance(this.faults.lossRequest)) {
        this.stats.lostRequests++;
        throw new TypeError(`sim network: request to ${url.host} lost`);
      }
      const send = async () => {
        await target.machine?.whenRunning();
        const res = await target.app.fetch(new Request(url, { method: init?.method ?? "GET", headers: init?.headers ?? {}, body: body.length > 0 ? body : null }), { remoteAddress: from });
        const bytes = new Uint8Array(await res.arrayBuffer());
        this.observer(from, target.id, url.pathname, res.status, body);
        return { status: res.status, headers: res.headers, bytes };
      };
      const first = await send();
      if (this.rng.chance(this.faults.duplicate)) {
        this.stats.duplicated++;
        await send().catch(() => {});
      }
      await this.delay();
      await target.machine?.whenRunning();
      // The target may have crashed or been cut off while answering.
      if (this.apps.get(url.host) !== target || this.cut.has(`${target.id}|${from}`) || this.rng.chance(this.faults.lossResponse)) {
        this.stats.lostResponses++;
        throw new TypeError(`sim network: response from ${url.host} lost`);
      }
      return new Response(first.bytes, { status: first.status, headers: first.headers });
    }
  }
}
