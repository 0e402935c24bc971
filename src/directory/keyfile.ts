/**
 * The epoch key file: `{ "suite": …, "epoch": n, "secretKey": hex }`, mode 0600, next to the
 * database (`<db>.key`). Kept out of the database so that a copy of the directory (a backup,
 * a replica for analytics) does not carry the key that lets anyone brute-force phone
 * numbers against the snapshot. Nothing here logs or puts the secret into an error message.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';
import { SuiteIds, type SuiteId } from '../oprf/suite.js';

export interface EpochKey {
  readonly suite: SuiteId;
  readonly epoch: number;
  readonly secretKey: Uint8Array;
}

export interface LoadKeyFileOptions {
  /** Accept a key file that group or others may read (default false: `key_file_permissions`). */
  readonly allowInsecurePermissions?: boolean;
}

/** Largest key file read; a real one is about 120 bytes. */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * Creates the key file; fails (`key_file_exists`) rather than overwrite one, since a lost
 * key invalidates every tag and every client's pinned public key. Mode 0600 is set by
 * open(2) itself ('wx' = O_CREAT|O_EXCL), so there is no moment the file is readable by
 * others; the umask can only take bits away.
 */
export function createKeyFile(path: string, key: EpochKey): void {
  const text = `${JSON.stringify({ suite: key.suite, epoch: key.epoch, secretKey: Buffer.from(key.secretKey).toString('hex') })}\n`;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'key_file_exists' : 'key_file_unwritable';
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

/** Reads and checks a key file; `key_file_missing` when there is none. */
export function loadKeyFile(path: string, options: LoadKeyFileOptions = {}): EpochKey {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'key_file_missing' : 'key_file_unreadable';
    throw new ContactPsiError(code, `cannot open key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let text: string;
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
  } finally {
    closeSync(fd);
  }
  return parseKeyFile(path, text);
}

function parseKeyFile(path: string, text: string): EpochKey {
  const invalid = (reason: string) => new ContactPsiError('key_file_invalid', `key file ${path}: ${reason}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('not JSON'); // the parser's message may quote the file, i.e. the secret
  }
  if (typeof value !== 'object' || value === null) throw invalid('not a JSON object');
  const { suite, epoch, secretKey } = value as Record<string, unknown>;
  if (typeof suite !== 'string' || !(SuiteIds as readonly string[]).includes(suite)) throw invalid('unknown suite');
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) throw invalid('epoch must be a positive integer');
  if (typeof secretKey !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(secretKey)) throw invalid('secretKey must be hex');
  return { suite: suite as SuiteId, epoch: epoch as number, secretKey: new Uint8Array(Buffer.from(secretKey, 'hex')) };
}
