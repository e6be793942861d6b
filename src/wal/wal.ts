// The write-ahead log: one writer, group commit (every append waiting when a write starts shares one
// write and one fsync), rotation by size, torn-tail truncation on recovery. Invariant: an append's
// promise resolves only after its bytes are fsynced, and `onDurable` callbacks run in log order,
// synchronously after the fsync and before any later rotation, so a rotation boundary splits the log
// exactly where the memory store is frozen. An I/O error poisons the WAL: nothing is acknowledged
// after a failed fsync (its outcome is unknown) until resume() starts a fresh file.

import { SoltixError, errorMessage } from "../base/errors.ts";
import { LIMITS } from "../base/limits.ts";
import { unwritableCode, writeFileDurable, type FileSystem, type AppendFile } from "../ports/fs.ts";
import type { Logger } from "../ports/logger.ts";
import { WAL_MAGIC_V1, scanWal } from "./format.ts";

const FILE_RE = /^wal-(\d{16})\.log$/;

export function walFileName(seq: number): string {
  return `wal-${String(seq).padStart(16, "0")}.log`;
}

type Op =
  | { kind: "append"; bytes: Uint8Array; onDurable: () => void; resolve: () => void; reject: (e: unknown) => void }
  | { kind: "rotate"; onRotated: (newSeq: number) => void; resolve: (seq: number) => void; reject: (e: unknown) => void };

export interface WalRecovery {
  payloads: Uint8Array[];
  files: number;
  truncatedBytes: number;
  problems: string[];
}

interface PendingCut {
  name: string;
  path: string;
  validBytes: number;
  tail: Uint8Array;
}

export interface WalStats {
  appends: number;
  fsyncs: number;
  bytes: number;
}

export class Wal {
  private queue: Op[] = [];
  private running = false;
  /** The writer loop in progress (close waits for it). */
  private loopRun: Promise<void> = Promise.resolve();
  private poisoned: string | undefined;
  private file: AppendFile | undefined;
  private fileBytes = 0;
  readonly stats: WalStats = { appends: 0, fsyncs: 0, bytes: 0 };
  /** Told how long each group-commit write + fsync took (metrics); the clock comes with it. */
  timing: { nowMs: () => number; fsyncMs: (ms: number) => void } | undefined;

  /** Invalid tails found at recovery that could not be quarantined and cut yet (the disk was unwritable). */
  private pendingCuts: PendingCut[] = [];

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly logger: Logger,
    private seq: number,
    private readonly fileBytesMax: number,
    private readonly quarantineDir: string | undefined,
  ) {}

  /**
   * Recovers every complete record from the directory, then opens a fresh file for appends. A file's
   * bytes from its first invalid record on (a torn tail, or corruption) are never applied: they are
   * copied to `quarantineDir` (when given) and cut off; replicas repair what they held.
   */
  static async open(
    fs: FileSystem, dir: string, logger: Logger, fileBytesMax: number = LIMITS.walFileBytesMax, quarantineDir?: string, writable = true,
  ): Promise<{ wal: Wal; recovery: WalRecovery }> {
    try {
      await fs.mkdirp(dir);
    } catch (e) {
      if (unwritableCode(e) === undefined) throw e; // resume() tries again
    }
    const names = (await fs.list(dir)).filter((n) => FILE_RE.test(n)).sort();
    const recovery: WalRecovery = { payloads: [], files: names.length, truncatedBytes: 0, problems: [] };
    let maxSeq = 0;
    const cuts: PendingCut[] = [];
    for (const name of names) {
      maxSeq = Math.max(maxSeq, Number(FILE_RE.exec(name)![1]));
      const path = `${dir}/${name}`;
      const image = await fs.readFile(path);
      const scan = scanWal(image);
      for (const p of scan.payloads) recovery.payloads.push(p);
      if (scan.stopReason !== undefined) {
        const cut = image.length - scan.validBytes;
        recovery.truncatedBytes += cut;
        recovery.problems.push(`${name}: ${scan.stopReason}; truncated ${cut} bytes after ${scan.payloads.length} records`);
        logger.log("warn", "wal: truncating invalid tail", { file: name, reason: scan.stopReason, validBytes: scan.validBytes, cutBytes: cut });
        cuts.push({ name, path, validBytes: scan.validBytes, tail: image.slice(scan.validBytes) });
      }
    }
    const wal = new Wal(fs, dir, logger, maxSeq, fileBytesMax, quarantineDir);
    wal.pendingCuts = cuts;
    // A disk that is full or read-only opens the WAL read-only: what it holds is recovered and served,
    // appends are refused until resume() can finish the cuts and start a new file.
    if (!writable) wal.poisoned = "opened read-only";
    else if (!(await wal.resume())) logger.log("error", "wal: the disk cannot be written; starting read-only", { error: wal.poisoned });
    return { wal, recovery };
  }

  /**
   * Makes the WAL writable again after the disk could not be written (full, read-only): finishes the
   * deferred cuts of invalid tails (copied to quarantine first), then starts a fresh file. Returns
   * whether appends are accepted now. Never appends to a file that saw a failure.
   */
  async resume(): Promise<boolean> {
    if (this.poisoned === undefined && this.file !== undefined) return true;
    while (this.running) await this.loopRun;
    try {
      while (this.pendingCuts.length > 0) {
        const c = this.pendingCuts[0]!;
        if (this.quarantineDir !== undefined) await writeFileDurable(this.fs, this.quarantineDir, `${c.name}.from-${c.validBytes}`, c.tail);
        await this.fs.truncate(c.path, c.validBytes);
        this.pendingCuts.shift();
      }
      await this.fs.mkdirp(this.dir);
      await this.startFile(this.seq + 1);
    } catch (e) {
      if (unwritableCode(e) === undefined) throw e;
      this.poisoned ??= errorMessage(e);
      return false;
    }
    if (this.poisoned !== undefined) this.logger.log("info", "wal: the disk can be written again; accepting writes", { was: this.poisoned });
    this.poisoned = undefined;
    return true;
  }

  /** Why the WAL refuses appends (an I/O failure such as a full disk), or undefined. */
  get failedBecause(): string | undefined {
    return this.poisoned;
  }

  get currentSeq(): number {
    return this.seq;
  }

  private async startFile(seq: number): Promise<void> {
    const f = await this.fs.create(`${this.dir}/${walFileName(seq)}`);
    try {
      await f.append(WAL_MAGIC_V1);
      await f.sync();
      await this.fs.syncDir(this.dir);
    } catch (e) {
      await f.close().catch(() => {});
      throw e;
    }
    if (this.file !== undefined) await this.file.close();
    this.file = f;
    this.seq = seq;
    this.fileBytes = WAL_MAGIC_V1.length;
  }

  /** Appends one framed record; resolves once it is durable (after `onDurable` ran). */
  append(record: Uint8Array, onDurable: () => void): Promise<void> {
    if (this.poisoned !== undefined) return Promise.reject(this.failure());
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: "append", bytes: record, onDurable, resolve, reject });
      this.kick();
    });
  }

  /** Starts a new file after every append queued before this call; resolves with the new file's seq. */
  rotate(onRotated: (newSeq: number) => void): Promise<number> {
    if (this.poisoned !== undefined) return Promise.reject(this.failure());
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: "rotate", onRotated, resolve, reject });
      this.kick();
    });
  }

  /** Removes WAL files older than `seq` (their records are in durable segments). */
  async removeBefore(seq: number): Promise<void> {
    const names = (await this.fs.list(this.dir)).filter((n) => FILE_RE.test(n));
    let removed = 0;
    for (const name of names) {
      if (Number(FILE_RE.exec(name)![1]) < seq) {
        await this.fs.remove(`${this.dir}/${name}`);
        removed++;
      }
    }
    if (removed > 0) await this.fs.syncDir(this.dir);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.loopRun = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.kind === "rotate") {
          this.queue.shift();
          try {
            await this.startFile(this.seq + 1);
            head.onRotated(this.seq);
            head.resolve(this.seq);
          } catch (e) {
            this.poison(e);
            head.reject(this.failure());
          }
          continue;
        }
        const batch: Array<Extract<Op, { kind: "append" }>> = [];
        let bytes = 0;
        while (this.queue.length > 0 && this.queue[0]!.kind === "append") {
          const op = this.queue.shift() as Extract<Op, { kind: "append" }>;
          batch.push(op);
          bytes += op.bytes.length;
        }
        const t0 = this.timing?.nowMs();
        try {
          const f = this.file!;
          if (batch.length === 1) {
            await f.append(batch[0]!.bytes);
          } else {
            const joined = new Uint8Array(bytes);
            let at = 0;
            for (const op of batch) {
              joined.set(op.bytes, at);
              at += op.bytes.length;
            }
            await f.append(joined);
          }
          await f.sync();
        } catch (e) {
          this.poison(e);
          for (const op of batch) op.reject(this.failure());
          continue;
        }
        if (t0 !== undefined) this.timing!.fsyncMs(this.timing!.nowMs() - t0);
        this.fileBytes += bytes;
        this.stats.appends += batch.length;
        this.stats.fsyncs += 1;
        this.stats.bytes += bytes;
        for (const op of batch) op.onDurable();
        for (const op of batch) op.resolve();
        if (this.fileBytes >= this.fileBytesMax && (this.queue.length === 0 || this.queue[0]!.kind !== "rotate")) {
          // Size rotation needs no memstore freeze: older files are removed only by a flush rotation.
          try {
            await this.startFile(this.seq + 1);
          } catch (e) {
            this.poison(e);
          }
        }
      }
    } finally {
      this.running = false;
    }
    if (this.poisoned !== undefined) {
      for (const op of this.queue.splice(0)) op.reject(this.failure());
    }
  }

  private poison(e: unknown): void {
    if (this.poisoned === undefined) {
      this.poisoned = errorMessage(e);
      this.logger.log("error", "wal: I/O failed; refusing further writes", { error: this.poisoned });
    }
  }

  private failure(): SoltixError {
    return new SoltixError("unavailable", `the WAL cannot be written (${this.poisoned}); writes are refused until the disk can be written again`);
  }

  async close(): Promise<void> {
    while (this.running) await this.loopRun;
    if (this.file !== undefined) await this.file.close();
    this.file = undefined;
  }
}
