/**
 * The PostgreSQL schema (spec/directory.md "PostgreSQL store"): the same tables as the
 * SQLite schema, versioned in `contact_psi_schema`, migrated under an advisory lock so that
 * several nodes starting at once migrate once. A database of a newer release is refused.
 *
 * Text columns that are ordered or compared (identifiers, user ids, accounts) use the "C"
 * collation: byte order of UTF-8, i.e. Unicode code point order, the order SQLite's BINARY
 * collation and `compareCodePoints` give, so keyset paging is the same on every store.
 */
import type { PoolClient } from 'pg';
import { ContactPsiError } from '../../errors.js';

export const PG_SCHEMA_VERSION = 7;

/** Any constant: the advisory lock every migrating node takes (pg_advisory_xact_lock). */
const MIGRATION_LOCK = 0x63707369; // "cpsi"

/** Migration i takes a database from version i to i + 1. */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
  );

  -- One row: the directory version, bumped with every change-log row. Writers lock it
  -- (SELECT ... FOR UPDATE), which serializes every change across nodes.
  CREATE TABLE state (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
  );
  INSERT INTO state (id, version) VALUES (1, 0);

  CREATE TABLE users (
    user_id       text COLLATE "C" PRIMARY KEY,
    label         bytea NOT NULL,
    discoverable  boolean NOT NULL,
    label_version bigint NOT NULL DEFAULT 0
  );

  -- The primary key makes an identifier belong to at most one user.
  CREATE TABLE identifiers (
    identifier text COLLATE "C" PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (user_id) ON DELETE CASCADE
  );
  CREATE INDEX identifiers_by_user ON identifiers (user_id);

  CREATE TABLE changes (
    version bigint PRIMARY KEY,
    kind    text NOT NULL CHECK (kind IN ('register', 'unregister', 'opt_out', 'opt_in', 'identifiers', 'label')),
    user_id text COLLATE "C" NOT NULL
  );

  CREATE TABLE tags (
    epoch          bigint NOT NULL,
    identifier     text COLLATE "C" NOT NULL,
    user_id        text COLLATE "C" NOT NULL,
    tag            bytea NOT NULL,
    lookup_key     bytea NOT NULL,
    sealed         bytea,
    sealed_version bigint,
    PRIMARY KEY (epoch, identifier)
  );
  CREATE INDEX tags_by_lookup_key ON tags (epoch, lookup_key);

  CREATE TABLE snapshots (
    epoch   bigint NOT NULL,
    kind    text NOT NULL,
    version bigint NOT NULL,
    count   bigint NOT NULL,
    digest  text NOT NULL,
    bytes   bytea NOT NULL,
    PRIMARY KEY (epoch, kind)
  );

  -- The key itself is never stored in clear here (spec/directory.md).
  CREATE TABLE epochs (
    epoch       bigint PRIMARY KEY,
    public_key  text,
    tag_version bigint,
    delta_floor bigint
  );

  CREATE TABLE tag_log (
    seq     bigserial PRIMARY KEY,
    epoch   bigint NOT NULL,
    version bigint NOT NULL,
    prefix  bytea NOT NULL CHECK (length(prefix) = 8),
    op      text NOT NULL CHECK (op IN ('added', 'removed'))
  );
  CREATE INDEX tag_log_by_version ON tag_log (epoch, version);

  CREATE TABLE quota_buckets (
    account    text COLLATE "C" PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at bigint NOT NULL
  );
  `,
  // 2: what a fleet of nodes shares besides the directory (spec/directory.md "PostgreSQL store").
  `
  -- Epoch keys, the quota receipt key and the directory identity key, each sealed (XChaCha20-Poly1305) under the
  -- key-encryption key the nodes hold outside the database (key-vault.ts). Never in clear.
  CREATE TABLE sealed_keys (
    purpose text COLLATE "C" NOT NULL CHECK (purpose IN ('epoch', 'quota', 'identity')),
    id      bigint NOT NULL,
    nonce   bytea NOT NULL CHECK (length(nonce) = 24),
    sealed  bytea NOT NULL,
    PRIMARY KEY (purpose, id)
  );

  -- Precompute work split across nodes (shared-fill.ts): identifier ranges (after, last]
  -- of one job, claimed with FOR UPDATE SKIP LOCKED inside the claimant's transaction, so
  -- a claim dies with its node's connection. done_by names the node that finished it.
  CREATE TABLE work_items (
    job              text COLLATE "C" NOT NULL,
    seq              integer NOT NULL,
    after_identifier text COLLATE "C" NOT NULL,
    last_identifier  text COLLATE "C",
    done_by          text,
    computed         bigint,
    PRIMARY KEY (job, seq)
  );
  `,
  // 2 -> 3: the announcement log (spec/verifiability.md §5), append-only: every signed epoch
  // key statement and announcement. The unique index makes a second statement for an epoch
  // or a second announcement for a version (an equivocation) impossible to store.
  `
  CREATE TABLE announcement_log (
    seq      bigint PRIMARY KEY CHECK (seq >= 0),
    kind     text COLLATE "C" NOT NULL CHECK (kind IN ('epoch-key', 'announcement')),
    epoch    bigint NOT NULL,
    version  bigint NOT NULL,
    envelope bytea NOT NULL
  );
  CREATE UNIQUE INDEX announcement_log_by_version ON announcement_log (kind, epoch, version);
  `,
  // 3 -> 4: what lets the fleet leader build a changed view without scanning. The tags of a
  // user found by index: the incremental pass (incremental-pass.ts) brings only the tags of
  // the users a change names up to date. The first 16 bytes of each logged tag (what a
  // snapshot is encoded from; the 8-byte prefix stays what clients get): the leader's copy of
  // the tag set moves by the log (leader-tag-set.ts). Rows logged before have none (NULL):
  // the leader then reads the whole set once.
  `
  CREATE INDEX tags_by_user ON tags (epoch, user_id);
  ALTER TABLE tag_log ADD COLUMN snapshot_prefix bytea CHECK (length(snapshot_prefix) = 16);
  `,
  // 4 -> 5: label format 2 (spec/discovery.md §1). Seals of format 1 are dropped: lookups seal
  // on the fly until the next precompute re-seals them (sealed_version kept: no relabel marker).
  `
  UPDATE tags SET sealed = NULL WHERE sealed IS NOT NULL;
  `,
  // 5 -> 6: what each receipt chain's latest session charged (spec/sync-failover.md §4), so a
  // sync cut off on a node that died is not charged again on its retry at another node.
  `
  CREATE TABLE IF NOT EXISTS quota_charged (
    key        text PRIMARY KEY,
    generation bigint NOT NULL,
    hashes     bytea NOT NULL CHECK (length(hashes) % 8 = 0)
  );
  `,
  // 6 -> 7: a record as appended parts, one row each (an append rewrote the whole record:
  // O(n^2) bytes for one-element chunks). Transient data: dropped, not converted.
  `
  DROP TABLE IF EXISTS quota_charged;
  CREATE TABLE quota_charged (
    key        text NOT NULL,
    seq        integer NOT NULL,
    generation bigint NOT NULL,
    hashes     bytea NOT NULL CHECK (length(hashes) % 8 = 0),
    PRIMARY KEY (key, seq)
  );
  `,
];

/** Brings the database to PG_SCHEMA_VERSION in one transaction; refuses a newer database. */
export async function migratePostgres(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS contact_psi_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
    const row = await client.query<{ version: number }>('SELECT version FROM contact_psi_schema WHERE id = 1');
    const current = row.rows[0]?.version ?? 0;
    if (current > PG_SCHEMA_VERSION) {
      throw new ContactPsiError('schema_too_new', `directory schema version ${current} is newer than this release supports (${PG_SCHEMA_VERSION})`);
    }
    for (let v = current; v < PG_SCHEMA_VERSION; v++) await client.query(PG_MIGRATIONS[v]!);
    await client.query(
      'INSERT INTO contact_psi_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
      [PG_SCHEMA_VERSION],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}
