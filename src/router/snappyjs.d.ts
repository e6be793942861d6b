// Types of the npm package snappyjs (pure JavaScript Snappy, block format): only what the router uses.
declare module "snappyjs" {
  /** Decompresses a Snappy block; throws past `maxLength` bytes (checked from the header before any work). */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Uint8Array): Uint8Array;
}
