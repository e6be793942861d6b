// The file system as the storage engine needs it. Durability is explicit: nothing is durable until
// sync() (file data) and syncDir() (a created, renamed or removed name) have resolved. The real
// implementation is adapters/node-fs.ts; tests and the simulator may supply a crashable one.

export interface AppendFile {
  /** Appends at the end of the file. */
  append(bytes: Uint8Array): Promise<void>;
  /** fsync: data and size are durable once this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface FileSystem {
  mkdirp(dir: string): Promise<void>;
  /** Names (not paths) in a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** Reads up to `length` bytes at `position`; fewer at end of file. */
  readRange(path: string, position: number, length: number): Promise<Uint8Array>;
  size(path: string): Promise<number>;
  /** Creates (or truncates) a file for appending. */
  create(path: string): Promise<AppendFile>;
  truncate(path: string, length: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** fsync of a directory, making created/renamed/removed names in it durable. */
  syncDir(dir: string): Promise<void>;
}

/** Error codes of a disk that cannot take writes now (full, over quota, mounted read-only). */
const UNWRITABLE_CODES = new Set(["ENOSPC", "EDQUOT", "EROFS"]);

/** The code when `e` says the disk cannot be written right now (a node then runs read-only), else undefined. */
export function unwritableCode(e: unknown): string | undefined {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" && UNWRITABLE_CODES.has(code) ? code : undefined;
}

/** Writes a whole file durably: temp name → fsync → rename → fsync directory. */
export async function writeFileDurable(fs: FileSystem, dir: string, name: string, bytes: Uint8Array): Promise<void> {
  await writeTempDurable(fs, dir, name, bytes);
  await installTemps(fs, dir, [name]);
}

/** Step 1 of a durable write: the whole file under `<name>.tmp`, fsynced. */
export async function writeTempDurable(fs: FileSystem, dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const f = await fs.create(`${dir}/${name}.tmp`);
  try {
    await f.append(bytes);
    await f.sync();
  } finally {
    await f.close();
  }
}

/** Step 2: temp files (written by writeTempDurable) renamed to their names, then one fsync of the directory. */
export async function installTemps(fs: FileSystem, dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) await fs.rename(`${dir}/${name}.tmp`, `${dir}/${name}`);
  await fs.syncDir(dir);
}
