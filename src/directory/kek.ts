/**
 * The key-encryption key (KEK) of a fleet: 32 random bytes, hex, that every node of a
 * PostgreSQL directory holds outside the database, in a 0600 file (`--kek-file`) or in the
 * environment (`CONTACT_PSI_KEK`). The epoch keys and the quota receipt key are stored in
 * the database sealed under it (postgres/key-vault.ts), so a dump, a backup or a replica of
 * the database carries no key in clear. Nothing here puts the KEK into a message or a log.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';

export const KEK_BYTES = 32;
export const KEK_ENV = 'CONTACT_PSI_KEK';
/** A KEK file holds 64 hex digits and a newline; anything much longer is not one. */
const MAX_KEK_FILE_BYTES = 1024;

export interface KekSource {
  /** A 0600 file holding the KEK as hex. */
  readonly file?: string;
  /** The environment to read `CONTACT_PSI_KEK` from when there is no file (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Accept a file that group or others may read (default false: `kek_permissions`). */
  readonly allowInsecurePermissions?: boolean;
}

/** Parses hex text into a 32-byte KEK; the error names where it came from, never the text. */
function parseKek(text: string, where: string): Uint8Array {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ContactPsiError('kek_invalid', `${where} does not hold a ${KEK_BYTES}-byte key as 64 hex digits`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * The KEK from `source.file`, else from `CONTACT_PSI_KEK`; `kek_missing` when neither is
 * given. The file must be a regular file of mode 0600 (checked on the opened descriptor).
 */
export function loadKek(source: KekSource = {}): Uint8Array {
  if (source.file !== undefined) {
    let fd: number;
    try {
      fd = openSync(source.file, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'kek_missing' : 'kek_unreadable';
      throw new ContactPsiError(code, `cannot open key-encryption key file ${source.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new ContactPsiError('kek_invalid', `key-encryption key file ${source.file} is not a regular file`);
      if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0 && source.allowInsecurePermissions !== true) {
        throw new ContactPsiError('kek_permissions', `key-encryption key file ${source.file} has mode ${(stat.mode & 0o777).toString(8)}: group and others must have no access (chmod 600)`);
      }
      if (stat.size > MAX_KEK_FILE_BYTES) throw new ContactPsiError('kek_invalid', `key-encryption key file ${source.file} is too large`);
      return parseKek(readFileSync(fd, 'utf8'), `key-encryption key file ${source.file}`);
    } finally {
      closeSync(fd);
    }
  }
  const value = (source.env ?? process.env)[KEK_ENV];
  if (value === undefined || value === '') {
    throw new ContactPsiError('kek_missing', `a PostgreSQL directory needs its key-encryption key: --kek-file <file> or ${KEK_ENV} (make one with \`contact-psi keygen --kek\`)`);
  }
  return parseKek(value, KEK_ENV);
}

/** Creates a new KEK file (mode 0600 from open(2) on; never overwrites: `kek_exists`). */
export function createKekFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'kek_exists' : 'kek_unwritable';
    throw new ContactPsiError(code, `cannot create key-encryption key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  try {
    writeSync(fd, `${randomBytes(KEK_BYTES).toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
}
