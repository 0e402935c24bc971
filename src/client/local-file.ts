/**
 * Small private JSON files of the client SDK (consent, manual links, sync state). They hold
 * personal data, so they are created 0600 in a 0700 folder, and written atomically (a
 * fresh temp file, fsync, rename) so a crash leaves either the old or the new file, never
 * a torn one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, writevSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The parsed JSON of `path`, or undefined when the file does not exist. Throws on bad JSON. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

export function writeJsonFileAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, [Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8')]);
}

/**
 * Writes `parts` to `path` atomically: a temp file in the same folder whose name is 128
 * random bits (no pid or counter another local user could predict and pre-create as a
 * symlink or a wider-mode file), opened O_CREAT|O_EXCL ('wx') with mode 0600, fsynced, then
 * renamed over `path`. A failure removes the temp file.
 */
export function writeFileAtomic(path: string, parts: readonly Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      // One buffer, one write: the record writers hand in a part per field, and a write
      // each made saving 20,000 cached outputs ~100,000 system calls (~0.3-0.5 s per save,
      // the largest cost of a 10,000-contact sync's client after the group work).
      // Several parts (a record's header, payload and checksum) in one writev, without first
      // copying a megabyte payload into one buffer; what a short write leaves, written on.
      let total = 0;
      for (const p of parts) total += p.length;
      const written = parts.length > 1 && parts.length <= 16 ? writevSync(fd, parts as Uint8Array[]) : 0;
      if (written < total) {
        const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        for (let off = written; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * writeFileAtomic on the thread pool (same temp name rule, O_EXCL 0600, fsync, rename): the
 * event loop goes on while the disk syncs, and several files (a sync's outputs, pins and
 * key pin) sync at once instead of one after another.
 */
export async function writeFileAtomicAsync(path: string, parts: readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    try {
      let total = 0;
      for (const p of parts) total += p.length;
      const { bytesWritten } = await handle.writev(parts as Uint8Array[]);
      if (bytesWritten < total) {
        const data = Buffer.concat(parts);
        for (let off = bytesWritten; off < data.length; ) off += (await handle.write(data, off, data.length - off)).bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** `<path>.<32 hex of crypto randomness>.tmp`: unpredictable, so it cannot be planted. */
export const tempPathFor = (path: string): string => `${path}.${randomBytes(16).toString('hex')}.tmp`;

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
