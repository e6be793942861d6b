// Group of a point: FNV-1a 32 of "<database>:<collection>:<id>" (UTF-8) modulo total_groups, as in
// Soltix, so its routers and ours place a device identically.

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
const utf8 = new TextEncoder();

export function fnv1a32(bytes: Uint8Array): number {
  let h = FNV32_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV32_PRIME);
  }
  return h >>> 0;
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
