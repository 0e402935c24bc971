/**
 * Where a directory's epoch keys are kept: a 0600 key file beside a SQLite directory
 * (keyfile.ts), or, for a fleet of servers on PostgreSQL, the database itself, each key
 * sealed under a key-encryption key every node holds (postgres/key-vault.ts). The key ring
 * (epoch-keys.ts) and openKeys talk to this interface only.
 */
import { ContactPsiError } from '../errors.js';
import { createKeyFile, loadKeyFile, writeKeyFile, type KeyFile } from './keyfile.js';

export interface KeyStorage {
  /** Where the keys are, for messages (a path, or "the key vault of the database"); never a secret. */
  readonly where: string;
  /** The stored keys, or undefined when none were ever stored. */
  load(): Promise<KeyFile | undefined>;
  /**
   * Stores the first keys of a directory. When another process stored some first (an import
   * beside a starting server, two nodes starting at once), returns those: its key wins.
   */
  create(file: KeyFile): Promise<KeyFile>;
  /**
   * Replaces the stored keys with `file`, refusing (`key_file_changed`) when they are no
   * longer `expected`: another process changed them, and writing this view would drop its keys.
   */
  replace(file: KeyFile, expected: KeyFile): Promise<void>;
}

/** The key file of a SQLite directory (`<db>.key`, mode 0600). */
export function fileKeyStorage(path: string, allowInsecurePermissions = false): KeyStorage {
  const load = (): KeyFile => loadKeyFile(path, { allowInsecurePermissions });
  return {
    where: path,
    async load() {
      try {
        return load();
      } catch (err) {
        if (err instanceof ContactPsiError && err.code === 'key_file_missing') return undefined;
        throw err;
      }
    },
    async create(file) {
      try {
        createKeyFile(path, file);
        return file;
      } catch (err) {
        if (!(err instanceof ContactPsiError && err.code === 'key_file_exists')) throw err;
        return load();
      }
    },
    async replace(file, expected) {
      writeKeyFile(path, file, { expected });
    },
  };
}
