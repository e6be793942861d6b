// Compute: runs named CPU-heavy pure tasks (segment encoding, compaction merges, tree builds) off the
// thread that owns the WAL and serves requests. The binary passes a pool of Bun workers
// (runtime/bun/workers.ts); tests, the simulator and other runtimes run the same tasks inline. A task
// is a pure function of structured-cloneable arguments, so where it runs never changes its result.

export type TaskHandlers = Readonly<Record<string, (args: never) => unknown>>;

export interface Compute {
  /** Runs `task` with `args`; buffers in `transfer` are moved to the task (the caller must not use them after). */
  run<R>(task: string, args: unknown, transfer?: readonly ArrayBuffer[]): Promise<R>;
  /** Threads the tasks run on besides the caller's (0 = inline). */
  readonly threads: number;
  close(): Promise<void>;
}

/** Runs tasks on the calling thread, each in a later microtask (as a worker would answer). */
export function inlineCompute(handlers: TaskHandlers): Compute {
  return {
    threads: 0,
    async run<R>(task: string, args: unknown): Promise<R> {
      const h = handlers[task];
      if (h === undefined) throw new Error(`compute: no task named ${task}`);
      await Promise.resolve();
      return (h as (a: unknown) => unknown)(args) as R;
    },
    async close() {},
  };
}
