// Command-line parsing shared by every subcommand: positional words and --key value / --key=value
// flags. Pure: takes argv, returns data or a typed error naming the flag.

import { invalidArgument } from "../base/errors.ts";

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string>;
  help: boolean;
}

/** `booleanFlags` take no value. */
export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      help = true;
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (name === "") throw invalidArgument("argv", `bad flag ${JSON.stringify(a)}`);
      if (eq >= 0) flags.set(name, a.slice(eq + 1));
      else if (booleanFlags.has(name)) flags.set(name, "true");
      else {
        const v = argv[i + 1];
        if (v === undefined) throw invalidArgument(`--${name}`, "needs a value");
        flags.set(name, v);
        i++;
      }
      continue;
    }
    positional.push(a);
  }
  return { positional, flags, help };
}
