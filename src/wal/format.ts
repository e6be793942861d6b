// WAL file format, version 1.
//
//   file   := header record*
//   header := "SXWAL001" (8 bytes: magic + version)
//   record := u32le payload_len | u32le crc32c(len bytes ‖ payload) | payload
//   payload (WalRecordV1) := u8 type=1 (points) | uvarint count | count × PointV1 (self-delimiting)
//
// A record is valid only if it is complete and its CRC matches; recovery stops at the first record
// that is not (a torn tail or a flipped bit) and never applies it or anything after it.

import { ByteReader, ByteWriter } from "../base/bytes.ts";
import { crc32c } from "../base/crc32c.ts";
import { LIMITS } from "../base/limits.ts";
import { encodingLength } from "../model/encoding.ts";

export const WAL_MAGIC_V1 = new TextEncoder().encode("SXWAL001");
export const WAL_HEADER_BYTES = 8;
export const WAL_RECORD_HEADER_BYTES = 8;
export const WAL_TYPE_POINTS = 1;

function crc32cOfParts(lenBytes: Uint8Array, payload: Uint8Array): number {
  return crc32c(payload, 0, payload.length, crc32c(lenBytes));
}

/** A framed record holding a batch of encodings, built in one buffer (the write hot path). */
export function pointsRecord(encodings: readonly Uint8Array[]): Uint8Array {
  let bytes = WAL_RECORD_HEADER_BYTES + 6;
  for (const e of encodings) bytes += e.length;
  const w = new ByteWriter(bytes);
  w.u32le(0);
  w.u32le(0);
  w.u8(WAL_TYPE_POINTS);
  w.uvarint(encodings.length);
  for (const e of encodings) w.bytes(e);
  const out = w.toBytes();
  const view = new DataView(out.buffer);
  const payloadLen = out.length - WAL_RECORD_HEADER_BYTES;
  view.setUint32(0, payloadLen, true);
  view.setUint32(4, crc32cOfParts(out.subarray(0, 4), out.subarray(WAL_RECORD_HEADER_BYTES)), true);
  return out;
}

/** Splits a points payload back into encodings (subarrays of `payload`). Throws on malformed input. */
export function parsePointsPayload(payload: Uint8Array): Uint8Array[] {
  const r = new ByteReader(payload);
  const type = r.u8();
  if (type !== WAL_TYPE_POINTS) throw new Error(`unknown WAL record type ${type}`);
  const count = r.uvarint();
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const n = encodingLength(payload, r.pos);
    out.push(payload.subarray(r.pos, r.pos + n));
    r.pos += n;
  }
  if (r.remaining() !== 0) throw new Error(`${r.remaining()} trailing bytes in WAL record`);
  return out;
}

export interface ScanResult {
  /** Payloads of the valid records, in order. */
  payloads: Uint8Array[];
  /** Byte length of the valid prefix (header + valid records). */
  validBytes: number;
  /** Why scanning stopped before the end, if it did. */
  stopReason: string | undefined;
}

/** Scans a whole WAL file image; stops at the first incomplete or corrupt record. */
export function scanWal(file: Uint8Array): ScanResult {
  if (file.length < WAL_HEADER_BYTES) {
    return { payloads: [], validBytes: 0, stopReason: file.length === 0 ? undefined : "torn header" };
  }
  for (let i = 0; i < WAL_HEADER_BYTES; i++) {
    if (file[i] !== WAL_MAGIC_V1[i]) return { payloads: [], validBytes: 0, stopReason: "bad magic" };
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const payloads: Uint8Array[] = [];
  let pos = WAL_HEADER_BYTES;
  while (pos < file.length) {
    if (file.length - pos < WAL_RECORD_HEADER_BYTES) return { payloads, validBytes: pos, stopReason: "torn record header" };
    const len = view.getUint32(pos, true);
    const crc = view.getUint32(pos + 4, true);
    if (len > LIMITS.walRecordBytesMax) return { payloads, validBytes: pos, stopReason: `record length ${len} over limit` };
    const end = pos + WAL_RECORD_HEADER_BYTES + len;
    if (end > file.length) return { payloads, validBytes: pos, stopReason: "torn record" };
    const payload = file.subarray(pos + WAL_RECORD_HEADER_BYTES, end);
    if (crc32cOfParts(file.subarray(pos, pos + 4), payload) !== crc) {
      return { payloads, validBytes: pos, stopReason: `CRC mismatch at offset ${pos}` };
    }
    payloads.push(payload);
    pos = end;
  }
  return { payloads, validBytes: pos, stopReason: undefined };
}
