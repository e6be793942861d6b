// InfluxDB line protocol (v1 `/write`, v2 `/api/v2/write`; DESIGN §12) → core points:
//
//   measurement[,tag=value…] field=value[,field=value…] [timestamp]
//
// measurement = the collection; the tag named by `ingest.influx.id_tag` (default `id`) = the device id;
// every other tag is kept as a string field; fields are typed as InfluxDB types them — `1.5` float,
// `1i` integer, `1u` unsigned (stored as int64 when it fits), `"…"` string, `t`/`true`/`f`/`false`…
// boolean. Escapes: `\,` `\ ` in measurements, `\,` `\=` `\ ` in tag keys, tag values and field keys,
// `\"` `\\` in string values. `#` starts a comment line. The timestamp is an integer in `precision`
// (ns by default) and the router's clock when absent. A request is all or nothing: the first bad line
// is named (number, text, what is wrong) and nothing is written.
//
// Parsed with charCodeAt over the body decoded once (delimiters are ASCII, so a UTF-16 index is as good
// as a byte index); numbers by Number() of their text, integers exactly (BigInt only past 2^53).

import { SoltixError, invalidArgument, resourceExhausted } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { TIME_MAX_NS } from "../base/time.ts";
import type { FieldValue, Point } from "../model/point.ts";
import { validateFieldName, validateId, validateName, validateStringValue } from "../model/validate.ts";

/** Line protocol precisions (v1 names, v2 names) → nanoseconds per unit. */
export const PRECISION_NS: Readonly<Record<string, bigint>> = {
  ns: 1n, n: 1n, u: 1_000n, us: 1_000n, µ: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};

export interface LineProtocolOptions {
  database: string;
  /** Nanoseconds per timestamp unit (PRECISION_NS). */
  precisionNs: bigint;
  /** The tag that names the device. */
  idTag: string;
  /** The time of a line without a timestamp (the router's clock, ns). */
  nowNs: bigint;
  /** inserted_at of each point (a VersionStamper batch). */
  stamp: () => bigint;
}

const COMMA = 44, SPACE = 32, EQUALS = 61, BACKSLASH = 92, QUOTE = 34, CR = 13, HASH = 35, TAB = 9;
const INT_SAFE_DIGITS = 15;
const I64_MAX = 2n ** 63n - 1n;

class LineError extends Error {}

function fail(what: string): never {
  throw new LineError(what);
}

/**
 * A cursor over the body: each read returns its value and leaves `pos` after it (no tuple per token:
 * a body has millions of them).
 */
class Cursor {
  pos = 0;
  constructor(readonly s: string) {}

  /** An escaped token up to an unescaped stop (',' ' ' always; '=' too when `eqStops`). */
  token(end: number, eqStops: boolean, what: string): string {
    const s = this.s;
    const at = this.pos;
    let i = at;
    let escaped = false;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH && i + 1 < end) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c === COMMA || c === SPACE || (eqStops && c === EQUALS)) break;
      i++;
    }
    if (i === at) fail(`empty ${what}`);
    this.pos = i;
    const raw = s.slice(at, i);
    return escaped ? raw.replace(/\\([,= "\\])/g, "$1") : raw;
  }

  /** One field value. */
  fieldValue(end: number, name: string): FieldValue {
    const s = this.s;
    const at = this.pos;
    if (at >= end) fail(`field ${JSON.stringify(name)} has no value`);
    if (s.charCodeAt(at) === QUOTE) {
      let i = at + 1;
      let escaped = false;
      while (i < end) {
        const c = s.charCodeAt(i);
        if (c === BACKSLASH && i + 1 < end) {
          escaped = true;
          i += 2;
          continue;
        }
        if (c === QUOTE) break;
        i++;
      }
      if (i >= end) fail(`field ${JSON.stringify(name)}: unterminated string`);
      const raw = s.slice(at + 1, i);
      this.pos = i + 1;
      return { kind: "string", value: escaped ? raw.replace(/\\(["\\])/g, "$1") : raw };
    }
    // A float holds only digits, sign, point and exponent (Number alone would take "0x1f", "Infinity", "1_0").
    let i = at;
    let numeric = true;
    for (; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c === COMMA || c === SPACE) break;
      if (numeric && !((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43 || c === 101 || c === 69)) numeric = false;
    }
    this.pos = i;
    if (i === at) fail(`field ${JSON.stringify(name)} has no value`);
    const t = s.slice(at, i);
    if (numeric) {
      const v = Number(t);
      if (Number.isFinite(v)) return { kind: "number", value: v };
      fail(`field ${JSON.stringify(name)}: ${JSON.stringify(t)} is not a float`);
    }
    const last = t.charCodeAt(t.length - 1);
    if (last === 105 /* i */) return { kind: "int", value: intInRange(parseIntText(t.slice(0, -1), `field ${JSON.stringify(name)}: integer`), name) };
    if (last === 117 /* u */) {
      const u = parseIntText(t.slice(0, -1), `field ${JSON.stringify(name)}: unsigned`);
      if (u < 0n) fail(`field ${JSON.stringify(name)}: unsigned ${t} is negative`);
      if (u > I64_MAX) fail(`field ${JSON.stringify(name)}: unsigned ${t} does not fit int64 (stored as int64)`);
      return { kind: "int", value: u };
    }
    const b = parseBool(t);
    if (b !== undefined) return { kind: "bool", value: b };
    fail(`field ${JSON.stringify(name)}: ${JSON.stringify(t)} is not a float, integer (1i), unsigned (1u), string ("…") or boolean (t, f, true, false)`);
  }
}

function parseBool(t: string): boolean | undefined {
  switch (t) {
    case "t": case "T": case "true": case "True": case "TRUE": return true;
    case "f": case "F": case "false": case "False": case "FALSE": return false;
    default: return undefined;
  }
}

function parseIntText(t: string, what: string): bigint {
  if (!/^[+-]?\d+$/.test(t)) fail(`${what} ${JSON.stringify(t)} is not an integer`);
  if (t.length <= INT_SAFE_DIGITS) return BigInt(Number(t));
  return BigInt(t);
}

function intInRange(v: bigint, name: string): bigint {
  if (v > I64_MAX || v < -(2n ** 63n)) fail(`field ${JSON.stringify(name)}: integer ${v} does not fit int64`);
  return v;
}

/** The timestamp's text → ns (exact; BigInt only when the product may pass 2^53). */
function timestampNs(t: string, precisionNs: bigint): bigint {
  for (let k = t.charCodeAt(0) === 45 ? 1 : 0; k < t.length; k++) {
    const c = t.charCodeAt(k);
    if (c < 48 || c > 57) fail(`timestamp ${JSON.stringify(t)} is not an integer`);
  }
  if (t.length === 0 || t === "-") fail(`timestamp ${JSON.stringify(t)} is not an integer`);
  const n = BigInt(t) * precisionNs;
  if (n < 0n || n >= TIME_MAX_NS) fail(`timestamp ${t} (× ${precisionNs} ns) is outside [0, ${TIME_MAX_NS}) ns — is the precision right?`);
  return n;
}

/** Names and ids already validated in this request (a body repeats them line after line). */
interface Seen {
  collections: Set<string>;
  ids: Set<string>;
  fieldNames: Set<string>;
  /** Tag values already checked as string fields. */
  tagValues: Set<string>;
  /** The previous line's field names in order, and whether this line's names so far are the same. */
  lastNames: string[];
  samePrefix: boolean;
  /** The last timestamp's text and value (lines of one moment share it). */
  lastTime: string;
  lastTimeNs: bigint;
}
const SEEN_IDS_MAX = 100_000;

/** Adds a field (a tag kept as a string field too) after its checks: a name once per request, a tag value once. */
function addField(fields: Array<readonly [string, FieldValue]>, name: string, v: FieldValue, tag: boolean, lineNo: number, seen: Seen): void {
  // The names so far are the previous line's, in order (no duplicate there): this one is new unless it
  // repeats one — checked only when the line differs from the previous one.
  const k0 = fields.length;
  if (seen.samePrefix && seen.lastNames[k0] === name) {
    // still the previous line's names
  } else {
    seen.samePrefix = false;
    for (let k = 0; k < k0; k++) if (fields[k]![0] === name) fail(`${JSON.stringify(name)} is given twice (as a tag or a field)`);
  }
  if (!seen.fieldNames.has(name)) {
    validateFieldName(`line ${lineNo}`, name);
    seen.fieldNames.add(name);
  }
  if (v.kind === "string" && !(tag && seen.tagValues.has(v.value))) {
    validateStringValue(`line ${lineNo}.fields[${JSON.stringify(name)}]`, v.value);
    if (tag && seen.tagValues.size < SEEN_IDS_MAX) seen.tagValues.add(v.value);
  }
  fields.push([name, v]);
}

/** One line [start, end) → a checked point (what validatePoint checks; names and ids once per request). */
function parseLine(cur: Cursor, start: number, end: number, o: LineProtocolOptions, lineNo: number, seen: Seen): Point {
  const s = cur.s;
  cur.pos = start;
  const collection = cur.token(end, false, "measurement");
  let id: string | undefined;
  const fields: Array<readonly [string, FieldValue]> = [];
  seen.samePrefix = true;
  while (cur.pos < end && s.charCodeAt(cur.pos) === COMMA) {
    cur.pos++;
    const key = cur.token(end, true, "tag key");
    if (s.charCodeAt(cur.pos) !== EQUALS) fail(`tag ${JSON.stringify(key)} has no "="`);
    cur.pos++;
    const value = cur.token(end, false, `value of tag ${JSON.stringify(key)}`);
    if (key === o.idTag) {
      if (id !== undefined) fail(`tag ${JSON.stringify(key)} is given twice`);
      id = value;
    } else addField(fields, key, { kind: "string", value }, true, lineNo, seen);
  }
  if (s.charCodeAt(cur.pos) !== SPACE) fail("expected a space before the fields");
  cur.pos++;
  for (let first = true; ; first = false) {
    const name = cur.token(end, true, first ? "field set (a line needs at least one field)" : "field key");
    if (s.charCodeAt(cur.pos) !== EQUALS) fail(`field ${JSON.stringify(name)} has no "="`);
    cur.pos++;
    addField(fields, name, cur.fieldValue(end, name), false, lineNo, seen);
    if (cur.pos < end && s.charCodeAt(cur.pos) === COMMA) {
      cur.pos++;
      continue;
    }
    break;
  }
  let timeNs = o.nowNs;
  let i = cur.pos;
  if (i < end) {
    if (s.charCodeAt(i) !== SPACE) fail(`unexpected ${JSON.stringify(s[i])} after the fields`);
    while (i < end && s.charCodeAt(i) === SPACE) i++;
    let e = end;
    while (e > i && (s.charCodeAt(e - 1) === SPACE || s.charCodeAt(e - 1) === TAB)) e--;
    if (i < e) {
      const t = s.slice(i, e);
      if (t !== seen.lastTime) {
        seen.lastTimeNs = timestampNs(t, o.precisionNs);
        seen.lastTime = t;
      }
      timeNs = seen.lastTimeNs;
    }
  }
  if (id === undefined) fail(`no tag ${JSON.stringify(o.idTag)} to name the device (ingest.influx.id_tag)`);
  if (!seen.collections.has(collection)) {
    validateName(`line ${lineNo}.collection`, collection);
    seen.collections.add(collection);
  }
  if (!seen.ids.has(id)) {
    validateId(`line ${lineNo}.id`, id);
    if (seen.ids.size < SEEN_IDS_MAX) seen.ids.add(id);
  }
  if (fields.length > LIMITS.fieldsPerPointMax) throw invalidArgument(`line ${lineNo}.fields`, `${fields.length} fields, limit ${LIMITS.fieldsPerPointMax}`);
  if (!seen.samePrefix || seen.lastNames.length !== fields.length) seen.lastNames = fields.map((f) => f[0]);
  return { database: o.database, collection, id, timeNs, insertedAtNs: o.stamp(), fields };
}

/** Every point of a line-protocol body; the first bad line is named and nothing is returned. */
export function parseLineProtocol(body: string, o: LineProtocolOptions): Point[] {
  validateName("database", o.database);
  const seen: Seen = { collections: new Set(), ids: new Set(), fieldNames: new Set(), tagValues: new Set(), lastNames: [], samePrefix: false, lastTime: "", lastTimeNs: 0n };
  const cur = new Cursor(body);
  const out: Point[] = [];
  let lineNo = 0;
  let at = 0;
  while (at < body.length) {
    let end = body.indexOf("\n", at);
    if (end < 0) end = body.length;
    lineNo++;
    let e = end;
    if (e > at && body.charCodeAt(e - 1) === CR) e--;
    let s = at;
    while (s < e && (body.charCodeAt(s) === SPACE || body.charCodeAt(s) === TAB)) s++;
    if (s < e && body.charCodeAt(s) !== HASH) {
      if (out.length >= LIMITS.lineProtocolPointsMax) throw resourceExhausted("body", `more than ${LIMITS.lineProtocolPointsMax} lines in one request`);
      try {
        out.push(parseLine(cur, s, e, o, lineNo, seen));
      } catch (err) {
        const text = JSON.stringify(body.slice(s, Math.min(e, s + 120)));
        if (err instanceof LineError) throw invalidArgument(`line ${lineNo}`, `${err.message}: ${text}`);
        if (err instanceof SoltixError) throw new SoltixError(err.kind, `${err.message} (in ${text})`);
        throw err;
      }
    }
    at = end + 1;
  }
  if (out.length === 0) throw invalidArgument("body", "no line to write");
  return out;
}

