// The compute worker's entry (Bun): serves the engine's codec tasks to the pool of
// runtime/bun/workers.ts. Built into the binary as a second entrypoint (scripts/build.ts).

import { CODEC_TASKS } from "./engine/codec-tasks.ts";
import { serveTasks } from "./runtime/bun/workers.ts";

serveTasks(CODEC_TASKS);
