// The simulated network between nodes and the router: every call is an in-process Request to the
// target's app, subject to the faults of the moment — partitions, lost requests, lost responses,
// duplicated requests, and random delays (which reorder concurrent calls). All decided by the seed.

import type { PeerNet } from "../ports/peer-net.ts";
import type { Rng } from "./rng.ts";
import type { Scheduler } from "./scheduler.ts";

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
  private readonly apps = new Map<string, { id: string; app: App }>();
  private readonly cut = new Set<string>();
  faults: NetFaults = NO_FAULTS;
  observer: CallObserver = () => {};
  readonly stats = { calls: 0, lostRequests: 0, lostResponses: 0, duplicated: 0, refused: 0 };

  constructor(private readonly sched: Scheduler, private readonly rng: Rng) {}

  static address(id: string): string {
    return `${id}.sim:1`;
  }

  attach(id: string, app: App): void {
    this.apps.set(SimNet.address(id), { id, app });
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

  /** The PeerNet of one endpoint. */
  for(from: string): PeerNet {
    const call = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      const body = init?.body === undefined || init.body === null ? new Uint8Array(0) : new Uint8Array(await new Response(init.body).arrayBuffer());
      this.stats.calls++;
      await this.delay();
      const target = this.apps.get(url.host);
      if (target === undefined || this.cut.has(`${from}|${target.id}`)) {
        this.stats.refused++;
        throw new TypeError(`sim network: ${url.host} unreachable from ${from}`);
      }
      if (this.rng.chance(this.faults.lossRequest)) {
        this.stats.lostRequests++;
        throw new TypeError(`sim network: request to ${url.host} lost`);
      }
      const send = async () => {
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
      // The target may have crashed or been cut off while answering.
      if (this.apps.get(url.host) !== target || this.cut.has(`${target.id}|${from}`) || this.rng.chance(this.faults.lossResponse)) {
        this.stats.lostResponses++;
        throw new TypeError(`sim network: response from ${url.host} lost`);
      }
      return new Response(first.bytes, { status: first.status, headers: first.headers });
    };
    return { url: (address, path = "") => `http://${address}${path}`, fetch: call as typeof fetch };
  }
}
