// Nanosecond time units and UTC day windows. Times are bigint nanoseconds everywhere.

export const NS_PER_US = 1_000n;
export const NS_PER_MS = 1_000_000n;
export const NS_PER_SECOND = 1_000_000_000n;
export const NS_PER_DAY = 86_400n * NS_PER_SECOND;

/** Valid point times: [TIME_MIN_NS, TIME_MAX_NS). 1970-01-01 .. 2255-06-05 (a whole day below int64 max). */
export const TIME_MIN_NS = 0n;
export const TIME_MAX_NS = 104_000n * NS_PER_DAY;

/** The UTC midnight (ns) that starts the 24 h window holding `timeNs`. */
export function windowStartNs(timeNs: bigint): bigint {
  return timeNs - (((timeNs % NS_PER_DAY) + NS_PER_DAY) % NS_PER_DAY);
}

export function isWindowStart(ns: bigint): boolean {
  return ns % NS_PER_DAY === 0n;
}

/** Day number since the epoch of a window start; used in file names. */
export function dayOfWindow(windowStart: bigint): number {
  return Number(windowStart / NS_PER_DAY);
}

export function nsToIso(ns: bigint): string {
  const ms = Number(ns / NS_PER_MS);
  const frac = (ns % NS_PER_SECOND).toString().padStart(9, "0");
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses RFC 3339 with up to 9 fractional digits into ns; undefined when malformed or impossible. */
export function parseRfc3339Ns(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[];
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  let offsetMin = 0;
  if (zone !== undefined && zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const oh = Number(zone.slice(1, 3)), om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMin = sign * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59)) - offsetMin * 60_000;
  const fracNs = frac === undefined ? 0n : BigInt(frac.padEnd(9, "0"));
  return BigInt(ms) * NS_PER_MS + fracNs;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Durations like 500ms, 30s, 5m, 1h, 7d, 2w (and "0"); undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  if (text.trim() === "0") return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const factor = DURATION_UNIT_MS[m[2]!]!;
  return n * factor;
}
