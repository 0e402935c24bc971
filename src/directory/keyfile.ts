/**
 * The epoch key file, mode 0600, next to the database (`<db>.key`):
 *
 *   { "suite": …, "epochs": [{ "epoch": n, "secretKey": hex, "createdAt": ms, "retiresAt"?: ms }] }
 *
 * Several epochs, because a rotation keeps the previous key serving through its grace
 * period. The first format, `{ "suite", "epoch", "secretKey" }`, is still read (one epoch).
 * Kept out of the database so that a copy of the directory (a backup, a replica for
 * analytics) does not carry the key that lets anyone brute-force phone numbers against
 * the snapshot. Nothing here logs or puts the secret into an error message.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncFolder } from './sync-folder.js';
import { ContactPsiError } from '../errors.js';
import { SuiteIds, type SuiteId } from '../oprf/suite.js';

/** One epoch's key, as `keygen` makes it (and as the first file format held it). */
export interface EpochKey {
  readonly suite: SuiteId;
  readonly epoch: number;
  readonly secretKey: Uint8Array;
}

export interface EpochKeyEntry {
  readonly epoch: number;
  readonly secretKey: Uint8Array;
  /** Milliseconds since 1970. */
  readonly createdAt: number;
  /** When a previous epoch stops being served (set when the next one became current). */
  readonly retiresAt?: number;
}

export interface KeyFile {
  readonly suite: SuiteId;
  /** Ascending by epoch, distinct. */
  readonly epochs: readonly EpochKeyEntry[];
}

export interface LoadKeyFileOptions {
  /** Accept a key file that group or others may read (default false: `key_file_permissions`). */
  readonly allowInsecurePermissions?: boolean;
}

/** Largest key file read: room for a few dozen epochs (a real one holds one to three). */
const MAX_KEY_FILE_BYTES = 16_384;

const isKeyFile = (key: EpochKey | KeyFile): key is KeyFile => Array.isArray((key as KeyFile).epochs);

function serialize(file: KeyFile): string {
  const epochs = file.epochs.map((e) => ({
    epoch: e.epoch,
    secretKey: Buffer.from(e.secretKey).toString('hex'),
    createdAt: e.createdAt,
    ...(e.retiresAt === undefined ? {} : { retiresAt: e.retiresAt }),
  }));
  return `${JSON.stringify({ suite: file.suite, epochs })}\n`;
}

/** Writes and fsyncs all of `text` to a file opened with `flags` and mode 0600. */
function writeNew(path: string, flags: string, text: string, existsCode: string): void {
  let fd: number;
  try {
    // The mode is set by open(2) itself, so there is no moment the file is readable by
    // others; the umask can only take bits away.
    fd = openSync(path, flags, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'EEXIST' ? existsCode : 'key_file_unwritable';
    throw new ContactPsiError(code, `cannot create key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(path);
    throw new ContactPsiError('key_file_unwritable', `cannot write key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  closeSync(fd);
}

/**
 * Creates the key file; fails (`key_file_exists`) rather than overwrite one, since a lost
 * key invalidates every tag and every client's pinned public key.
 */
export function createKeyFile(path: string, key: EpochKey | KeyFile, now: number = Date.now()): void {
  const file = isKeyFile(key) ? key : { suite: key.suite, epochs: [{ epoch: key.epoch, secretKey: key.secretKey, createdAt: now }] };
  writeNew(path, 'wx', serialize(checked(path, file)), 'key_file_exists');
}

export interface WriteKeyFileOptions {
  /**
   * What the writer believes the file holds now. If the file holds something else, another
   * process changed it (a rotation beside a running server), and writing this writer's
   * view would silently drop that process's keys: refused with `key_file_changed`. The
   * directory lock (directory-lock.ts) keeps a second key owner out; this catches a writer
   * that did not take it.
   */
  readonly expected?: KeyFile;
}

function checkUnchanged(path: string, expected: KeyFile): void {
  let current: KeyFile | undefined;
  try {
    current = loadKeyFile(path, { allowInsecurePermissions: true });
  } catch (err) {
    if (!(err instanceof ContactPsiError && err.code === 'key_file_missing')) throw err;
  }
  if (current === undefined || serialize(current) !== serialize(checked(path, expected))) {
    throw new ContactPsiError(
      'key_file_changed',
      `key file ${path} was changed by another process (a rotation while a server owns the directory?); nothing was written: restart with the current file`,
    );
  }
}

/**
 * Replaces the key file atomically: a new 0600 file beside it, fsynced, renamed over the
 * old one, then the folder fsynced. A crash leaves either the old or the new file, never
 * a torn one (which would lose every epoch's key at once).
 */
export function writeKeyFile(path: string, file: KeyFile, options: WriteKeyFileOptions = {}): void {
  const text = serialize(checked(path, file));
  if (options.expected !== undefined) checkUnchanged(path, options.expected);
  // Unpredictable (128 random bits) and opened O_EXCL: nobody can pre-create or link it.
  const temp = `${path}.${process.pid}.${randomBytes(16).toString('hex')}.tmp`;
  writeNew(temp, 'wx', text, 'key_file_unwritable');
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkSync(temp);
    throw new ContactPsiError('key_file_unwritable', `cannot replace key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  syncFolder(dirname(path));
}

/** Reads and checks a key file (either format); `key_file_missing` when there is none. */
export function loadKeyFile(path: string, options: LoadKeyFileOptions = {}): KeyFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'key_file_missing' : 'key_file_unreadable';
    throw new ContactPsiError(code, `cannot open key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let text: string;
  let modified: number;
  try {
    // fstat on the opened descriptor: the file checked is the file read.
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ContactPsiError('key_file_invalid', `key file ${path} is not a regular file`);
    // POSIX permission bits only; Windows has no such bits (ACLs protect the file there).
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0 && options.allowInsecurePermissions !== true) {
      throw new ContactPsiError(
        'key_file_permissions',
        `key file ${path} has mode ${(stat.mode & 0o777).toString(8)}: group and others must have no access (chmod 600)`,
      );
    }
    if (stat.size > MAX_KEY_FILE_BYTES) throw new ContactPsiError('key_file_invalid', `key file ${path} is too large`);
    text = readFileSync(fd, 'utf8');
    modified = Math.trunc(stat.mtimeMs);
  } finally {
    closeSync(fd);
  }
  return parseKeyFile(path, text, modified);
}

const invalid = (path: string, reason: string) => new ContactPsiError('key_file_invalid', `key file ${path}: ${reason}`);
const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function parseKeyFile(path: string, text: string, modified: number): KeyFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(path, 'not JSON'); // the parser's message may quote the file, i.e. the secret
  }
  if (typeof value !== 'object' || value === null) throw invalid(path, 'not a JSON object');
  const { suite, epochs, epoch, secretKey } = value as Record<string, unknown>;
  if (typeof suite !== 'string' || !(SuiteIds as readonly string[]).includes(suite)) throw invalid(path, 'unknown suite');
  // The first format: one key; its creation time is the file's.
  if (epochs === undefined) return checked(path, { suite: suite as SuiteId, epochs: [parseEntry(path, { epoch, secretKey, createdAt: modified })] });
  if (!Array.isArray(epochs)) throw invalid(path, 'epochs must be an array');
  return checked(path, { suite: suite as SuiteId, epochs: epochs.map((e) => parseEntry(path, e)) });
}

function parseEntry(path: string, value: unknown): EpochKeyEntry {
  if (typeof value !== 'object' || value === null) throw invalid(path, 'an epoch entry is not an object');
  const { epoch, secretKey, createdAt, retiresAt } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) throw invalid(path, 'epoch must be a positive integer');
  if (typeof secretKey !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(secretKey)) throw invalid(path, 'secretKey must be hex');
  if (!isTime(createdAt)) throw invalid(path, 'createdAt must be a time in ms');
  if (retiresAt !== undefined && !isTime(retiresAt)) throw invalid(path, 'retiresAt must be a time in ms');
  const entry = { epoch: epoch as number, secretKey: new Uint8Array(Buffer.from(secretKey, 'hex')), createdAt };
  return retiresAt === undefined ? entry : { ...entry, retiresAt };
}

/** At least one epoch, distinct, sorted ascending. */
function checked(path: string, file: KeyFile): KeyFile {
  const epochs = [...file.epochs].sort((a, b) => a.epoch - b.epoch);
  if (epochs.length === 0) throw invalid(path, 'no epochs');
  if (epochs.some((e, i) => i > 0 && epochs[i - 1].epoch === e.epoch)) throw invalid(path, 'an epoch appears twice');
  return { suite: file.suite, epochs };
}
