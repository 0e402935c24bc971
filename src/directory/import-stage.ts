/**
 * The stage of a streaming `directory import`: a SQLite file of its own (`<db>.import` beside
 * a SQLite directory) that holds the rows of the file accepted so far, their tags and sealed
 * labels once computed, the rows refused, and how far the file has been read. Each batch is
 * one transaction with its position, so a run killed at any point (kill -9 included) leaves
 * whole batches and the position after the last one: the next run with the same file reads
 * on from there and computes no tag twice. The directory itself changes only when the
 * whole file is staged, in one transaction of the store (sqlite-import-apply.ts,
 * postgres/import-apply.ts): a file is applied whole or not at all, as before streaming.
 * Duplicate user ids and identifiers claimed twice are found here (indexes on disk), not
 * in sets in memory that would hold every identifier of the file.
 *
 * Holds identifiers, labels and tags like the directory: created 0600 (file-mode.ts), and
 * deleted once its import is applied.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';
import { prepareDirectoryFile, secureDirectoryFiles, SQLITE_COMPANIONS } from './file-mode.js';
import type { DirectoryImportError, EarlierRows } from './import-rows.js';
import { SeenTable } from './import-seen.js';
import type { SourcePosition } from './import-source.js';
import type { BatchTags } from './import-tag.js';
import type { DirectoryUser } from './types.js';

/** Bumped when the stage's tables change: a stage of another version is discarded, never misread. */
const STAGE_VERSION = 2;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS progress (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    key         TEXT NOT NULL,
    offset      INTEGER NOT NULL,
    row         INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    exact       INTEGER NOT NULL,
    data_rows   INTEGER NOT NULL,
    batches     INTEGER NOT NULL,
    tags        INTEGER NOT NULL,
    epoch       INTEGER,
    public_key  TEXT,
    done        INTEGER NOT NULL
  );
  -- One row per accepted user, keyed by its row in the file (file order = change-log order).
  -- Both tables are appended to in row order (no index on user ids or identifiers, whose
  -- random order made each insert touch a random page): duplicates are found by the
  -- fingerprint table in memory (import-seen.ts), confirmed here by row.
  CREATE TABLE IF NOT EXISTS users (
    row          INTEGER PRIMARY KEY,
    user_id      TEXT NOT NULL,
    label        BLOB NOT NULL,
    discoverable INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS ids (
    row        INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    tag        BLOB,
    lookup_key BLOB,
    sealed     BLOB
  );
  CREATE INDEX IF NOT EXISTS ids_by_row ON ids (row);
  CREATE TABLE IF NOT EXISTS errors (
    row     INTEGER PRIMARY KEY,
    line    INTEGER,
    user_id TEXT,
    code    TEXT NOT NULL,
    reason  TEXT NOT NULL
  );
`;

/** What identifies one import: the file's bytes and every option that changes what is staged. */
export interface StageKey {
  readonly digest: string;
  readonly size: number;
  readonly format: 'csv' | 'json';
  readonly region: string | undefined;
  readonly maxUsers: number;
}

export const stageKeyText = (k: StageKey): string =>
  JSON.stringify({ v: STAGE_VERSION, digest: k.digest, size: k.size, format: k.format, region: k.region ?? null, maxUsers: k.maxUsers });

export interface StageProgress {
  readonly position: SourcePosition;
  /** Data rows read (blank lines excluded), for maxUsers. */
  readonly dataRows: number;
  readonly batches: number;
  /** Tags computed and stored in the stage so far (by every run). */
  readonly tags: number;
  /** The epoch and public key (hex) the staged tags were computed under. */
  readonly epoch: number | undefined;
  readonly publicKey: string | undefined;
  /** The whole file is staged. */
  readonly done: boolean;
}

/** An accepted row of a batch. */
export interface StagedUser {
  readonly row: number;
  readonly user: DirectoryUser;
  /**
   * Where the tags of `user.identifiers` start in the batch's BatchTags (import-tag.ts), in
   * identifier order; undefined when not computed (a hidden user, or a stage without tags).
   */
  tagAt?: number;
}

/** Rows per INSERT statement of a batch commit (the rest of a batch goes in one row at a time). */
const ROWS_PER_INSERT = 32;

/** `values` (`width` per row, flat) through `many` (ROWS_PER_INSERT rows a statement), the rest through `one`. */
function insertRows(many: Database.Statement, one: Database.Statement, values: readonly unknown[], width: number): void {
  const chunk = ROWS_PER_INSERT * width;
  let at = 0;
  for (; at + chunk <= values.length; at += chunk) many.run(values.slice(at, at + chunk));
  for (; at < values.length; at += width) one.run(values.slice(at, at + width));
}

interface RawProgress {
  key: string;
  offset: number;
  row: number;
  line: number;
  exact: number;
  data_rows: number;
  batches: number;
  tags: number;
  epoch: number | null;
  public_key: string | null;
  done: number;
}

export class ImportStage implements EarlierRows {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #q;
  #seen = new SeenTable();
  /**
   * Rows accepted (in the fingerprint table already) whose batch is not committed yet: a
   * fingerprint hit on one of them is confirmed against the user in memory, not the stage.
   */
  readonly #uncommitted = new Map<number, DirectoryUser>();

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      progress: p('SELECT * FROM progress WHERE id = 1'),
      userOfRow: p('SELECT user_id FROM users WHERE row = ?').pluck(),
      hasIdentifier: p('SELECT 1 FROM ids WHERE row = ? AND identifier = ?').pluck(),
      allUsers: p('SELECT row, user_id FROM users'),
      allIds: p('SELECT row, identifier FROM ids'),
      insertUser: p('INSERT INTO users (row, user_id, label, discoverable) VALUES (?, ?, ?, ?)'),
      insertId: p('INSERT INTO ids (row, identifier, tag, lookup_key, sealed) VALUES (?, ?, ?, ?, ?)'),
      insertUsers: p(`INSERT INTO users (row, user_id, label, discoverable) VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?)').join(', ')}`),
      insertIds: p(`INSERT INTO ids (row, identifier, tag, lookup_key, sealed) VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?)').join(', ')}`),
      insertError: p('INSERT OR REPLACE INTO errors (row, line, user_id, code, reason) VALUES (?, ?, ?, ?, ?)'),
      setProgress: p(`UPDATE progress SET offset = @offset, row = @row, line = @line, exact = @exact, data_rows = @dataRows,
        batches = batches + 1, tags = tags + @tags WHERE id = 1`),
      setDone: p('UPDATE progress SET done = 1 WHERE id = 1'),
      errors: p('SELECT row, line, user_id AS userId, code, reason FROM errors WHERE row > ? ORDER BY row LIMIT ?'),
      countErrors: p('SELECT COUNT(*) FROM errors').pluck(),
      countUsers: p('SELECT COUNT(*) FROM users').pluck(),
      countTags: p('SELECT COUNT(*) FROM ids WHERE tag IS NOT NULL').pluck(),
    };
  }

  /** Opens (creating, 0600) the stage file at `path`. */
  static open(path: string): ImportStage {
    try {
      return ImportStage.#open(path);
    } catch (err) {
      // A stage damaged by a power cut (synchronous = OFF) is only a head start: discarded.
      if (!/^SQLITE_(CORRUPT|NOTADB)/.test(String((err as { code?: unknown }).code))) throw err;
      ImportStage.remove(path);
      return ImportStage.#open(path);
    }
  }

  static #open(path: string): ImportStage {
    prepareDirectoryFile(path);
    const db = new Database(path, { timeout: 0 }); // a stage in use is refused at once, not after 5 s
    try {
      // One import per stage: a second process running the same import would read the same
      // position and stage its batches twice. The first write takes the lock for good.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      // No fsync: a kill -9 loses nothing committed (the pages are the OS's once written),
      // which is what resuming needs; a power cut may damage the stage, which is then
      // discarded and the file imported afresh (spec/directory.md, import). The fsyncs of
      // synchronous=NORMAL's checkpoints were most of the import's system time.
      db.pragma('synchronous = OFF');
      db.pragma('wal_autocheckpoint = 16384'); // checkpoint every 64 MiB of WAL, not every 4 MiB
      db.pragma('cache_size = -32768');
      db.exec(SCHEMA);
      secureDirectoryFiles(path);
    } catch (err) {
      db.close();
      if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw new ContactPsiError('directory_busy', `another import is running with the stage file ${path}`);
      throw err;
    }
    return new ImportStage(path, db);
  }

  /** Removes a stage file and its companions (after its import is applied, or refused). */
  static remove(path: string): void {
    for (const f of [path, ...SQLITE_COMPANIONS.map((s) => path + s)]) rmSync(f, { force: true });
  }

  /** The progress of the import of `key`, or undefined when the stage holds another import (or none). */
  progress(key: StageKey): StageProgress | undefined {
    const r = this.#q.progress.get() as RawProgress | undefined;
    if (r === undefined || r.key !== stageKeyText(key)) return undefined;
    return {
      position: { offset: r.offset, row: r.row, line: r.line, exact: r.exact === 1 },
      dataRows: r.data_rows,
      batches: r.batches,
      tags: r.tags,
      epoch: r.epoch ?? undefined,
      publicKey: r.public_key ?? undefined,
      done: r.done === 1,
    };
  }

  /** Fills the duplicate check from the stage (a resumed import: the rows an earlier run staged). */
  loadSeen(): void {
    const seen = new SeenTable();
    for (const r of this.#q.allUsers.iterate() as IterableIterator<{ row: number; user_id: string }>) seen.add('user', r.user_id, r.row);
    for (const r of this.#q.allIds.iterate() as IterableIterator<{ row: number; identifier: string }>) seen.add('identifier', r.identifier, r.row);
    this.#seen = seen;
    this.#uncommitted.clear();
  }

  /** Empties the stage and starts the import of `key` (tags, if any, under `epoch`). */
  reset(key: StageKey, epoch: number | undefined, publicKey: string | undefined): void {
    this.#db
      .transaction(() => {
        this.#db.exec('DELETE FROM progress; DELETE FROM users; DELETE FROM ids; DELETE FROM errors;');
        this.#db
          .prepare(`INSERT INTO progress (id, key, offset, row, line, exact, data_rows, batches, tags, epoch, public_key, done)
            VALUES (1, ?, 0, 0, 1, 1, 0, 0, 0, ?, ?, 0)`)
          .run(stageKeyText(key), epoch ?? null, publicKey ?? null);
      })
      .immediate();
    this.#seen = new SeenTable();
    this.#uncommitted.clear();
  }

  /**
   * Staged tags of another epoch (a rotation between two runs) are useless: dropped, and the
   * rest of the file is staged with tags of `epoch` (precompute computes the dropped ones).
   */
  retag(epoch: number | undefined, publicKey: string | undefined): number {
    return this.#db
      .transaction((): number => {
        const dropped = this.#db.prepare('UPDATE ids SET tag = NULL, lookup_key = NULL, sealed = NULL WHERE tag IS NOT NULL').run().changes;
        this.#db.prepare('UPDATE progress SET epoch = ?, public_key = ?, tags = 0 WHERE id = 1').run(epoch ?? null, publicKey ?? null);
        return dropped;
      })
      .immediate();
  }

  /** A user id accepted in an earlier row: committed, or in a batch still in flight (accept). */
  hasUser(userId: string): boolean {
    return (
      this.#seen.find('user', userId, (row) => {
        const pending = this.#uncommitted.get(row);
        return pending !== undefined ? pending.userId === userId : this.#q.userOfRow.get(row) === userId;
      }) !== undefined
    );
  }

  /** The earlier row holding `identifier`: committed, or in a batch still in flight (accept). */
  claimedRow(identifier: string): number | undefined {
    return this.#seen.find('identifier', identifier, (row) => {
      const pending = this.#uncommitted.get(row);
      return pending !== undefined ? pending.identifiers.includes(identifier) : this.#q.hasIdentifier.get(row, identifier) !== undefined;
    });
  }

  /**
   * A row that passed checkRow, before its batch commits: the rows read after it are checked
   * against it (hasUser, claimedRow) through the same fingerprint table as committed rows,
   * with no set or map per batch in flight. If its batch then fails to commit, the import
   * stops (the table is rebuilt from the stage by the next run's loadSeen).
   */
  accept(row: number, user: DirectoryUser): void {
    this.#seen.add('user', user.userId, row);
    for (const identifier of user.identifiers) this.#seen.add('identifier', identifier, row);
    this.#uncommitted.set(row, user);
  }

  /**
   * One batch in one transaction: its accepted users (with their tags where computed), its
   * refused rows and the position after it. A conflict with an earlier row here is a bug of
   * the caller (it checks against the stage and its pending batches first): thrown.
   */
  commitBatch(users: readonly StagedUser[], errors: readonly DirectoryImportError[], position: SourcePosition, dataRows: number, computed?: BatchTags): void {
    const q = this.#q;
    // The values of every row, flat, then written ROWS_PER_INSERT rows per statement (a
    // statement per row cost more in binding and native calls than SQLite's own insert).
    // Byte arrays are bound as they are (better-sqlite3 takes any Uint8Array view as a BLOB).
    const userValues: unknown[] = [];
    const idValues: unknown[] = [];
    let tags = 0;
    for (const { row, user, tagAt } of users) {
      userValues.push(row, user.userId, user.label, user.discoverable ? 1 : 0);
      const { identifiers } = user;
      if (tagAt === undefined || computed === undefined) {
        for (let k = 0; k < identifiers.length; k++) idValues.push(row, identifiers[k], null, null, null);
        continue;
      }
      for (let k = 0; k < identifiers.length; k++) {
        const seal = computed.seals[tagAt + k];
        idValues.push(row, identifiers[k], computed.tags[tagAt + k], seal.lookupKey, seal.sealed);
      }
      tags += identifiers.length;
    }
    this.#db
      .transaction(() => {
        insertRows(q.insertUsers, q.insertUser, userValues, 4);
        insertRows(q.insertIds, q.insertId, idValues, 5);
        for (const e of errors) q.insertError.run(e.row, e.line ?? null, e.userId ?? null, e.code, e.reason);
        q.setProgress.run({ offset: position.offset, row: position.row, line: position.line, exact: position.exact ? 1 : 0, dataRows, tags });
      })
      .immediate();
    // Accepted rows were seen when accepted; a row committed without accept is seen now.
    for (const { row, user } of users) {
      if (this.#uncommitted.delete(row)) continue;
      this.#seen.add('user', user.userId, row);
      for (const identifier of user.identifiers) this.#seen.add('identifier', identifier, row);
    }
  }

  markDone(): void {
    this.#q.setDone.run();
  }

  /** The refused rows in row order, a page at a time (bounded memory however many there are). */
  *errors(page = 4096): Generator<DirectoryImportError> {
    let after = 0;
    for (;;) {
      const rows = this.#q.errors.all(after, page) as { row: number; line: number | null; userId: string | null; code: string; reason: string }[];
      for (const r of rows) {
        const e: DirectoryImportError = { row: r.row, code: r.code, reason: r.reason };
        yield { ...e, ...(r.line === null ? {} : { line: r.line }), ...(r.userId === null ? {} : { userId: r.userId }) };
      }
      if (rows.length < page) return;
      after = rows[rows.length - 1].row;
    }
  }

  counts(): { users: number; rejected: number; tags: number } {
    return { users: this.#q.countUsers.get() as number, rejected: this.#q.countErrors.get() as number, tags: this.#q.countTags.get() as number };
  }

  close(): void {
    // The fingerprint table is 8 bytes a slot, 256 MiB at 10M users: not held through the
    // apply, precompute and snapshot build that follow (the import keeps this object in scope).
    this.#seen = new SeenTable();
    this.#uncommitted.clear();
    if (this.#db.open) this.#db.close();
  }
}
