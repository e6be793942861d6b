// Bun adapter for the Compute port: a pool of Worker threads running the tasks that src/worker.ts
// serves. Workers start on the first task (an idle process has none), take the least-busy one, and
// a worker that dies is replaced (its tasks fail with the reason; the engine retries on its next
// flush). Buffers named in `transfer` move without a copy, both ways.

import type { Compute, TaskHandlers } from "../../ports/compute.ts";

interface Request {
  readonly id: number;
  readonly task: string;
  readonly args: unknown;
}

type Reply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

interface Slot {
  worker: Worker;
  readonly pending: Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>;
}

/** Bun's Worker can stop keeping the process alive (not in the DOM typing). */
function held(w: Worker): { ref(): void; unref(): void } {
  return w as unknown as { ref(): void; unref(): void };
}

/** Threads for `configured` (0 = one less than the machine's cores, at least 1). */
export function workerThreadsFor(configured: number): number {
  if (configured > 0) return configured;
  return Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
}

export function bunWorkerPool(entry: URL, threads: number): Compute {
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;

  const start = (slot: Slot | undefined): Slot => {
    const worker = new Worker(entry.href);
    held(worker).unref();
    const s: Slot = slot ?? { worker, pending: new Map() };
    s.worker = worker;
    worker.onmessage = (ev: MessageEvent<Reply>) => {
      const r = ev.data;
      const p = s.pending.get(r.id);
      if (p === undefined) return;
      s.pending.delete(r.id);
      // A worker keeps the process alive only while it owes an answer.
      if (s.pending.size === 0) held(worker).unref();
      if (r.ok) p.resolve(r.result);
      else p.reject(new Error(`compute task failed: ${r.error}`));
    };
    worker.onerror = (ev: ErrorEvent) => {
      const reason = new Error(`compute worker died: ${ev.message}`);
      for (const p of s.pending.values()) p.reject(reason);
      s.pending.clear();
      worker.terminate();
      if (!closed) start(s);
    };
    return s;
  };

  return {
    threads,
    run<R>(task: string, args: unknown, transfer: readonly ArrayBuffer[] = []): Promise<R> {
      if (closed) return Promise.reject(new Error("compute pool is closed"));
      if (slots.length < threads && slots.every((s) => s.pending.size > 0)) slots.push(start(undefined));
      let slot = slots[0]!;
      for (const s of slots) if (s.pending.size < slot.pending.size) slot = s;
      const id = nextId++;
      return new Promise<R>((resolve, reject) => {
        if (slot.pending.size === 0) held(slot.worker).ref();
        slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        slot.worker.postMessage({ id, task, args } satisfies Request, [...transfer]);
      });
    },
    async close() {
      closed = true;
      for (const s of slots) {
        for (const p of s.pending.values()) p.reject(new Error("compute pool closed"));
        s.pending.clear();
        s.worker.terminate();
      }
      slots.length = 0;
    },
  };
}

/** The buffers of a task's result that can move back without a copy. */
function transfersOf(result: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const add = (v: unknown) => {
    if (v instanceof Uint8Array && v.buffer instanceof ArrayBuffer && !out.includes(v.buffer)) out.push(v.buffer);
  };
  add(result);
  if (typeof result === "object" && result !== null && !(result instanceof Uint8Array)) for (const v of Object.values(result)) add(v);
  return out;
}

/** The worker side: answers requests with `handlers` (called from src/worker.ts). */
export function serveTasks(handlers: TaskHandlers): void {
  const scope = globalThis as unknown as { onmessage: ((ev: MessageEvent<Request>) => void) | null; postMessage(m: unknown, t?: ArrayBuffer[]): void };
  scope.onmessage = (ev) => {
    const { id, task, args } = ev.data;
    try {
      const h = handlers[task];
      if (h === undefined) throw new Error(`no task named ${task}`);
      const result = (h as (a: unknown) => unknown)(args);
      scope.postMessage({ id, ok: true, result } satisfies Reply, transfersOf(result));
    } catch (e) {
      scope.postMessage({ id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Reply);
    }
  };
}
