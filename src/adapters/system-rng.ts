// The real source of randomness for jitter and ids (not for secrets: tokens come from files).

import type { Rng } from "../ports/rng.ts";

export const systemRng: Rng = { next: () => Math.random() };
