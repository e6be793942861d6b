// SHA-256 for checksums and Merkle hashes. node:crypto (native in Bun, Deno and Node) on hot paths;
// @noble/hashes as the portable fallback and the test oracle. Never one call per point: callers feed
// batched bytes.

import * as nodeCrypto from "node:crypto";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

export interface Sha256Hasher {
  update(bytes: Uint8Array): Sha256Hasher;
  digest(): Uint8Array;
}

function nativeHasher(): Sha256Hasher {
  const h = nodeCrypto.createHash("sha256");
  const self: Sha256Hasher = {
    update(bytes) {
      h.update(bytes);
      return self;
    },
    // A Buffer is a Uint8Array; re-wrapping it (d.buffer) costs more than the hash of a small leaf.
    digest: () => h.digest(),
  };
  return self;
}

export function nobleHasher(): Sha256Hasher {
  const h = nobleSha256.create();
  const self: Sha256Hasher = {
    update(bytes) {
      h.update(bytes);
      return self;
    },
    digest: () => h.digest(),
  };
  return self;
}

const hasNative = typeof nodeCrypto.createHash === "function";
const hasOneShot = typeof (nodeCrypto as { hash?: unknown }).hash === "function";
const oneShot = (nodeCrypto as unknown as { hash: (alg: string, data: Uint8Array, enc: "buffer") => Uint8Array }).hash;

export function createSha256(): Sha256Hasher {
  return hasNative ? nativeHasher() : nobleHasher();
}

/** One-shot SHA-256: no hasher object (the Merkle build makes one call per node). */
export function sha256(bytes: Uint8Array): Uint8Array {
  return hasOneShot ? oneShot("sha256", bytes, "buffer") : createSha256().update(bytes).digest();
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, "0");
  return s;
}

/** SHA-256 of the empty input: the checksum of a window with no points. */
/** The bytes of a hex string (as toHex writes it). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const EMPTY_SHA256_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
