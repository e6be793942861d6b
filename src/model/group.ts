// Group of a point: FNV-1a 32 of "<database>:<collection>:<id>" (UTF-8) modulo total_groups, as in
// Soltix, so its routers and ours place a device identically.

export const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
const utf8 = new TextEncoder();

export function fnv1a32(bytes: Uint8Array): number {
  return fnv1a32Update(FNV32_OFFSET, bytes, 0, bytes.length) >>> 0;
}

/** Continues an FNV-1a 32 hash over bytes[start, end); start from FNV32_OFFSET. */
export function fnv1a32Update(h: number, bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV32_PRIME);
  }
  return h;
}

export function groupOf(database: string, collection: string, id: string, totalGroups: number): number {
  return fnv1a32(utf8.encode(`${database}:${collection}:${id}`)) % totalGroups;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

export function fnv1a64(bytes: Uint8Array): bigint {
  let h = FNV64_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= BigInt(bytes[i]!);
    h = (h * FNV64_PRIME) & MASK64;
  }
  return h;
}
