/**
 * The directory on PostgreSQL (node-postgres with a pool): what a fleet of servers shares
 * (spec/directory.md "PostgreSQL store"). Same contract as SqliteStore, checked by the same
 * conformance suite (test/store-conformance.test.ts).
 *
 * Consistency across nodes: every write that bumps the directory version locks the one
 * `state` row (FOR UPDATE), so change-log versions are dense and ordered exactly as in
 * SQLite; tag writes take it FOR SHARE, so a tag logged "at version v" was written while
 * the directory was at v. Multi-row reads run in REPEATABLE READ transactions (one snapshot).
 * Each committed version change is announced with NOTIFY on CHANGE_CHANNEL (watchChanges).
 */
import pg, { type Pool, type PoolClient, type PoolConfig } from 'pg';
import { ContactPsiError } from '../../errors.js';
import type { EncodingKind } from '../../setenc/types.js';
import { checkAccount, checkBucket, checkQuotaWrite, joinRecord, recordAction } from '../buckets.js';
import { netTagDelta, tagPrefix, type TagLogRow, type TagOp } from '../tag-delta.js';
import { checkPrefixBytes } from '../tag-set.js';
import { checkLogEntry, checkLogRange, logEntry, type RawLogEntry } from '../log-entries.js';
import type {
  BucketState,
  ChangeKind,
  ChangeRecord,
  DirectoryStore,
  DirectoryUser,
  DirectoryUserInput,
  DiscoverableEntry,
  EpochRecord,
  LabelMatch,
  LogEntryRecord,
  MissingTag,
  Progress,
  SealedLabelRecord,
  SealedMatch,
  SnapshotRecord,
  TagDelta,
  TagRecord,
  TagSet,
  UnsealedTag,
  UpsertResult,
  ChargedRecord,
  QuotaWrite,
} from '../types.js';
import { changeKinds, identifierTaken, normalizeBatch } from '../users.js';
import { copyOutBytea, copyRows } from './copy.js';
import { readSnapshotRow } from './snapshot-read.js';
import { migratePostgres } from './schema.js';

/** The NOTIFY channel; the payload is the new directory version in decimal. */
export const CHANGE_CHANNEL = 'contact_psi_changes';

/** Bytes of each tag the tag log also keeps for the fleet leader's copy of the tag set (schema 4). */
export const SNAPSHOT_PREFIX_BYTES = 16;

/** One tag-log row as the fleet leader reads it: the tag's first SNAPSHOT_PREFIX_BYTES. */
export interface TagLogPrefix {
  readonly prefix: Uint8Array;
  readonly op: TagOp;
}

export interface PostgresStoreOptions {
  /** Connections in the pool (default 8). */
  readonly maxConnections?: number;
  /** Milliseconds a statement may run before PostgreSQL cancels it (default 60,000; 0: none). */
  readonly statementTimeoutMs?: number;
}

/** Pages of the keyset-paged iteration over discoverable pairs. */
const PAGE = 4096;

// bigint (int8) columns arrive as numbers: every value here is a version, an epoch, a count
// or a time in ms, all far below 2^53; a larger one is refused rather than rounded.
const INT8_OID = 20;
const parseInt8 = (text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ContactPsiError('store_corrupt', `integer ${text} is out of range`);
  return n;
};
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** bytea values come back as Buffers; callers get plain Uint8Arrays, as from every store. */
const bytes = (buf: Buffer): Uint8Array => new Uint8Array(buf);
const buffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

const PAIR_IS_DISCOVERABLE = `EXISTS (SELECT 1 FROM identifiers i JOIN users u ON u.user_id = i.user_id
  WHERE i.identifier = t.identifier AND i.user_id = t.user_id AND u.discoverable)`;
const NEEDS_SEAL = `(t.sealed IS NULL OR t.sealed_version IS DISTINCT FROM u.label_version)`;
const TAG_OF_DISCOVERABLE_PAIR = `tags t JOIN identifiers i ON i.identifier = t.identifier AND i.user_id = t.user_id
  JOIN users u ON u.user_id = t.user_id AND u.discoverable`;
const HAS_TAG = `EXISTS (SELECT 1 FROM tags t WHERE t.epoch = $1 AND t.identifier = i.identifier AND t.user_id = i.user_id)`;

interface RawEpoch {
  epoch: number;
  public_key: string | null;
  tag_version: number | null;
  delta_floor: number | null;
}

const epochRecord = (r: RawEpoch): EpochRecord => ({
  epoch: r.epoch,
  publicKey: r.public_key ?? undefined,
  tagVersion: r.tag_version ?? undefined,
  deltaFloor: r.delta_floor ?? undefined,
});

type Isolation = 'READ COMMITTED' | 'REPEATABLE READ';

/** Any constant: the advisory lock of announcement log appends ("alog"). */
const ANNOUNCEMENT_LOG_LOCK = 0x616c6f67;

export class PostgresStore implements DirectoryStore {
  readonly backend = 'postgres' as const;
  /** A PostgreSQL store has no file; the key files of its nodes are configured apart. */
  readonly path = undefined;
  readonly #pool: Pool;
  #closed = false;

  private constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** The connection pool, for what a fleet keeps beside the store (key vault, leader lock, work claims). */
  get pool(): Pool {
    return this.#pool;
  }

  /** Connects to `url` (postgres://user:password@host:port/database), migrating the schema. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const max = options.maxConnections ?? 8;
    if (!Number.isSafeInteger(max) || max < 1) throw new ContactPsiError('invalid_option', 'maxConnections must be a positive integer');
    const config: PoolConfig = { connectionString: url, max, types };
    const timeout = options.statementTimeoutMs ?? 60_000;
    if (timeout > 0) config.statement_timeout = timeout;
    const pool = new pg.Pool(config);
    // An idle client's error (the server restarted) must not crash the process: the pool
    // drops that client and the next query opens a new one.
    pool.on('error', () => {});
    // The same for a client checked out between two queries (a transaction, a LISTEN): pg
    // emits a fatal server error (57P01 on a restart or pg_terminate_backend) on the client,
    // and with no listener that is an uncaught exception that ends the node; the next query
    // on it fails with the error instead (a test's teardown found it, CI of 5db0c8e).
    pool.on('connect', (client) => client.on('error', () => {}));
    try {
      const client = await pool.connect();
      try {
        await migratePostgres(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresStore(pool);
  }

  async #tx<T>(work: (c: PoolClient) => Promise<T>, isolation: Isolation = 'READ COMMITTED', readOnly = false): Promise<T> {
    const client = await this.#pool.connect();
    // A connection dying mid-transaction emits 'error' on the checked-out client: without a
    // listener that crashes the process; the failed query reports it instead.
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}${readOnly ? ' READ ONLY' : ''}`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Locks the version row for a write that bumps it; returns the current version. */
  static async #lockVersion(c: PoolClient, mode: 'UPDATE' | 'SHARE'): Promise<number> {
    return (await c.query<{ version: number }>(`SELECT version FROM state WHERE id = 1 FOR ${mode}`)).rows[0]!.version;
  }

  static async #setVersion(c: PoolClient, version: number): Promise<void> {
    await c.query('UPDATE state SET version = $1 WHERE id = 1', [version]);
    // Delivered at COMMIT, to every node LISTENing (watchChanges); never if rolled back.
    await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, String(version)]);
  }

  async upsertUsers(inputs: readonly DirectoryUserInput[], onProgress?: Progress): Promise<UpsertResult> {
    const { users, claims } = normalizeBatch(inputs);
    return this.#tx(async (c) => {
      let version = await PostgresStore.#lockVersion(c, 'UPDATE');
      const inBatch = new Set(users.map((u) => u.userId));
      const holders = await c.query<{ identifier: string; user_id: string }>(
        'SELECT identifier, user_id FROM identifiers WHERE identifier = ANY($1::text[])',
        [[...claims.keys()]],
      );
      for (const { identifier, user_id: holder } of holders.rows) {
        const claimant = claims.get(identifier)!;
        if (holder !== claimant && !inBatch.has(holder)) throw identifierTaken(identifier, claimant, holder);
      }
      const before = await this.#readUsers(c, [...inBatch]);
      const plan = users.map((user) => {
        const old = before.get(user.userId);
        return { user, old, kinds: changeKinds(old, user) };
      });
      // Release first, then claim: identifiers may move between users of the batch.
      const released = plan.filter((p) => p.old !== undefined && p.kinds.includes('identifiers')).map((p) => p.user.userId);
      if (released.length > 0) await c.query('DELETE FROM identifiers WHERE user_id = ANY($1::text[])', [released]);
      const userRows: [string, Uint8Array, boolean, number][] = [];
      const identifierRows: [string, string][] = [];
      const changeRows: [number, ChangeKind, string][] = [];
      let changes = 0;
      for (const { user, old, kinds } of plan) {
        if (kinds.length === 0) continue;
        // -1: keep the stored label version (no register or label row). A new user always has a
        // register row, so -1 never reaches a new row.
        let labelVersion = -1;
        for (const kind of kinds) {
          changeRows.push([++version, kind, user.userId]);
          if (kind === 'register' || kind === 'label') labelVersion = version;
        }
        userRows.push([user.userId, user.label, user.discoverable, labelVersion]);
        if (old === undefined || kinds.includes('identifiers')) for (const id of user.identifiers) identifierRows.push([id, user.userId]);
        changes += kinds.length;
      }
      if (userRows.length > 0) {
        // COPY into a staging table, then one upsert: the bulk path of a 10-million-user import.
        await c.query(`CREATE TEMP TABLE IF NOT EXISTS staging_users (user_id text COLLATE "C", label bytea,
          discoverable boolean, label_version bigint) ON COMMIT DELETE ROWS`);
        await copyRows(c, 'staging_users', ['user_id', 'label', 'discoverable', 'label_version'], userRows);
        await c.query(`INSERT INTO users (user_id, label, discoverable, label_version)
          SELECT user_id, label, discoverable, label_version FROM staging_users
          ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, discoverable = excluded.discoverable,
            label_version = CASE WHEN excluded.label_version < 0 THEN users.label_version ELSE excluded.label_version END`);
        await copyRows(c, 'identifiers', ['identifier', 'user_id'], identifierRows);
        await copyRows(c, 'changes', ['version', 'kind', 'user_id'], changeRows);
        await PostgresStore.#setVersion(c, version);
      }
      onProgress?.(plan.length, plan.length);
      return { changes, version };
    });
  }

  async removeUser(userId: string): Promise<boolean> {
    return this.#tx(async (c) => {
      const version = await PostgresStore.#lockVersion(c, 'UPDATE');
      // Identifiers go by ON DELETE CASCADE.
      if ((await c.query('DELETE FROM users WHERE user_id = $1', [userId])).rowCount === 0) return false;
      await c.query('INSERT INTO changes (version, kind, user_id) VALUES ($1, $2, $3)', [version + 1, 'unregister', userId]);
      await PostgresStore.#setVersion(c, version + 1);
      return true;
    });
  }

  async getUser(userId: string): Promise<DirectoryUser | undefined> {
    return this.#tx(async (c) => (await this.#readUsers(c, [userId])).get(userId), 'REPEATABLE READ', true);
  }

  async #readUsers(c: PoolClient, userIds: readonly string[]): Promise<Map<string, DirectoryUser>> {
    const out = new Map<string, DirectoryUser>();
    if (userIds.length === 0) return out;
    const users = await c.query<{ user_id: string; label: Buffer; discoverable: boolean }>(
      'SELECT user_id, label, discoverable FROM users WHERE user_id = ANY($1::text[])',
      [userIds],
    );
    const ids = await c.query<{ user_id: string; identifier: string }>(
      'SELECT user_id, identifier FROM identifiers WHERE user_id = ANY($1::text[]) ORDER BY user_id, identifier',
      [userIds],
    );
    const byUser = new Map<string, string[]>();
    for (const { user_id, identifier } of ids.rows) {
      const list = byUser.get(user_id);
      if (list === undefined) byUser.set(user_id, [identifier]);
      else list.push(identifier);
    }
    for (const row of users.rows) {
      out.set(row.user_id, { userId: row.user_id, identifiers: byUser.get(row.user_id) ?? [], label: bytes(row.label), discoverable: row.discoverable });
    }
    return out;
  }

  async countUsers(): Promise<number> {
    return (await this.#pool.query<{ n: number }>('SELECT count(*)::bigint AS n FROM users')).rows[0]!.n;
  }

  async *discoverable(): AsyncIterable<DiscoverableEntry> {
    // Keyset pages, not one open cursor: no connection is held between pages.
    let after = '';
    for (;;) {
      const page = await this.#pool.query<DiscoverableEntry>(
        `SELECT i.identifier AS identifier, i.user_id AS "userId" FROM identifiers i JOIN users u ON u.user_id = i.user_id
         WHERE u.discoverable AND i.identifier > $1 ORDER BY i.identifier LIMIT $2`,
        [after, PAGE],
      );
      yield* page.rows;
      if (page.rows.length < PAGE) return;
      after = page.rows[page.rows.length - 1]!.identifier;
    }
  }

  async version(): Promise<number> {
    return (await this.#pool.query<{ version: number }>('SELECT version FROM state WHERE id = 1')).rows[0]!.version;
  }

  async changesSince(after: number, limit = Number.MAX_SAFE_INTEGER): Promise<ChangeRecord[]> {
    const rows = await this.#pool.query<{ version: number; kind: ChangeKind; user_id: string }>(
      'SELECT version, kind, user_id FROM changes WHERE version > $1 ORDER BY version LIMIT $2',
      [after, limit],
    );
    return rows.rows.map((r) => ({ version: r.version, kind: r.kind, userId: r.user_id }));
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.#pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value;
  }

  async setMeta(entries: Readonly<Record<string, string>>): Promise<void> {
    const keys = Object.keys(entries);
    await this.#pool.query(
      `INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [keys, keys.map((k) => entries[k])],
    );
  }

  pruneTags(epoch: number): Promise<number> {
    return this.#prune(epoch, undefined);
  }

  /**
   * The users named by change-log rows in (after, through]: the only users whose tags the
   * changes since `after` can have touched (the fleet leader's incremental pass).
   */
  async changedUsers(after: number, through: number): Promise<string[]> {
    const rows = await this.#pool.query<{ user_id: string }>(
      'SELECT DISTINCT user_id FROM changes WHERE version > $1 AND version <= $2 ORDER BY user_id',
      [after, through],
    );
    return rows.rows.map((r) => r.user_id);
  }

  /** pruneTags for the tags of `userIds` only (found by tags_by_user, not by a scan). */
  pruneTagsOf(epoch: number, userIds: readonly string[]): Promise<number> {
    return userIds.length === 0 ? Promise.resolve(0) : this.#prune(epoch, userIds);
  }

  /** The discoverable pairs of `userIds` without a tag of `epoch`, in identifier order. */
  async missingTagsOf(epoch: number, userIds: readonly string[]): Promise<MissingTag[]> {
    if (userIds.length === 0) return [];
    const rows = await this.#pool.query<{ identifier: string; userId: string; label: Buffer; labelVersion: number }>(
      `SELECT i.identifier AS identifier, i.user_id AS "userId", u.label AS label, u.label_version AS "labelVersion"
       FROM identifiers i JOIN users u ON u.user_id = i.user_id
       WHERE i.user_id = ANY($2::text[]) AND u.discoverable AND NOT ${HAS_TAG}
       ORDER BY i.identifier`,
      [epoch, userIds],
    );
    return rows.rows.map((r) => ({ ...r, label: bytes(r.label) }));
  }

  /** The tags of `userIds`' discoverable pairs whose label changed since it was sealed (or was never sealed). */
  async unsealedTagsOf(epoch: number, userIds: readonly string[]): Promise<UnsealedTag[]> {
    if (userIds.length === 0) return [];
    const rows = await this.#pool.query<{ identifier: string; userId: string; tag: Buffer; label: Buffer; labelVersion: number }>(
      `SELECT t.identifier AS identifier, t.user_id AS "userId", t.tag AS tag, u.label AS label, u.label_version AS "labelVersion"
       FROM ${TAG_OF_DISCOVERABLE_PAIR}
       WHERE t.epoch = $1 AND t.user_id = ANY($2::text[]) AND ${NEEDS_SEAL} ORDER BY t.identifier`,
      [epoch, userIds],
    );
    return rows.rows.map((r) => ({ ...r, tag: bytes(r.tag), label: bytes(r.label) }));
  }

  async #prune(epoch: number, userIds: readonly string[] | undefined): Promise<number> {
    return this.#tx(async (c) => {
      const version = await PostgresStore.#lockVersion(c, 'SHARE');
      const removed = await c.query<{ tag: Buffer }>(
        `DELETE FROM tags AS t WHERE t.epoch = $1 ${userIds === undefined ? '' : 'AND t.user_id = ANY($2::text[])'} AND NOT ${PAIR_IS_DISCOVERABLE} RETURNING tag`,
        userIds === undefined ? [epoch] : [epoch, userIds],
      );
      if (await this.#logging(c, epoch)) await this.#logTags(c, epoch, version, removed.rows.map((r) => [r.tag, 'removed']));
      return removed.rows.length;
    });
  }

  async countMissingTags(epoch: number): Promise<number> {
    const row = await this.#pool.query<{ n: number }>(
      `SELECT count(*)::bigint AS n FROM identifiers i JOIN users u ON u.user_id = i.user_id WHERE u.discoverable AND NOT ${HAS_TAG}`,
      [epoch],
    );
    return row.rows[0]!.n;
  }

  async missingTags(epoch: number, after: string | undefined, limit: number): Promise<MissingTag[]> {
    const rows = await this.#pool.query<{ identifier: string; userId: string; label: Buffer; labelVersion: number }>(
      `SELECT i.identifier AS identifier, i.user_id AS "userId", u.label AS label, u.label_version AS "labelVersion"
       FROM identifiers i JOIN users u ON u.user_id = i.user_id
       WHERE u.discoverable AND i.identifier > $2 AND NOT ${HAS_TAG}
       ORDER BY i.identifier LIMIT $3`,
      [epoch, after ?? '', limit],
    );
    return rows.rows.map((r) => ({ ...r, label: bytes(r.label) }));
  }

  async putTags(epoch: number, records: readonly TagRecord[]): Promise<number> {
    // One row per identifier, the last one winning, as INSERT OR REPLACE does in SQLite
    // (ON CONFLICT cannot touch one row twice in a statement).
    const last = new Map<string, TagRecord>();
    for (const r of records) last.set(r.identifier, r);
    if (last.size === 0) return 0;
    return this.#tx(async (c) => {
      const version = await PostgresStore.#lockVersion(c, 'SHARE');
      const logging = await this.#logging(c, epoch);
      await c.query(`CREATE TEMP TABLE IF NOT EXISTS staging_tags (identifier text COLLATE "C", user_id text COLLATE "C",
        tag bytea, lookup_key bytea, sealed bytea, sealed_version bigint) ON COMMIT DELETE ROWS`);
      await copyRows(
        c,
        'staging_tags',
        ['identifier', 'user_id', 'tag', 'lookup_key', 'sealed', 'sealed_version'],
        [...last.values()].map((r) => [r.identifier, r.userId, r.tag, r.lookupKey, r.sealed ?? null, r.sealed === undefined ? null : (r.labelVersion ?? null)]),
      );
      // The previous tags matter only to the delta log (not started during a bulk fill).
      const old = new Map<string, Buffer>();
      if (logging) {
        const rows = await c.query<{ identifier: string; tag: Buffer }>(
          'SELECT s.identifier, t.tag FROM staging_tags s JOIN tags t ON t.epoch = $1 AND t.identifier = s.identifier',
          [epoch],
        );
        for (const r of rows.rows) old.set(r.identifier, r.tag);
      }
      // Stored only while the pair is discoverable: a fill racing an opt-out on another node
      // cannot leave a tag behind that the opt-out meant to remove.
      const stored = await c.query<{ identifier: string; tag: Buffer }>(
        `INSERT INTO tags (epoch, identifier, user_id, tag, lookup_key, sealed, sealed_version)
         SELECT $1, s.identifier, s.user_id, s.tag, s.lookup_key, s.sealed, s.sealed_version
         FROM staging_tags s JOIN identifiers i ON i.identifier = s.identifier AND i.user_id = s.user_id
           JOIN users u ON u.user_id = i.user_id AND u.discoverable
         ON CONFLICT (epoch, identifier) DO UPDATE SET user_id = excluded.user_id, tag = excluded.tag,
           lookup_key = excluded.lookup_key, sealed = excluded.sealed, sealed_version = excluded.sealed_version
         RETURNING identifier, tag`,
        [epoch],
      );
      if (logging) {
        const log: [Uint8Array, TagOp][] = [];
        for (const { identifier, tag } of stored.rows) {
          const before = old.get(identifier);
          // The tag set changes only if the tag bytes do.
          if (before !== undefined && before.equals(tag)) continue;
          if (before !== undefined) log.push([before, 'removed']);
          log.push([tag, 'added']);
        }
        await this.#logTags(c, epoch, version, log);
      }
      return stored.rows.length;
    });
  }

  async unsealedTags(epoch: number, after: string | undefined, limit: number): Promise<UnsealedTag[]> {
    const rows = await this.#pool.query<{ identifier: string; userId: string; tag: Buffer; label: Buffer; labelVersion: number }>(
      `SELECT t.identifier AS identifier, t.user_id AS "userId", t.tag AS tag, u.label AS label, u.label_version AS "labelVersion"
       FROM ${TAG_OF_DISCOVERABLE_PAIR}
       WHERE t.epoch = $1 AND t.identifier > $2 AND ${NEEDS_SEAL} ORDER BY t.identifier LIMIT $3`,
      [epoch, after ?? '', limit],
    );
    return rows.rows.map((r) => ({ ...r, tag: bytes(r.tag), label: bytes(r.label) }));
  }

  async putSealedLabels(epoch: number, records: readonly SealedLabelRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    return this.#tx(async (c) => {
      const version = await PostgresStore.#lockVersion(c, 'SHARE');
      // `o` is the row as it was (the statement's snapshot): its sealed_version says whether the label changed.
      const result = await c.query<{ tag: Buffer; relabeled: boolean }>(
        `UPDATE tags t SET sealed = s.sealed, sealed_version = s.label_version
         FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bigint[]) AS s (identifier, user_id, sealed, label_version), tags o
         WHERE t.epoch = $1 AND t.identifier = s.identifier AND t.user_id = s.user_id
           AND o.epoch = t.epoch AND o.identifier = t.identifier AND o.user_id = t.user_id
         RETURNING t.tag, o.sealed_version IS DISTINCT FROM s.label_version AS relabeled`,
        [epoch, records.map((r) => r.identifier), records.map((r) => r.userId), records.map((r) => buffer(r.sealed)), records.map((r) => r.labelVersion)],
      );
      // A label change reaches clients as `relabeled` (tag-delta.ts): a removed + added pair. A
      // re-seal of the label version already sealed (label format 2's migration 5 drops format 1
      // seals) changes nothing a client opened: no marker.
      const relabeled = result.rows.filter((r) => r.relabeled);
      if (relabeled.length > 0 && (await this.#logging(c, epoch))) {
        await this.#logTags(c, epoch, version, relabeled.flatMap((r): [Uint8Array, TagOp][] => [[bytes(r.tag), 'removed'], [bytes(r.tag), 'added']]));
      }
      return result.rowCount ?? 0;
    });
  }

  async readTagSet(epoch: number, prefixBytes?: number): Promise<TagSet> {
    checkPrefixBytes(prefixBytes);
    checkEpoch(epoch);
    return this.#tx(
      async (c) => {
        const version = (await c.query<{ version: number }>('SELECT version FROM state WHERE id = 1')).rows[0]!.version;
        const tags = await PostgresStore.#copyTags(c, epoch, prefixBytes);
        const tagVersion = (await c.query<{ tag_version: number | null }>('SELECT tag_version FROM epochs WHERE epoch = $1', [epoch])).rows[0]?.tag_version;
        // Complete at this very version: nothing can be missing, stale or unsealed (as in SQLite).
        if (tagVersion === version) return { version, ...tags, missing: 0, stale: 0, unsealed: 0 };
        const counts = await c.query<{ missing: number; stale: number; unsealed: number }>(
          `SELECT
             (SELECT count(*) FROM identifiers i JOIN users u ON u.user_id = i.user_id WHERE u.discoverable AND NOT ${HAS_TAG})::bigint AS missing,
             (SELECT count(*) FROM tags AS t WHERE t.epoch = $1 AND NOT ${PAIR_IS_DISCOVERABLE})::bigint AS stale,
             (SELECT count(*) FROM ${TAG_OF_DISCOVERABLE_PAIR} WHERE t.epoch = $1 AND ${NEEDS_SEAL})::bigint AS unsealed`,
          [epoch],
        );
        return { version, ...tags, ...counts.rows[0]! };
      },
      'REPEATABLE READ',
      true,
    );
  }

  /**
   * The tag set of `epoch` exactly at directory version `version`: read only while the
   * directory is still at it and the epoch's tags are complete at it (one snapshot of the
   * database), else undefined (a change landed: catch up first). What the fleet leader
   * builds a snapshot from, without readTagSet's three counting scans.
   */
  async readTagSetAt(epoch: number, version: number, prefixBytes?: number): Promise<TagSet | undefined> {
    checkPrefixBytes(prefixBytes);
    checkEpoch(epoch);
    return this.#tx(
      async (c) => {
        const row = (
          await c.query<{ version: number; tag_version: number | null }>(
            'SELECT s.version, e.tag_version FROM state s LEFT JOIN epochs e ON e.epoch = $1 WHERE s.id = 1',
            [epoch],
          )
        ).rows[0]!;
        if (row.version !== version || row.tag_version !== version) return undefined;
        return { version, ...(await PostgresStore.#copyTags(c, epoch, prefixBytes)), missing: 0, stale: 0, unsealed: 0 };
      },
      'REPEATABLE READ',
      true,
    );
  }

  /**
   * The tag-log rows of `epoch` in (fromVersion, version], in log order, with their first 16
   * bytes, and the epoch's tag count: what moves the fleet leader's copy of the tag set
   * (leader-tag-set.ts). Read only while the directory is at `version` with the tags complete
   * at it, and the log reaches back to `fromVersion` with prefixes; else undefined. `count:
   * false` leaves out the count (a scan of the epoch's tags: 0.1 s and more per million) for a
   * caller that checks it later (countTagsAt).
   */
  async tagLogSince(epoch: number, fromVersion: number, version: number, width: number, options: { count?: boolean } = {}): Promise<{ rows: TagLogPrefix[]; count: number | undefined } | undefined> {
    checkEpoch(epoch);
    if (width !== SNAPSHOT_PREFIX_BYTES) return undefined;
    return this.#tx(
      async (c) => {
        const row = (
          await c.query<{ version: number; tag_version: number | null; delta_floor: number | null }>(
            'SELECT s.version, e.tag_version, e.delta_floor FROM state s LEFT JOIN epochs e ON e.epoch = $1 WHERE s.id = 1',
            [epoch],
          )
        ).rows[0]!;
        if (row.version !== version || row.tag_version !== version || row.delta_floor === null || row.delta_floor > fromVersion) return undefined;
        const log = await c.query<{ prefix: Buffer | null; op: TagOp }>(
          'SELECT snapshot_prefix AS prefix, op FROM tag_log WHERE epoch = $1 AND version > $2 AND version <= $3 ORDER BY version, seq',
          [epoch, fromVersion, version],
        );
        if (log.rows.some((r) => r.prefix === null)) return undefined;
        const count = options.count === false ? undefined : (await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM tags WHERE epoch = $1', [epoch])).rows[0]!.n;
        return { rows: log.rows.map((r) => ({ prefix: bytes(r.prefix!), op: r.op })), count };
      },
      'REPEATABLE READ',
      true,
    );
  }

  /** The number of `epoch`'s tags while the directory is still at `version` with them complete there; else undefined. */
  async countTagsAt(epoch: number, version: number): Promise<number | undefined> {
    checkEpoch(epoch);
    return this.#tx(
      async (c) => {
        const row = (await c.query<{ version: number; tag_version: number | null }>('SELECT s.version, e.tag_version FROM state s LEFT JOIN epochs e ON e.epoch = $1 WHERE s.id = 1', [epoch])).rows[0]!;
        if (row.version !== version || row.tag_version !== version) return undefined;
        return (await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM tags WHERE epoch = $1', [epoch])).rows[0]!.n;
      },
      'REPEATABLE READ',
      true,
    );
  }

  /** Every tag of `epoch` (or its first `prefixBytes`), sorted, packed; inside the caller's transaction. */
  static async #copyTags(c: PoolClient, epoch: number, prefixBytes: number | undefined): Promise<{ packed: Uint8Array; tagLength: number; count: number }> {
    const count = (await c.query<{ n: number }>('SELECT count(*)::bigint AS n FROM tags WHERE epoch = $1', [epoch])).rows[0]!.n;
    let tagLength = 0;
    let packed = new Uint8Array(0);
    let i = 0;
    // COPY cannot take parameters: epoch and width are checked integers.
    const column = prefixBytes === undefined ? 'tag' : `substring(tag from 1 for ${prefixBytes})`;
    await copyOutBytea(c, `SELECT ${column} AS p FROM tags WHERE epoch = ${epoch} ORDER BY p`, (tag) => {
      if (i === 0) {
        tagLength = tag.length;
        packed = new Uint8Array(count * tagLength);
      }
      if (tag.length !== tagLength) throw new ContactPsiError('store_corrupt', `tags of epoch ${epoch} differ in length`);
      packed.set(tag, i * tagLength);
      i++;
    });
    return { packed, tagLength, count };
  }

  async listEpochs(): Promise<EpochRecord[]> {
    // Tags' epochs by a skip scan along the primary key, not a scan of every tag.
    const rows = await this.#pool.query<RawEpoch>(`WITH RECURSIVE te (e) AS (
        SELECT min(epoch) FROM tags
        UNION ALL SELECT (SELECT min(epoch) FROM tags WHERE epoch > te.e) FROM te WHERE te.e IS NOT NULL),
      known (e) AS (SELECT e FROM te WHERE e IS NOT NULL UNION SELECT epoch FROM epochs UNION SELECT epoch FROM snapshots)
      SELECT k.e AS epoch, x.public_key, x.tag_version, x.delta_floor FROM known k LEFT JOIN epochs x ON x.epoch = k.e ORDER BY k.e`);
    return rows.rows.map(epochRecord);
  }

  async getEpoch(epoch: number): Promise<EpochRecord | undefined> {
    return this.#tx(
      async (c) => {
        const row = (await c.query<RawEpoch>('SELECT epoch, public_key, tag_version, delta_floor FROM epochs WHERE epoch = $1', [epoch])).rows[0];
        if (row !== undefined) return epochRecord(row);
        const hasTags = (await c.query('SELECT 1 FROM tags WHERE epoch = $1 LIMIT 1', [epoch])).rows.length > 0;
        return hasTags ? epochRecord({ epoch, public_key: null, tag_version: null, delta_floor: null }) : undefined;
      },
      'REPEATABLE READ',
      true,
    );
  }

  async registerEpoch(epoch: number, publicKey: string): Promise<void> {
    await this.#pool.query(
      `INSERT INTO epochs (epoch, public_key) VALUES ($1, $2)
       ON CONFLICT (epoch) DO UPDATE SET public_key = COALESCE(epochs.public_key, excluded.public_key)`,
      [epoch, publicKey],
    );
  }

  async completeTags(epoch: number, version: number, startDeltaLog: boolean): Promise<boolean> {
    return this.#tx(async (c) => {
      if ((await PostgresStore.#lockVersion(c, 'SHARE')) !== version) return false;
      await c.query(
        `INSERT INTO epochs (epoch, tag_version, delta_floor) VALUES ($1, $2::bigint, CASE WHEN $3::boolean THEN $2::bigint END)
         ON CONFLICT (epoch) DO UPDATE SET tag_version = GREATEST(COALESCE(epochs.tag_version, excluded.tag_version), excluded.tag_version),
           delta_floor = COALESCE(epochs.delta_floor, excluded.delta_floor)`,
        [epoch, version, startDeltaLog],
      );
      return true;
    });
  }

  async activateEpoch(epoch: number, meta: Readonly<Record<string, string>>): Promise<void> {
    await this.#tx(async (c) => {
      const version = await PostgresStore.#lockVersion(c, 'SHARE');
      const keys = Object.keys(meta);
      await c.query(
        `INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [keys, keys.map((k) => meta[k])],
      );
      await c.query('INSERT INTO epochs (epoch) VALUES ($1) ON CONFLICT (epoch) DO NOTHING', [epoch]);
      await c.query('UPDATE epochs SET delta_floor = COALESCE(delta_floor, tag_version, $2::bigint) WHERE epoch = $1', [epoch, version]);
    });
  }

  async dropEpoch(epoch: number): Promise<number> {
    return this.#tx(async (c) => {
      const dropped = (await c.query('DELETE FROM tags WHERE epoch = $1', [epoch])).rowCount ?? 0;
      await c.query('DELETE FROM tag_log WHERE epoch = $1', [epoch]);
      await c.query('DELETE FROM snapshots WHERE epoch = $1', [epoch]);
      await c.query('DELETE FROM epochs WHERE epoch = $1', [epoch]);
      return dropped;
    });
  }

  async trimTagLog(epoch: number, through: number): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('DELETE FROM tag_log WHERE epoch = $1 AND version <= $2', [epoch, through]);
      await c.query('UPDATE epochs SET delta_floor = GREATEST(delta_floor, $2::bigint) WHERE epoch = $1 AND delta_floor IS NOT NULL', [epoch, through]);
    });
  }

  async tagDelta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    return this.#tx(
      async (c) => {
        const state = (await c.query<RawEpoch>('SELECT epoch, public_key, tag_version, delta_floor FROM epochs WHERE epoch = $1', [epoch])).rows[0];
        if (state === undefined || state.delta_floor === null || state.tag_version === null) return undefined;
        const toVersion = state.tag_version;
        if (!Number.isSafeInteger(fromVersion) || fromVersion < state.delta_floor || fromVersion > toVersion) return undefined;
        const rows = await c.query<{ prefix: Buffer; op: TagOp }>(
          'SELECT prefix, op FROM tag_log WHERE epoch = $1 AND version > $2 AND version <= $3 ORDER BY version, seq',
          [epoch, fromVersion, toVersion],
        );
        const log: TagLogRow[] = rows.rows.map((r) => ({ prefix: bytes(r.prefix), op: r.op }));
        return { epoch, fromVersion, toVersion, ...netTagDelta(log) };
      },
      'REPEATABLE READ',
      true,
    );
  }

  async lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    return (await this.lookupSealed(epoch, lookupKeys)).map((m) => (m === null ? null : { userId: m.userId, label: m.label, tag: m.tag }));
  }

  /** One query for the whole batch (one per `dir.labels.get`), whatever its size. */
  async lookupSealed(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(SealedMatch | null)[]> {
    const out: (SealedMatch | null)[] = lookupKeys.map(() => null);
    if (lookupKeys.length === 0) return out;
    const rows = await this.#pool.query<{ ord: number; user_id: string; label: Buffer; tag: Buffer; sealed: Buffer | null }>(
      `SELECT DISTINCT ON (k.ord) k.ord, t.user_id, u.label, t.tag,
         CASE WHEN t.sealed_version IS NOT DISTINCT FROM u.label_version THEN t.sealed END AS sealed
       FROM unnest($2::bytea[]) WITH ORDINALITY AS k (key, ord)
         JOIN tags t ON t.epoch = $1 AND t.lookup_key = k.key
         JOIN identifiers i ON i.identifier = t.identifier AND i.user_id = t.user_id
         JOIN users u ON u.user_id = t.user_id AND u.discoverable
       ORDER BY k.ord, t.identifier`,
      [epoch, lookupKeys.map(buffer)],
    );
    for (const r of rows.rows) {
      out[r.ord - 1] = { userId: r.user_id, label: bytes(r.label), tag: bytes(r.tag), sealed: r.sealed === null ? undefined : bytes(r.sealed) };
    }
    return out;
  }

  /** One query for the whole batch: each 8-byte wire key as the index range of the 16-byte lookup keys it starts. */
  async lookupSealedByPrefix(epoch: number, prefixes: readonly Uint8Array[], limit: number): Promise<SealedMatch[][]> {
    const out: SealedMatch[][] = prefixes.map(() => []);
    if (prefixes.length === 0) return out;
    // LATERAL with a LIMIT: one index range scan of tags_by_lookup_key per key, then the pair
    // and user by primary key. As a plain join the planner, estimating ~700 tags per 8-byte
    // range, materialized every tag (42 s for 256 keys at 100,000 users; bench -- fleet,
    // 1,024 contacts) or hashed every user per key (6 s). The cap leaves room for tags of
    // hidden pairs not yet pruned; more than that many stored tags sharing 64 bits do not occur.
    const rows = await this.#pool.query<{ ord: number; user_id: string; label: Buffer; tag: Buffer; sealed: Buffer | null }>(
      `SELECT k.ord, t.user_id, u.label, t.tag,
         CASE WHEN t.sealed_version IS NOT DISTINCT FROM u.label_version THEN t.sealed END AS sealed
       FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS k (low, high, ord)
       CROSS JOIN LATERAL (
         SELECT s.identifier, s.user_id, s.tag, s.lookup_key, s.sealed, s.sealed_version FROM tags s
         WHERE s.epoch = $1 AND s.lookup_key BETWEEN k.low AND k.high ORDER BY s.lookup_key LIMIT $4
       ) t
         JOIN identifiers i ON i.identifier = t.identifier AND i.user_id = t.user_id
         JOIN users u ON u.user_id = t.user_id AND u.discoverable
       ORDER BY k.ord, t.lookup_key`,
      [epoch, prefixes.map((p) => Buffer.concat([p, Buffer.alloc(8)])), prefixes.map((p) => Buffer.concat([p, Buffer.alloc(8, 0xff)])), limit + 64],
    );
    for (const r of rows.rows) {
      const list = out[Number(r.ord) - 1];
      if (list.length < limit) list.push({ userId: r.user_id, label: bytes(r.label), tag: bytes(r.tag), sealed: r.sealed === null ? undefined : bytes(r.sealed) });
    }
    return out;
  }

  async getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined> {
    return this.#readSnapshot(epoch, kind, version);
  }

  /**
   * The newest snapshot stored for an epoch and kind, whatever its version: what a fleet
   * follower serves (the leader built and announced it; fleet-node.ts).
   */
  async newestSnapshot(epoch: number, kind: EncodingKind): Promise<SnapshotRecord | undefined> {
    return this.#readSnapshot(epoch, kind);
  }

  /** The bytes by binary COPY, not as hex text (snapshot-read.ts). */
  async #readSnapshot(epoch: number, kind: EncodingKind, version?: number): Promise<SnapshotRecord | undefined> {
    const client = await this.#pool.connect();
    try {
      const row = await readSnapshotRow(client, epoch, kind, version);
      client.release();
      return row;
    } catch (err) {
      client.release(err as Error); // a COPY cut short leaves the connection unusable
      throw err;
    }
  }

  async putSnapshot(r: SnapshotRecord): Promise<void> {
    // Never back to an older version: a slow builder finishing late (a CLI import, a node
    // that lost the lead) must not replace what the fleet's followers were told to load.
    await this.#pool.query(
      `INSERT INTO snapshots (epoch, kind, version, count, digest, bytes) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (epoch, kind) DO UPDATE SET version = excluded.version, count = excluded.count, digest = excluded.digest, bytes = excluded.bytes
       WHERE snapshots.version <= excluded.version`,
      [r.epoch, r.kind, r.version, r.count, r.digest, buffer(r.bytes)],
    );
  }

  async getBucket(account: string): Promise<BucketState | undefined> {
    checkAccount(account);
    const row = (await this.#pool.query<{ tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM quota_buckets WHERE account = $1', [account])).rows[0];
    return row === undefined ? undefined : { tokens: row.tokens, updatedAt: row.updated_at };
  }

  async putBucket(account: string, state: BucketState): Promise<void> {
    checkAccount(account);
    const { tokens, updatedAt } = checkBucket(state);
    await this.#pool.query(
      `INSERT INTO quota_buckets (account, tokens, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (account) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
      [account, tokens, updatedAt],
    );
  }

  async logLength(): Promise<number> {
    return Number((await this.#pool.query<{ n: string }>('SELECT count(*) AS n FROM announcement_log')).rows[0]!.n);
  }

  async readLog(from: number, limit: number): Promise<LogEntryRecord[]> {
    checkLogRange(from, limit);
    const rows = await this.#pool.query<RawLogEntry>('SELECT seq, kind, epoch, version, envelope FROM announcement_log WHERE seq >= $1 ORDER BY seq LIMIT $2', [from, limit]);
    return rows.rows.map(logEntry);
  }

  async findLogEntry(kind: LogEntryRecord['kind'], epoch: number, version: number): Promise<LogEntryRecord | undefined> {
    const rows = await this.#pool.query<RawLogEntry>('SELECT seq, kind, epoch, version, envelope FROM announcement_log WHERE kind = $1 AND epoch = $2 AND version = $3', [kind, epoch, version]);
    return rows.rows[0] === undefined ? undefined : logEntry(rows.rows[0]);
  }

  async appendLog(entry: LogEntryRecord): Promise<boolean> {
    checkLogEntry(entry);
    return this.#tx(async (c) => {
      // One appender at a time across the fleet: the length check and the insert see no other writer between them.
      await c.query('SELECT pg_advisory_xact_lock($1)', [ANNOUNCEMENT_LOG_LOCK]);
      const length = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM announcement_log')).rows[0]!.n);
      if (length !== entry.seq) return false;
      const inserted = await c.query(
        'INSERT INTO announcement_log (seq, kind, epoch, version, envelope) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [entry.seq, entry.kind, entry.epoch, entry.version, Buffer.from(entry.envelope)],
      );
      return inserted.rowCount === 1;
    });
  }

  async updateBucket(account: string, update: (state: BucketState | undefined) => BucketState): Promise<BucketState> {
    checkAccount(account);
    return this.#tx(async (c) => {
      // A transaction-scoped lock on the account (also when it has no row yet): another node
      // charging the same account waits here, so nobody spends the same tokens twice.
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [account]);
      const row = (await c.query<{ tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM quota_buckets WHERE account = $1', [account])).rows[0];
      const next = checkBucket(update(row === undefined ? undefined : { tokens: row.tokens, updatedAt: row.updated_at }));
      await c.query(
        `INSERT INTO quota_buckets (account, tokens, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (account) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
        [account, next.tokens, next.updatedAt],
      );
      return next;
    });
  }

  async writeQuota(write: QuotaWrite): Promise<BucketState[]> {
    checkQuotaWrite(write);
    return this.#tx(async (c) => {
      // The same per-key lock as updateBucket, taken in key order (no two writers wait on each other in a cycle).
      const keys = [...new Set([...write.buckets.map((b) => b.key), ...(write.records ?? []).map((r) => r.key)])].sort();
      for (const key of keys) await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
      const staged = new Map<string, BucketState>();
      const written: BucketState[] = [];
      for (const { key, update } of write.buckets) {
        let state = staged.get(key);
        if (state === undefined) {
          const row = (await c.query<{ tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM quota_buckets WHERE account = $1', [key])).rows[0];
          state = row === undefined ? undefined : { tokens: row.tokens, updatedAt: row.updated_at };
        }
        const next = checkBucket(update(state));
        staged.set(key, next);
        written.push(next);
      }
      for (const [key, next] of staged) {
        await c.query(
          `INSERT INTO quota_buckets (account, tokens, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (account) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
          [key, next.tokens, next.updatedAt],
        );
      }
      for (const record of write.records ?? []) {
        const last = (await c.query<{ seq: number; generation: string }>('SELECT seq, generation FROM quota_charged WHERE key = $1 ORDER BY seq DESC LIMIT 1', [record.key])).rows[0];
        const action = recordAction(last === undefined ? undefined : Number(last.generation), record.generation);
        if (action === 'keep') continue;
        if (action === 'replace') await c.query('DELETE FROM quota_charged WHERE key = $1', [record.key]);
        await c.query('INSERT INTO quota_charged (key, seq, generation, hashes) VALUES ($1, $2, $3, $4)', [
          record.key,
          action === 'append' ? last!.seq + 1 : 0,
          record.generation,
          Buffer.from(record.hashes),
        ]);
      }
      return written;
    });
  }

  async chargedRecord(key: string): Promise<ChargedRecord | undefined> {
    checkAccount(key);
    return this.#tx((c) => PostgresStore.#readCharged(c, key), 'READ COMMITTED', true);
  }

  static async #readCharged(c: PoolClient, key: string): Promise<ChargedRecord | undefined> {
    const rows = (await c.query<{ generation: string; hashes: Buffer }>('SELECT generation, hashes FROM quota_charged WHERE key = $1 ORDER BY seq', [key])).rows;
    return rows.length === 0 ? undefined : joinRecord(Number(rows[0]!.generation), rows.map((r) => r.hashes));
  }

  /**
   * The change feed: `listener` gets every directory version committed by any node, within
   * the time NOTIFY takes (milliseconds), not at the next poll. Resolves with a function that
   * stops listening. A lost connection is reported to `onError`; the caller re-subscribes.
   */
  async watchChanges(listener: (version: number) => void, onError: (err: Error) => void = () => {}): Promise<() => Promise<void>> {
    const client = await this.#pool.connect();
    const onNotification = (message: { channel: string; payload?: string }) => {
      if (message.channel !== CHANGE_CHANNEL) return;
      const version = Number(message.payload);
      if (Number.isSafeInteger(version)) listener(version);
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      client.off('notification', onNotification);
      try {
        await client.query(`UNLISTEN ${CHANGE_CHANNEL}`);
        client.release();
      } catch (err) {
        client.release(err as Error);
      }
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  /** Tag changes are logged once the epoch's delta log has started (spec/directory.md §5). */
  async #logging(c: PoolClient, epoch: number): Promise<boolean> {
    const row = (await c.query<{ logging: boolean }>('SELECT delta_floor IS NOT NULL AS logging FROM epochs WHERE epoch = $1', [epoch])).rows[0];
    return row?.logging === true;
  }

  /** Inside the write transaction, at the version it locked. */
  async #logTags(c: PoolClient, epoch: number, version: number, entries: readonly [Uint8Array, TagOp][]): Promise<void> {
    if (entries.length === 0) return;
    await copyRows(
      c,
      'tag_log',
      ['epoch', 'version', 'prefix', 'op', 'snapshot_prefix'],
      entries.map(([tag, op]) => [epoch, version, tagPrefix(tag), op, tag.subarray(0, SNAPSHOT_PREFIX_BYTES)]),
    );
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new ContactPsiError('invalid_option', `epoch must be a non-negative integer, got ${String(epoch)}`);
}
