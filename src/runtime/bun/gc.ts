// Bun's collector as the platform's garbage collection hint: a full, synchronous collection (tens of
// milliseconds at a few hundred MiB of heap), asked for by the engine after a flush released a memory
// store, so the process's RSS follows storage.memory_bytes_max rather than the collector's own pace.

export function collectGarbage(): void {
  Bun.gc(true);
}
