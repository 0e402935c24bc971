/**
 * The SQLite schema (spec/directory.md §SQLite schema), versioned with `PRAGMA user_version`
 * so a later release can migrate a file in place and an older release refuses a newer file
 * instead of misreading it.
 */
import type Database from 'better-sqlite3';
import { ContactPsiError } from '../errors.js';

export const SCHEMA_VERSION = 6;

/** Migration i takes a file from user_version i to i + 1 (exported for the migration tests). */
export const MIGRATIONS: readonly string[] = [
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
  // 2: issue 4. Several epochs at once (snapshots per epoch and kind, an epochs table), the
  // tag delta log, labels sealed at rest (re-sealed when label_version moves past the
  // sealed_version), quota buckets. Tags of a version-1 file keep their rows and are
  // sealed by the next precompute (sealed IS NULL); cached snapshots are rebuilt.
  `
  ALTER TABLE users ADD COLUMN label_version INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tags ADD COLUMN sealed BLOB;
  ALTER TABLE tags ADD COLUMN sealed_version INTEGER;

  DROP TABLE snapshots;
  CREATE TABLE snapshots (
    epoch   INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    version INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (epoch, kind)
  ) WITHOUT ROWID;

  -- The key itself lives in the key file; the public key is recorded to catch a swapped file.
  CREATE TABLE epochs (
    epoch       INTEGER PRIMARY KEY,
    public_key  TEXT,
    tag_version INTEGER,
    delta_floor INTEGER
  );

  -- seq orders rows written at the same version; 8-byte prefixes are all a delta carries.
  CREATE TABLE tag_log (
    seq     INTEGER PRIMARY KEY,
    epoch   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    prefix  BLOB NOT NULL CHECK (length(prefix) = 8),
    op      TEXT NOT NULL CHECK (op IN ('added', 'removed'))
  );
  CREATE INDEX tag_log_by_version ON tag_log (epoch, version);

  CREATE TABLE quota_buckets (
    account    TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2 -> 3: the announcement log (spec/verifiability.md §5), append-only. kind, epoch and
  // version repeat what the signed envelope says, for the witness query; the unique index
  // makes a second key statement for an epoch, or a second announcement for a version (an
  // equivocation), impossible to store.
  `
  CREATE TABLE announcement_log (
    seq      INTEGER PRIMARY KEY CHECK (seq >= 0),
    kind     TEXT NOT NULL CHECK (kind IN ('epoch-key', 'announcement')),
    epoch    INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    envelope BLOB NOT NULL
  );
  CREATE UNIQUE INDEX announcement_log_by_version ON announcement_log (kind, epoch, version);
  `,
  // 3 -> 4: label format 2 (spec/discovery.md §1). Seals of format 1 are dropped, so none is
  // ever served to a client that opens format 2: until the next precompute re-seals them
  // (sealed_version kept: no relabel marker), a lookup seals the label on the fly.
  `
  UPDATE tags SET sealed = NULL WHERE sealed IS NOT NULL;
  `,
  // 4 -> 5: what each receipt chain's latest session charged (spec/sync-failover.md §4), so a
  // sync cut off before its answers arrived is not charged again on its retry. One row per
  // chain (key charged:<account>:<chain>), replaced by the chain's next session.
  `
  CREATE TABLE IF NOT EXISTS quota_charged (
    key        TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    hashes     BLOB NOT NULL CHECK (length(hashes) % 8 = 0)
  ) WITHOUT ROWID;
  `,
  // 5 -> 6: a record as appended parts, one row each (red team: rewriting the whole record at
  // each append let a client of one-element chunks make the server copy O(n^2) bytes). The
  // records are transient (the latest session of each chain): dropped, not converted.
  `
  DROP TABLE IF EXISTS quota_charged;
  CREATE TABLE quota_charged (
    key        TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    hashes     BLOB NOT NULL CHECK (length(hashes) % 8 = 0),
    PRIMARY KEY (key, seq)
  ) WITHOUT ROWID;
  `,
];

/** The label-lookup index of migration 0; a bulk fill of an empty tags table builds it afterwards (sqlite-store.ts). */
export const LOOKUP_INDEX = 'tags_by_lookup_key';

/**
 * Rebuilds the lookup index if a bulk fill was interrupted before it rebuilt it (a crash).
 * Looked up first: CREATE INDEX IF NOT EXISTS would wait for the write lock, which a fill in
 * another process holds most of the time.
 */
export function ensureLookupIndex(db: Database.Database): void {
  const present = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").pluck().get(LOOKUP_INDEX);
  if (present !== undefined) return;
  try {
    db.exec(`CREATE INDEX IF NOT EXISTS ${LOOKUP_INDEX} ON tags (epoch, lookup_key)`);
  } catch (err) {
    // Another process's fill keeps the write lock busy: it rebuilds the index when it ends
    // (or the next open does, after a crash); lookups scan meanwhile.
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
  }
}

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
