// bunfig's [test] timeout is not honoured; this preload sets the default per-test timeout.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(120_000);
