// Polling helper for tests and benchmarks: retries `f` until it returns a value (errors count as not yet).

export async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
