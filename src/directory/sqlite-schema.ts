/**
 * The SQLite schema (spec/directory.md §SQLite schema), versioned with `PRAGMA user_version`
 * so a later release can migrate a file in place and an older release refuses a newer file
 * instead of misreading it.
 */
import type Database from 'better-sqlite3';
import { ContactPsiError } from '../errors.js';

export const SCHEMA_VERSION = 1;

/** Migration i takes a file from user_version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  -- One row: the directory version, bumped with every change-log row (kept apart from the
  -- change log so that the log can be compacted later without resetting the counter).
  CREATE TABLE state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  );
  INSERT INTO state (id, version) VALUES (1, 0);

  CREATE TABLE users (
    user_id      TEXT PRIMARY KEY,
    label        BLOB NOT NULL,
    discoverable INTEGER NOT NULL CHECK (discoverable IN (0, 1))
  ) WITHOUT ROWID;

  -- The primary key makes an identifier belong to at most one user.
  CREATE TABLE identifiers (
    identifier TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX identifiers_by_user ON identifiers (user_id);

  CREATE TABLE changes (
    version INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('register', 'unregister', 'opt_out', 'opt_in', 'identifiers', 'label')),
    user_id TEXT NOT NULL
  );

  -- Tags are keyed by identifier, not by user, and carry no foreign key: they are pruned
  -- by the precompute pass, which both stores implement the same way.
  CREATE TABLE tags (
    epoch      INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    tag        BLOB NOT NULL,
    lookup_key BLOB NOT NULL,
    PRIMARY KEY (epoch, identifier)
  ) WITHOUT ROWID;
  CREATE INDEX tags_by_lookup_key ON tags (epoch, lookup_key);

  CREATE TABLE snapshots (
    kind    TEXT PRIMARY KEY,
    epoch   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    bytes   BLOB NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** Brings the file to SCHEMA_VERSION in one transaction; refuses files from a newer release. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new ContactPsiError('schema_too_new', `directory schema version ${current} is newer than this release supports (${SCHEMA_VERSION})`);
  }
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
