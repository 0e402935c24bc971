/**
 * The SQLite directory file and its `-wal` and `-shm` companions hold every registered
 * identifier in clear, so they are private to the server's user, like the key file
 * (keyfile.ts): mode 0600 whatever the umask, and a directory that group or others can
 * read is refused (`directory_file_permissions`), unless the caller opts out.
 *
 * How: the database file is created here, by open(2) with mode 0600 and O_EXCL, before
 * SQLite opens it (SQLite would create it 0644 & ~umask). SQLite then creates `-wal` and
 * `-shm` with the database file's permission bits (its unix VFS copies them and fchmods
 * past the umask: findCreateFileMode, unixOpenSharedMemory), and after the open this module
 * chmods both to 0600 anyway, so a copy left by an older version (0644) is tightened too.
 * Windows has no such bits (ACLs protect the files there): nothing is checked.
 */
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';

export const DIRECTORY_FILE_MODE = 0o600;
/** The companions SQLite keeps beside the database in WAL mode. */
export const SQLITE_COMPANIONS = ['-wal', '-shm'] as const;

export interface DirectoryFileModeOptions {
  /** Accept directory files that group or others may access (default false). */
  readonly allowInsecurePermissions?: boolean;
}

/** A path SQLite opens as a file of that name (not `:memory:`, a temporary '' or a URI). */
const isPlainFile = (path: string): boolean => path !== '' && path !== ':memory:' && !path.startsWith('file:');
const checked = (): boolean => process.platform !== 'win32';

/** The mode bits of `path`, or undefined when there is no such file. */
function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Before SQLite opens `path`: refuses a database or companion that group or others may
 * access, and creates a missing database file empty with mode 0600 (SQLite initialises an
 * empty file as a new database).
 */
export function prepareDirectoryFile(path: string, options: DirectoryFileModeOptions = {}): void {
  if (!isPlainFile(path) || !checked()) return;
  for (const file of [path, ...SQLITE_COMPANIONS.map((s) => path + s)]) {
    const mode = modeOf(file);
    if (mode !== undefined && (mode & 0o077) !== 0 && options.allowInsecurePermissions !== true) {
      throw new ContactPsiError(
        'directory_file_permissions',
        `directory file ${file} has mode ${mode.toString(8)}: it holds every registered identifier, group and others must have no access ` +
          `(chmod 600 ${path} ${path}-wal ${path}-shm)`,
      );
    }
  }
  try {
    closeSync(openSync(path, 'wx', DIRECTORY_FILE_MODE));
  } catch (err) {
    // Already there (checked above, or created by another process just now): fine.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * After SQLite opened `path`: the database and its companions are 0600, whatever created
 * them. A file owned by another user cannot be changed: that one is left to the check
 * prepareDirectoryFile made.
 */
export function secureDirectoryFiles(path: string, options: DirectoryFileModeOptions = {}): void {
  if (!isPlainFile(path) || !checked() || options.allowInsecurePermissions === true) return;
  for (const file of [path, ...SQLITE_COMPANIONS.map((s) => path + s)]) {
    const mode = modeOf(file);
    if (mode === undefined || (mode & 0o077) === 0) continue;
    try {
      chmodSync(file, mode & 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM' && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
