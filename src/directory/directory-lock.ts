/**
 * One owner of a directory's epoch keys at a time. `serve` (which rotates and retires
 * epochs) and `directory rotate` hold this lock for as long as they run; a second one is
 * refused (`directory_locked`) with the holder's pid. Before, `directory rotate` beside a
 * running server was accepted, and the server, which keeps the key ring in memory, later
 * rewrote the key file without the new epoch's key.
 *
 * `directory import` does not take it: imports only add users and tags, which a running
 * server picks up (`--refresh-seconds`), and the one key change an import can make, creating
 * the first key of a new directory, is an exclusive create (keyfile.ts, O_EXCL).
 *
 * The lock is an OS lock, not a pid file: a RESERVED lock (BEGIN IMMEDIATE) on the SQLite
 * file `<db>.lock`, held by an open transaction until release. The kernel drops it when
 * its process dies, however it dies (kill -9 included), so a dead owner's lock is free
 * at once and no takeover race exists (a pid file needs a check-then-remove that two
 * starters can both pass, and trusts a pid the system may have reused). Other processes
 * can still read the file, and `<db>.lock` holds a table with the owner's pid, written in
 * a committed transaction before the long one starts and checked against the lock: a pid
 * left by a dead owner is never reported as the holder.
 * Like every fcntl lock, it needs a local file system (not NFS).
 */
import Database from 'better-sqlite3';
import { closeSync, openSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';

export interface DirectoryLock {
  /** `<db>.lock`. */
  readonly path: string;
  /** Releases the lock (idempotent). */
  release(): void;
}

export interface LockHolder {
  readonly pid: number;
  readonly command: string;
  /** Milliseconds since 1970. */
  readonly since: number;
}

export const lockPathOf = (db: string): string => `${db}.lock`;

const isBusy = (err: unknown): boolean => {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
};

/** True unless the process is known to be gone (EPERM: alive, another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function openLockFile(path: string): Database.Database {
  try {
    // 0600 from the start, like the directory files (file-mode.ts).
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ContactPsiError('directory_lock_failed', `cannot create lock file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  }
  // timeout 0: never wait for the owner (the default would block 5 s, then fail the same
  // way). The default rollback journal: RESERVED then still lets others read the owner row.
  return new Database(path, { timeout: 0 });
}

/** Who holds the lock, as recorded in the lock file, if that process is alive. */
export function lockHolder(db: string): LockHolder | undefined {
  let conn: Database.Database | undefined;
  try {
    conn = new Database(lockPathOf(db), { readonly: true, fileMustExist: true, timeout: 0 });
    const row = conn.prepare('SELECT pid, command, since FROM owner WHERE id = 1').get() as LockHolder | undefined;
    return row !== undefined && Number.isSafeInteger(row.pid) && row.pid > 0 && alive(row.pid) ? row : undefined;
  } catch {
    return undefined;
  } finally {
    conn?.close();
  }
}

/**
 * Takes the lock of the directory at `db` for `command` (e.g. "serve"), or throws
 * `directory_locked` naming the holder. Release it when the command ends; a process that
 * dies releases it anyway.
 */
export function lockDirectory(db: string, command: string, now: number = Date.now()): DirectoryLock {
  const path = lockPathOf(db);
  const conn = openLockFile(path);
  const fail = (err: unknown): never => {
    conn.close();
    if (!isBusy(err)) throw new ContactPsiError('directory_lock_failed', `cannot lock ${path}: ${(err as Error).message}`, { cause: err });
    throw lockedError(db);
  };
  try {
    conn.exec('CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, command TEXT NOT NULL, since INTEGER NOT NULL)');
  } catch (err) {
    fail(err);
  }
  const record = conn.prepare(
    'INSERT INTO owner (id, pid, command, since) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, command = excluded.command, since = excluded.since',
  );
  const recorded = conn.prepare('SELECT pid FROM owner WHERE id = 1').pluck();
  // Who we are must be committed for readers to see it, and a commit ends the lock: so the
  // record comes first (a write, refused while another holds the lock), then the lock.
  // A starter racing us may overwrite the record between the two steps; once we hold the
  // lock nobody can write, so we check, and record again if it is not ours.
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      record.run(process.pid, command, now);
      conn.exec('BEGIN IMMEDIATE');
    } catch (err) {
      fail(err);
    }
    if (recorded.get() === process.pid) {
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          conn.exec('ROLLBACK');
          conn.close();
        },
      };
    }
    conn.exec('ROLLBACK');
  }
  return fail(Object.assign(new Error('lock contention'), { code: 'SQLITE_BUSY' }));
}

function lockedError(db: string): ContactPsiError {
  const holder = lockHolder(db);
  const who = holder ? `process ${holder.pid} (${holder.command}, since ${new Date(holder.since).toISOString()})` : 'another process';
  return new ContactPsiError(
    'directory_locked',
    `directory ${db} is owned by ${who}: one server or rotation at a time (to rotate under a running server, send it SIGUSR2)`,
  );
}
