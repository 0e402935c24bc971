/**
 * A directory store named by a URL, the way every command and the library take it:
 *
 *   directory.sqlite, ./dir.db, sqlite:dir.db    the embedded SQLite store (keys in `<path>.key`)
 *   postgres://user:pw@host:5432/db              PostgreSQL, for a fleet (keys sealed in the
 *   postgresql://...                             database under a key-encryption key)
 *
 * A plain path stays a SQLite file, so `--db directory.sqlite` keeps working.
 */
import { ContactPsiError } from '../errors.js';
import type { KeyStorage } from './key-storage.js';
import { loadKek, type KekSource } from './kek.js';
import { PostgresKeyVault } from './postgres/key-vault.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres/store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import type { DirectoryStore } from './types.js';

export interface OpenStoreOptions {
  readonly sqlite?: SqliteStoreOptions;
  readonly postgres?: PostgresStoreOptions;
}

export const isPostgresUrl = (url: string): boolean => /^postgres(?:ql)?:\/\//i.test(url);

/** The SQLite file a URL names (`sqlite:` prefix optional), or undefined for a PostgreSQL URL. */
export function sqlitePathOf(url: string): string | undefined {
  if (isPostgresUrl(url)) return undefined;
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path === '') throw new ContactPsiError('invalid_option', 'the store URL names no file');
  return path;
}

/**
 * The URL as it may be printed: a PostgreSQL password is replaced by `***` (a URL reaches
 * logs and error messages; the password must not).
 */
export function redactStoreUrl(url: string): string {
  if (!isPostgresUrl(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<DirectoryStore> {
  if (!isPostgresUrl(url)) return SqliteStore.open(sqlitePathOf(url)!, options.sqlite);
  try {
    return await PostgresStore.open(url, options.postgres);
  } catch (err) {
    if (err instanceof ContactPsiError) throw err;
    // pg's messages do not quote the password; the URL is redacted all the same.
    throw new ContactPsiError('store_unavailable', `cannot open ${redactStoreUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Where a store's epoch keys live: undefined for SQLite and memory (the key file beside
 * the database, Directory.open's default), the key vault for PostgreSQL, opened with the
 * key-encryption key (`kek_missing` without one).
 */
export function keyStorageFor(store: DirectoryStore, kek: Uint8Array | KekSource = {}): KeyStorage | undefined {
  if (!(store instanceof PostgresStore)) return undefined;
  return new PostgresKeyVault(store.pool, kek instanceof Uint8Array ? kek : loadKek(kek));
}
