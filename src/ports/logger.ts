// Structured logging: one JSON object per line. The sink and the clock are injected so tests can
// capture it and the simulator can stamp it.

import { isoNow, type Clock } from "./clock.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(write: (line: string) => void, minLevel: LogLevel, base: Record<string, unknown>, clock: Clock): Logger {
  return {
    log(level, msg, fields) {
      if (LEVELS[level] < LEVELS[minLevel]) return;
      const rec = { ts: isoNow(clock), level, msg, ...base, ...fields };
      write(JSON.stringify(rec, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    },
  };
}

export const silentLogger: Logger = { log() {} };
