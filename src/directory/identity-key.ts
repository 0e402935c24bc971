/**
 * The directory identity key file, mode 0600, beside the database (`<db>.identity`):
 *
 *   { "identity": "ed25519", "secretKey": "<64 hex digits>" }
 *
 * The long-term Ed25519 key that signs every epoch key statement and announcement
 * (spec/verifiability.md). Clients pin its public key, so it is never replaced: losing it
 * makes every pinned client refuse the directory, and a copy lets anyone sign a private
 * view. Like the epoch key file it is kept out of the database (a backup or replica of
 * the data must not carry it), is read only if group and others have no access, and is
 * written so that no moment exists where it is readable by others or half written:
 * a temporary file opened exclusively (O_EXCL) with mode 0600, fsynced, then linked to its
 * name (link(2) is the atomic rename that refuses to replace an existing file), then the
 * folder fsynced. Nothing here logs the secret or puts it into an error message.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncFolder } from './sync-folder.js';
import { ContactPsiError } from '../errors.js';
import { identityPublicKey, IDENTITY_SECRET_BYTES } from '../protocol/discovery/announcement.js';

export interface IdentityKey {
  readonly secretKey: Uint8Array;
  /** The public key clients pin (32 bytes). */
  readonly publicKey: Uint8Array;
}

export interface LoadIdentityOptions {
  /** Accept a file that group or others may read (default false: `identity_key_permissions`). */
  readonly allowInsecurePermissions?: boolean;
}

/** Largest identity file read: the real one is under 100 bytes. */
const MAX_IDENTITY_FILE_BYTES = 4096;

export const identityKeyPath = (dbPath: string): string => `${dbPath}.identity`;

const fail = (code: string, message: string, cause?: unknown) => new ContactPsiError(code, message, cause === undefined ? {} : { cause });

const serialize = (secretKey: Uint8Array): string => `${JSON.stringify({ identity: 'ed25519', secretKey: Buffer.from(secretKey).toString('hex') })}\n`;

/**
 * Creates the identity file with a fresh key (or `secretKey`, for tests and imports);
 * `identity_key_exists` rather than replace one.
 */
export function createIdentityKeyFile(path: string, secretKey: Uint8Array = new Uint8Array(randomBytes(IDENTITY_SECRET_BYTES))): IdentityKey {
  if (secretKey.length !== IDENTITY_SECRET_BYTES) throw fail('identity_key_invalid', 'an identity secret key is 32 bytes');
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fd: number;
  try {
    // 'wx': O_CREAT | O_EXCL, so a file planted at the temporary name is never reused; the
    // mode is set by open(2) itself, and the umask can only take bits away.
    fd = openSync(temp, 'wx', 0o600);
  } catch (err) {
    throw fail('identity_key_unwritable', `cannot create identity key file beside ${path}: ${(err as Error).message}`, err);
  }
  try {
    writeSync(fd, serialize(secretKey));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw fail('identity_key_unwritable', `cannot write identity key file ${path}: ${(err as Error).message}`, err);
  }
  closeSync(fd);
  try {
    linkSync(temp, path);
  } catch (err) {
    const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
    throw fail(exists ? 'identity_key_exists' : 'identity_key_unwritable', `cannot create identity key file ${path}: ${(err as Error).message}`, err);
  } finally {
    unlinkSync(temp);
  }
  syncFolder(dirname(path));
  return { secretKey: secretKey.slice(), publicKey: identityPublicKey(secretKey) };
}

/** Reads and checks the identity file; `identity_key_missing` when there is none. */
export function loadIdentityKeyFile(path: string, options: LoadIdentityOptions = {}): IdentityKey {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'identity_key_missing' : 'identity_key_unreadable';
    throw fail(code, `cannot open identity key file ${path}: ${(err as Error).message}`, err);
  }
  let text: string;
  try {
    // fstat on the opened descriptor: the file checked is the file read.
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw fail('identity_key_invalid', `identity key file ${path} is not a regular file`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0 && options.allowInsecurePermissions !== true) {
      throw fail(
        'identity_key_permissions',
        `identity key file ${path} has mode ${(stat.mode & 0o777).toString(8)}: group and others must have no access (chmod 600)`,
      );
    }
    if (stat.size > MAX_IDENTITY_FILE_BYTES) throw fail('identity_key_invalid', `identity key file ${path} is too large`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const secretKey = parse(path, text);
  return { secretKey, publicKey: identityPublicKey(secretKey) };
}

function parse(path: string, text: string): Uint8Array {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail('identity_key_invalid', `identity key file ${path}: not JSON`); // the parser's message may quote the secret
  }
  const { identity, secretKey } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (identity !== 'ed25519') throw fail('identity_key_invalid', `identity key file ${path}: "identity" must be "ed25519"`);
  if (typeof secretKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(secretKey)) throw fail('identity_key_invalid', `identity key file ${path}: "secretKey" must be 64 hex digits`);
  return new Uint8Array(Buffer.from(secretKey, 'hex'));
}

/** The key of `path`, created on first use; two processes racing both end with the same key. */
export function loadOrCreateIdentityKey(path: string, options: LoadIdentityOptions = {}): IdentityKey {
  try {
    return loadIdentityKeyFile(path, options);
  } catch (err) {
    if ((err as ContactPsiError).code !== 'identity_key_missing') throw err;
  }
  try {
    return createIdentityKeyFile(path);
  } catch (err) {
    if ((err as ContactPsiError).code !== 'identity_key_exists') throw err;
    return loadIdentityKeyFile(path, options); // another process created it first
  }
}
