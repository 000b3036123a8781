/**
 * Node-only file helpers (import this module only from Node code; the rest of `src/io` is
 * browser-safe).
 *
 * Contract:
 * - `writeFileAtomic(path, data)` writes `data` to a temporary file in the same directory as
 *   `path`, fsyncs it, then renames it over `path`, so readers see either the old file or the
 *   complete new one, never a partial write. On any error the temporary file is removed and the
 *   error is rethrown; the target is left untouched.
 * - `readFileBytes(path)` reads a whole file as a plain `Uint8Array`.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Atomically replace (or create) `path` with `data` (strings are written as UTF-8). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx'); // 'x': never clobber an existing file with our temp name
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** Best effort: persist the rename itself. Not supported everywhere (e.g. Windows), so ignore failures. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // ignore
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Read a whole file as a Uint8Array (a view of the bytes Node read; not a Buffer subclass instance). */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const buf = await readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
