// Opaque, resumable cursors: base64url of a small versioned JSON object. Decoding validates every
// field, so a forged or truncated cursor is invalid_argument, never a crash or a wrong scan.

import { Buffer } from "node:buffer";
import { invalidArgument } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";

export interface ScanCursor {
  /** Group being scanned. */
  g: number;
  /** Window start (ns) being scanned. */
  w: bigint;
  /** Last key returned; the scan resumes after it. */
  k: string;
}

const CURSOR_VERSION = 1;

export function encodeCursor(c: ScanCursor): string {
  const json = JSON.stringify({ v: CURSOR_VERSION, g: c.g, w: c.w.toString(), k: c.k });
  return Buffer.from(json, "utf8").toString("base64url");
}

export function decodeCursor(field: string, text: string): ScanCursor {
  if (text.length > LIMITS.cursorBytesMax) throw invalidArgument(field, `cursor is ${text.length} bytes, limit ${LIMITS.cursorBytesMax}`);
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw invalidArgument(field, "not a cursor returned by this server (bad characters)");
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument(field, "not a cursor returned by this server");
  }
  const r = o as { v?: unknown; g?: unknown; w?: unknown; k?: unknown };
  if (
    typeof o !== "object" || o === null || r.v !== CURSOR_VERSION || typeof r.g !== "number" || !Number.isInteger(r.g) ||
    r.g < 0 || typeof r.w !== "string" || !/^\d{1,20}$/.test(r.w) || typeof r.k !== "string"
  ) {
    throw invalidArgument(field, "not a cursor returned by this server");
  }
  return { g: r.g, w: BigInt(r.w), k: r.k };
}
