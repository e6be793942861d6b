// The real FileSystem over node:fs/promises (Bun, Deno and Node all provide it).

import * as fsp from "node:fs/promises";
import type { AppendFile, FileSystem } from "../ports/fs.ts";

function isNotFound(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: string }).code === "ENOENT";
}

export const nodeFileSystem: FileSystem = {
  async mkdirp(dir) {
    await fsp.mkdir(dir, { recursive: true });
  },
  async list(dir) {
    try {
      return await fsp.readdir(dir);
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  },
  async readFile(path) {
    const b = await fsp.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
  async readRange(path, position, length) {
    const fh = await fsp.open(path, "r");
    try {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  },
  async size(path) {
    return (await fsp.stat(path)).size;
  },
  async create(path): Promise<AppendFile> {
    const fh = await fsp.open(path, "w");
    return {
      async append(bytes) {
        let off = 0;
        while (off < bytes.length) {
          const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
          off += bytesWritten;
        }
      },
      async sync() {
        await fh.datasync();
      },
      async close() {
        await fh.close();
      },
    };
  },
  async truncate(path, length) {
    const fh = await fsp.open(path, "r+");
    try {
      await fh.truncate(length);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async rename(from, to) {
    await fsp.rename(from, to);
  },
  async remove(path) {
    try {
      await fsp.rm(path, { force: true });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
  async syncDir(dir) {
    const fh = await fsp.open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
