/**
 * The embedded default store: one SQLite file through better-sqlite3. WAL so readers (the
 * server answering lookups) never wait for a writer (an import), synchronous=NORMAL because
 * in WAL mode that loses at most the last transactions on power loss, never consistency;
 * every multi-row write is one transaction, so a failed import leaves the file untouched.
 */
import Database from 'better-sqlite3';
import { ContactPsiError } from '../errors.js';
import type { EncodingKind } from '../setenc/types.js';
import { checkAccount, checkBucket, checkQuotaWrite, joinRecord, recordAction } from './buckets.js';
import { prepareDirectoryFile, secureDirectoryFiles } from './file-mode.js';
import { ensureLookupIndex, LOOKUP_INDEX, migrate } from './sqlite-schema.js';
import { netTagDelta, tagPrefix, type TagLogRow, type TagOp } from './tag-delta.js';
import { checkPrefixBytes } from './tag-set.js';
import { checkLogEntry, checkLogRange, logEntry, type RawLogEntry } from './log-entries.js';
import type {
  BucketState,
  ChangeKind,
  ChargedRecord,
  QuotaWrite,
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
} from './types.js';
import { changeKinds, identifierTaken, normalizeBatch } from './users.js';
import { applyStageSqlite, type StageApplyResult } from './sqlite-import-apply.js';

export interface SqliteStoreOptions {
  /** How long a write waits for another process's write lock, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /**
   * Missing tags from which a fill of an empty tags table builds the lookup index after the
   * rows instead of row by row (default 10,000; see beginTagFill).
   */
  readonly bulkFillThreshold?: number;
  /** Open a directory file that group or others may access (default false: `directory_file_permissions`; file-mode.ts). */
  readonly allowInsecurePermissions?: boolean;
}

export const DEFAULT_BULK_FILL_THRESHOLD = 10_000;

/** Pages of the keyset-paged iteration over discoverable pairs. */
const PAGE = 4096;

/** better-sqlite3 binds Buffers as BLOBs; this views a Uint8Array as one without copying. */
const blob = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** BLOBs come back as Buffers; callers get plain Uint8Arrays, as from the memory store. */
const bytes = (buf: Buffer): Uint8Array => new Uint8Array(buf);
/** The 16-byte lookup keys starting with an 8-byte wire key: [prefix || 00 x 8, prefix || ff x 8] (BLOBs compare as memcmp). */
const prefixRange = (prefix: Uint8Array): [Buffer, Buffer] => [Buffer.concat([prefix, Buffer.alloc(8)]), Buffer.concat([prefix, Buffer.alloc(8, 0xff)])];

// A pair is discoverable when the identifier still belongs to that user and the user has not opted out.
const PAIR_IS_DISCOVERABLE = `EXISTS (SELECT 1 FROM identifiers i JOIN users u ON u.user_id = i.user_id
  WHERE i.identifier = t.identifier AND i.user_id = t.user_id AND u.discoverable = 1)`;
// A tag whose seal is missing or was made from an older label than the user's current one.
const NEEDS_SEAL = `(t.sealed IS NULL OR t.sealed_version IS NOT u.label_version)`;
const TAG_OF_DISCOVERABLE_PAIR = `tags t JOIN identifiers i ON i.identifier = t.identifier AND i.user_id = t.user_id
  JOIN users u ON u.user_id = t.user_id AND u.discoverable = 1`;
// INDEXED BY: without ANALYZE statistics SQLite picks the tags primary key and scans every
// tag of the epoch per lookup (0.7 s per matched contact at 1M tags). Exported for the
// query-plan test.
export const LOOKUP_SQL = `SELECT t.user_id AS userId, u.label AS label, t.tag AS tag,
    CASE WHEN t.sealed_version IS u.label_version THEN t.sealed END AS sealed
  FROM tags t INDEXED BY ${LOOKUP_INDEX}
    JOIN identifiers i ON i.identifier = t.identifier AND i.user_id = t.user_id
    JOIN users u ON u.user_id = t.user_id AND u.discoverable = 1
  WHERE t.epoch = ? AND t.lookup_key = ? LIMIT 1`;
// The same without the pin, for the seconds in which a bulk fill in progress (here or in
// another process) has dropped the index: a slow scan then, never a failed lookup.
const LOOKUP_UNINDEXED_SQL = LOOKUP_SQL.replace(`INDEXED BY ${LOOKUP_INDEX}`, '');
// Every tag whose 16-byte lookup key starts with an 8-byte wire key: the index range
// [prefix || 00..00, prefix || ff..ff] (dir.labels.get, label format 2). Exported for the plan test.
export const LOOKUP_PREFIX_SQL = LOOKUP_SQL.replace('t.lookup_key = ? LIMIT 1', 't.lookup_key BETWEEN ? AND ? ORDER BY t.lookup_key LIMIT ?');
const LOOKUP_PREFIX_UNINDEXED_SQL = LOOKUP_PREFIX_SQL.replace(`INDEXED BY ${LOOKUP_INDEX}`, '');
const isMissingIndex = (err: unknown): boolean => err instanceof Error && /no such index/.test(err.message);
const HAS_TAG = `EXISTS (SELECT 1 FROM tags t WHERE t.epoch = @epoch AND t.identifier = i.identifier AND t.user_id = i.user_id)`;

interface LookupRow {
  userId: string;
  label: Buffer;
  tag: Buffer;
  sealed: Buffer | null;
}

interface RawEpoch {
  epoch: number;
  publicKey: string | null;
  tagVersion: number | null;
  deltaFloor: number | null;
}

const epochRecord = (r: RawEpoch): EpochRecord => ({
  epoch: r.epoch,
  publicKey: r.publicKey ?? undefined,
  tagVersion: r.tagVersion ?? undefined,
  deltaFloor: r.deltaFloor ?? undefined,
});

export class SqliteStore implements DirectoryStore {
  readonly backend = 'sqlite' as const;
  readonly path: string | undefined;
  readonly #db: Database.Database;
  readonly #q;
  readonly #bulkFillThreshold: number;
  /** This connection dropped the lookup index for a bulk fill and rebuilds it at endTagFill. */
  #indexDeferred = false;
  /** Prepared on first use: preparing needs the index, which another process's bulk fill may have dropped when this one opens. */
  #lookupIndexed: Database.Statement | undefined;
  #lookupUnindexed: Database.Statement | undefined;
  #prefixIndexed: Database.Statement | undefined;
  #prefixUnindexed: Database.Statement | undefined;

  private constructor(db: Database.Database, path: string | undefined, bulkFillThreshold: number) {
    this.#db = db;
    this.path = path;
    this.#bulkFillThreshold = bulkFillThreshold;
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      version: p('SELECT version FROM state WHERE id = 1').pluck(),
      setVersion: p('UPDATE state SET version = ? WHERE id = 1'),
      logChange: p('INSERT INTO changes (version, kind, user_id) VALUES (?, ?, ?)'),
      changesSince: p('SELECT version, kind, user_id FROM changes WHERE version > ? ORDER BY version LIMIT ?'),
      user: p('SELECT label, discoverable FROM users WHERE user_id = ?'),
      userIdentifiers: p('SELECT identifier FROM identifiers WHERE user_id = ? ORDER BY identifier').pluck(),
      owner: p('SELECT user_id FROM identifiers WHERE identifier = ?').pluck(),
      // label_version moves only with a register or label row (null keeps the stored one).
      upsertUser: p(`INSERT INTO users (user_id, label, discoverable, label_version)
        VALUES (@userId, @label, @discoverable, COALESCE(@labelVersion, 0))
        ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, discoverable = excluded.discoverable,
          label_version = COALESCE(@labelVersion, users.label_version)`),
      deleteIdentifiers: p('DELETE FROM identifiers WHERE user_id = ?'),
      insertIdentifier: p('INSERT INTO identifiers (identifier, user_id) VALUES (?, ?)'),
      deleteUser: p('DELETE FROM users WHERE user_id = ?'),
      countUsers: p('SELECT COUNT(*) FROM users').pluck(),
      discoverablePage: p(`SELECT i.identifier AS identifier, i.user_id AS userId FROM identifiers i
        JOIN users u ON u.user_id = i.user_id
        WHERE u.discoverable = 1 AND i.identifier > ? ORDER BY i.identifier LIMIT ?`),
      getMeta: p('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      pruneTags: p(`DELETE FROM tags AS t WHERE t.epoch = ? AND NOT ${PAIR_IS_DISCOVERABLE} RETURNING tag`).pluck(),
      countMissing: p(`SELECT COUNT(*) FROM identifiers i JOIN users u ON u.user_id = i.user_id
        WHERE u.discoverable = 1 AND NOT ${HAS_TAG}`).pluck(),
      missingPage: p(`SELECT i.identifier AS identifier, i.user_id AS userId, u.label AS label, u.label_version AS labelVersion
        FROM identifiers i
        JOIN users u ON u.user_id = i.user_id
        WHERE u.discoverable = 1 AND i.identifier > @after AND NOT ${HAS_TAG}
        ORDER BY i.identifier LIMIT @limit`),
      // Inserted only while the pair is discoverable: a precompute racing an opt-out from
      // another process cannot leave a tag behind that the opt-out meant to remove.
      // Positional parameters (epoch, tag, lookup key, sealed, sealed version, identifier,
      // user): binding by name costs a lookup per parameter per row of a bulk fill.
      putTag: p(`INSERT OR REPLACE INTO tags (epoch, identifier, user_id, tag, lookup_key, sealed, sealed_version)
        SELECT ?, i.identifier, i.user_id, ?, ?, ?, ?
        FROM identifiers i JOIN users u ON u.user_id = i.user_id
        WHERE i.identifier = ? AND i.user_id = ? AND u.discoverable = 1`),
      tagOf: p('SELECT tag FROM tags WHERE epoch = ? AND identifier = ?').pluck(),
      sealedVersionOf: p('SELECT sealed_version AS v FROM tags WHERE epoch = ? AND identifier = ? AND user_id = ?'),
      unsealedPage: p(`SELECT t.identifier AS identifier, t.user_id AS userId, t.tag AS tag, u.label AS label, u.label_version AS labelVersion
        FROM ${TAG_OF_DISCOVERABLE_PAIR}
        WHERE t.epoch = @epoch AND t.identifier > @after AND ${NEEDS_SEAL} ORDER BY t.identifier LIMIT @limit`),
      countUnsealed: p(`SELECT COUNT(*) FROM ${TAG_OF_DISCOVERABLE_PAIR} WHERE t.epoch = ? AND ${NEEDS_SEAL}`).pluck(),
      putSealed: p(`UPDATE tags SET sealed = @sealed, sealed_version = @labelVersion
        WHERE epoch = @epoch AND identifier = @identifier AND user_id = @userId`),
      countTags: p('SELECT COUNT(*) FROM tags WHERE epoch = ?').pluck(),
      sortedTags: p('SELECT tag FROM tags WHERE epoch = ? ORDER BY tag').pluck(),
      // Ordered by the prefix itself, so the sorter holds prefixes only; ties (equal
      // prefixes) are equal bytes, so the packed result is the one ORDER BY tag gives.
      sortedPrefixes: p('SELECT substr(tag, 1, @width) AS p FROM tags WHERE epoch = @epoch ORDER BY p').pluck(),
      anyTag: p('SELECT EXISTS (SELECT 1 FROM tags)').pluck(),
      tagVersionOf: p('SELECT tag_version FROM epochs WHERE epoch = ?').pluck(),
      countStale: p(`SELECT COUNT(*) FROM tags AS t WHERE t.epoch = ? AND NOT ${PAIR_IS_DISCOVERABLE}`).pluck(),
      getSnapshot: p('SELECT epoch, version, kind, count, digest, bytes FROM snapshots WHERE epoch = ? AND kind = ? AND version = ?'),
      putSnapshot: p(`INSERT OR REPLACE INTO snapshots (epoch, kind, version, count, digest, bytes) VALUES (?, ?, ?, ?, ?, ?)`),
      // Epochs with a row, tags or snapshots; tags are skip-scanned along their primary key.
      listEpochs: p(`WITH RECURSIVE te (e) AS (
          SELECT MIN(epoch) FROM tags
          UNION ALL SELECT (SELECT MIN(epoch) FROM tags WHERE epoch > te.e) FROM te WHERE te.e IS NOT NULL),
        known (e) AS (SELECT e FROM te WHERE e IS NOT NULL UNION SELECT epoch FROM epochs UNION SELECT epoch FROM snapshots)
        SELECT k.e AS epoch, x.public_key AS publicKey, x.tag_version AS tagVersion, x.delta_floor AS deltaFloor
        FROM known k LEFT JOIN epochs x ON x.epoch = k.e ORDER BY k.e`),
      getEpoch: p('SELECT epoch, public_key AS publicKey, tag_version AS tagVersion, delta_floor AS deltaFloor FROM epochs WHERE epoch = ?'),
      hasTags: p('SELECT EXISTS (SELECT 1 FROM tags WHERE epoch = ?)').pluck(),
      registerEpoch: p(`INSERT INTO epochs (epoch, public_key) VALUES (?, ?)
        ON CONFLICT (epoch) DO UPDATE SET public_key = COALESCE(epochs.public_key, excluded.public_key)`),
      completeTags: p(`INSERT INTO epochs (epoch, tag_version, delta_floor) VALUES (@epoch, @version, CASE WHEN @start THEN @version END)
        ON CONFLICT (epoch) DO UPDATE SET tag_version = MAX(COALESCE(epochs.tag_version, excluded.tag_version), excluded.tag_version),
          delta_floor = COALESCE(epochs.delta_floor, excluded.delta_floor)`),
      ensureEpoch: p('INSERT INTO epochs (epoch) VALUES (?) ON CONFLICT (epoch) DO NOTHING'),
      startDeltaLog: p('UPDATE epochs SET delta_floor = COALESCE(delta_floor, tag_version, @version) WHERE epoch = @epoch'),
      deltaLogging: p('SELECT delta_floor IS NOT NULL FROM epochs WHERE epoch = ?').pluck(),
      logTag: p('INSERT INTO tag_log (epoch, version, prefix, op) VALUES (?, ?, ?, ?)'),
      tagLogRange: p('SELECT prefix, op FROM tag_log WHERE epoch = ? AND version > ? AND version <= ? ORDER BY version, seq'),
      trimTagLog: p('DELETE FROM tag_log WHERE epoch = ? AND version <= ?'),
      raiseFloor: p('UPDATE epochs SET delta_floor = MAX(delta_floor, @through) WHERE epoch = @epoch AND delta_floor IS NOT NULL'),
      dropTags: p('DELETE FROM tags WHERE epoch = ?'),
      dropTagLog: p('DELETE FROM tag_log WHERE epoch = ?'),
      dropSnapshots: p('DELETE FROM snapshots WHERE epoch = ?'),
      dropEpoch: p('DELETE FROM epochs WHERE epoch = ?'),
      logLength: p('SELECT COUNT(*) FROM announcement_log').pluck(),
      readLog: p('SELECT seq, kind, epoch, version, envelope FROM announcement_log WHERE seq >= ? ORDER BY seq LIMIT ?'),
      findLogEntry: p('SELECT seq, kind, epoch, version, envelope FROM announcement_log WHERE kind = ? AND epoch = ? AND version = ?'),
      appendLog: p('INSERT OR IGNORE INTO announcement_log (seq, kind, epoch, version, envelope) VALUES (?, ?, ?, ?, ?)'),
      getBucket: p('SELECT tokens, updated_at AS updatedAt FROM quota_buckets WHERE account = ?'),
      putBucket: p(`INSERT INTO quota_buckets (account, tokens, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (account) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`),
      getCharged: p('SELECT generation, hashes FROM quota_charged WHERE key = ? ORDER BY seq'),
      lastCharged: p('SELECT seq, generation FROM quota_charged WHERE key = ? ORDER BY seq DESC LIMIT 1'),
      addCharged: p('INSERT INTO quota_charged (key, seq, generation, hashes) VALUES (?, ?, ?, ?)'),
      dropCharged: p('DELETE FROM quota_charged WHERE key = ?'),
    };
  }

  /** Opens (creating if needed) the directory file at `path`; ':memory:' gives a private in-memory database. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const threshold = options.bulkFillThreshold ?? DEFAULT_BULK_FILL_THRESHOLD;
    if (!Number.isSafeInteger(threshold) || threshold < 1) throw new ContactPsiError('invalid_option', 'bulkFillThreshold must be a positive integer');
    prepareDirectoryFile(path, options); // created 0600 before SQLite opens it
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      migrate(db);
      ensureLookupIndex(db);
      secureDirectoryFiles(path, options); // -wal and -shm: 0600
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteStore(db, path === ':memory:' || path === '' ? undefined : path, threshold);
  }

  async upsertUsers(inputs: readonly DirectoryUserInput[], onProgress?: Progress): Promise<UpsertResult> {
    const { users, claims } = normalizeBatch(inputs);
    const q = this.#q;
    return this.#db
      .transaction((): UpsertResult => {
        const inBatch = new Set(users.map((u) => u.userId));
        for (const [identifier, claimant] of claims) {
          const holder = q.owner.get(identifier) as string | undefined;
          if (holder !== undefined && holder !== claimant && !inBatch.has(holder)) throw identifierTaken(identifier, claimant, holder);
        }
        const plan = users.map((user) => {
          const before = this.#readUser(user.userId);
          return { user, before, kinds: changeKinds(before, user) };
        });
        // Release first, then claim: identifiers may move between users of the batch.
        for (const { user, before, kinds } of plan) if (before !== undefined && kinds.includes('identifiers')) q.deleteIdentifiers.run(user.userId);
        let version = q.version.get() as number;
        let changes = 0;
        plan.forEach(({ user, before, kinds }, i) => {
          if (kinds.length > 0) {
            const rows = kinds.map((kind) => ({ kind, version: ++version }));
            const labelRow = rows.find((r) => r.kind === 'register' || r.kind === 'label');
            q.upsertUser.run({ userId: user.userId, label: blob(user.label), discoverable: user.discoverable ? 1 : 0, labelVersion: labelRow?.version ?? null });
            if (before === undefined || kinds.includes('identifiers')) for (const id of user.identifiers) q.insertIdentifier.run(id, user.userId);
            for (const row of rows) q.logChange.run(row.version, row.kind, user.userId);
            changes += kinds.length;
          }
          if (onProgress !== undefined && ((i + 1) % 1024 === 0 || i + 1 === plan.length)) onProgress(i + 1, plan.length);
        });
        q.setVersion.run(version);
        return { changes, version };
      })
      .immediate();
  }

  /**
   * Applies a staged file import (import-stage.ts) in one transaction, set-wise
   * (sqlite-import-apply.ts): what upsertUsers of every staged user would do, plus the
   * staged tags of `tagEpoch` (undefined: none; precompute computes them).
   */
  async applyImportStage(stagePath: string, tagEpoch: number | undefined): Promise<StageApplyResult> {
    return applyStageSqlite(this.#db, stagePath, tagEpoch);
  }

  async removeUser(userId: string): Promise<boolean> {
    const q = this.#q;
    return this.#db
      .transaction((): boolean => {
        if (q.deleteUser.run(userId).changes === 0) return false; // identifiers go by ON DELETE CASCADE
        this.#log('unregister', userId);
        return true;
      })
      .immediate();
  }

  async getUser(userId: string): Promise<DirectoryUser | undefined> {
    return this.#db.transaction(() => this.#readUser(userId))();
  }

  async countUsers(): Promise<number> {
    return this.#q.countUsers.get() as number;
  }

  async *discoverable(): AsyncIterable<DiscoverableEntry> {
    // Keyset pages, not one open cursor: the connection stays free for writes between pages.
    let after = '';
    for (;;) {
      const page = this.#q.discoverablePage.all(after, PAGE) as DiscoverableEntry[];
      yield* page;
      if (page.length < PAGE) return;
      after = page[page.length - 1].identifier;
    }
  }

  async version(): Promise<number> {
    return this.#q.version.get() as number;
  }

  async changesSince(after: number, limit = Number.MAX_SAFE_INTEGER): Promise<ChangeRecord[]> {
    const rows = this.#q.changesSince.all(after, limit) as { version: number; kind: ChangeKind; user_id: string }[];
    return rows.map((r) => ({ version: r.version, kind: r.kind, userId: r.user_id }));
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.#q.getMeta.get(key) as string | undefined;
  }

  async setMeta(entries: Readonly<Record<string, string>>): Promise<void> {
    const q = this.#q;
    this.#db.transaction(() => {
      for (const [key, value] of Object.entries(entries)) q.setMeta.run(key, value);
    }).immediate();
  }

  async pruneTags(epoch: number): Promise<number> {
    const q = this.#q;
    return this.#db
      .transaction((): number => {
        const removed = q.pruneTags.all(epoch) as Buffer[];
        if (this.#logging(epoch)) for (const tag of removed) this.#logTag(epoch, tag, 'removed');
        return removed.length;
      })
      .immediate();
  }

  async countMissingTags(epoch: number): Promise<number> {
    return this.#q.countMissing.get({ epoch }) as number;
  }

  async missingTags(epoch: number, after: string | undefined, limit: number): Promise<MissingTag[]> {
    const rows = this.#q.missingPage.all({ epoch, after: after ?? '', limit }) as (Omit<MissingTag, 'label'> & { label: Buffer })[];
    return rows.map((r) => ({ ...r, label: bytes(r.label) }));
  }

  async putTags(epoch: number, records: readonly TagRecord[]): Promise<number> {
    const q = this.#q;
    return this.#db
      .transaction((): number => {
        const logging = this.#logging(epoch);
        let stored = 0;
        for (const r of records) {
          // The previous tag matters only to the delta log (not started during a bulk fill).
          const old = logging ? (q.tagOf.get(epoch, r.identifier) as Buffer | undefined) : undefined;
          const sealed = r.sealed === undefined ? null : blob(r.sealed);
          const sealedVersion = r.sealed === undefined ? null : (r.labelVersion ?? null);
          const changes = q.putTag.run(epoch, blob(r.tag), blob(r.lookupKey), sealed, sealedVersion, r.identifier, r.userId).changes;
          if (changes === 0) continue;
          stored++;
          // The tag set changes only if the tag bytes do (a re-put of the same identifier does not).
          if (logging && (old === undefined || Buffer.compare(old, r.tag) !== 0)) {
            if (old !== undefined) this.#logTag(epoch, old, 'removed');
            this.#logTag(epoch, r.tag, 'added');
          }
        }
        return stored;
      })
      .immediate();
  }

  /**
   * A fill of `missing` tags into a tags table without a single row (a new directory's first
   * precompute) runs without the lookup index, which endTagFill builds in one sorted pass:
   * kept up row by row, its random keys dirty a page per row and made three quarters of the
   * store's write time at 1M tags. Nothing can be looked up before the fill completes (no
   * snapshot has its tags), and a lookup meanwhile scans instead of failing. A crash before
   * endTagFill leaves the index to the next open (ensureLookupIndex). Any other fill (e.g.
   * a rotation's, while the current epoch is served) keeps the index.
   */
  async beginTagFill(_epoch: number, missing: number): Promise<void> {
    if (missing < this.#bulkFillThreshold || this.#indexDeferred) return;
    const q = this.#q;
    this.#db
      .transaction(() => {
        if (q.anyTag.get() === 1) return;
        this.#db.exec(`DROP INDEX IF EXISTS ${LOOKUP_INDEX}`);
        this.#indexDeferred = true;
      })
      .immediate();
  }

  async endTagFill(_epoch: number): Promise<void> {
    if (!this.#indexDeferred) return;
    ensureLookupIndex(this.#db);
    this.#indexDeferred = false;
  }

  async unsealedTags(epoch: number, after: string | undefined, limit: number): Promise<UnsealedTag[]> {
    const rows = this.#q.unsealedPage.all({ epoch, after: after ?? '', limit }) as (Omit<UnsealedTag, 'label' | 'tag'> & { label: Buffer; tag: Buffer })[];
    return rows.map((r) => ({ ...r, label: bytes(r.label), tag: bytes(r.tag) }));
  }

  async putSealedLabels(epoch: number, records: readonly SealedLabelRecord[]): Promise<number> {
    const q = this.#q;
    return this.#db
      .transaction((): number => {
        let stored = 0;
        const logging = this.#logging(epoch);
        for (const r of records) {
          const before = logging ? (q.sealedVersionOf.get(epoch, r.identifier, r.userId) as { v: number | null } | undefined) : undefined;
          const changed = q.putSealed.run({ epoch, identifier: r.identifier, userId: r.userId, sealed: blob(r.sealed), labelVersion: r.labelVersion }).changes;
          stored += changed;
          // A label change reaches clients as `relabeled` (tag-delta.ts): a removed + added pair.
          // A re-seal of the label version already sealed (the label format 2 migration drops
          // format 1 seals, migration 4) changes nothing a client opened: no marker.
          if (changed > 0 && logging && before?.v !== r.labelVersion) {
            const tag = bytes(q.tagOf.get(epoch, r.identifier) as Buffer);
            this.#logTag(epoch, tag, 'removed');
            this.#logTag(epoch, tag, 'added');
          }
        }
        return stored;
      })
      .immediate();
  }

  async readTagSet(epoch: number, prefixBytes?: number): Promise<TagSet> {
    checkPrefixBytes(prefixBytes);
    const q = this.#q;
    // One read transaction: WAL gives it a consistent view while writers go on.
    return this.#db.transaction((): TagSet => {
      const version = q.version.get() as number;
      const count = q.countTags.get(epoch) as number;
      let tagLength = 0;
      let packed = new Uint8Array(0);
      let i = 0;
      const rows = prefixBytes === undefined ? q.sortedTags.iterate(epoch) : q.sortedPrefixes.iterate({ epoch, width: prefixBytes });
      for (const tag of rows as IterableIterator<Buffer>) {
        if (i === 0) {
          tagLength = tag.length;
          packed = new Uint8Array(count * tagLength);
        }
        if (tag.length !== tagLength) throw new ContactPsiError('store_corrupt', `tags of epoch ${epoch} differ in length`);
        packed.set(tag, i * tagLength);
        i++;
      }
      // Tags recorded complete at this very version (completeTags: a pass that saw no change,
      // or a read like this one that counted nothing) have nothing missing, stale or
      // unsealed: every change moves the version, and dropEpoch drops the record. That
      // spares three scans of the directory (~2 s at 1M tags) after every precompute.
      if (q.tagVersionOf.get(epoch) === version) return { version, packed, tagLength, count, missing: 0, stale: 0, unsealed: 0 };
      const missing = q.countMissing.get({ epoch }) as number;
      const stale = q.countStale.get(epoch) as number;
      const unsealed = q.countUnsealed.get(epoch) as number;
      return { version, packed, tagLength, count, missing, stale, unsealed };
    })();
  }

  async listEpochs(): Promise<EpochRecord[]> {
    return (this.#q.listEpochs.all() as RawEpoch[]).map(epochRecord);
  }

  async getEpoch(epoch: number): Promise<EpochRecord | undefined> {
    const q = this.#q;
    return this.#db.transaction(() => {
      const row = q.getEpoch.get(epoch) as RawEpoch | undefined;
      if (row !== undefined) return epochRecord(row);
      return q.hasTags.get(epoch) === 1 ? epochRecord({ epoch, publicKey: null, tagVersion: null, deltaFloor: null }) : undefined;
    })();
  }

  async registerEpoch(epoch: number, publicKey: string): Promise<void> {
    this.#q.registerEpoch.run(epoch, publicKey);
  }

  async completeTags(epoch: number, version: number, startDeltaLog: boolean): Promise<boolean> {
    const q = this.#q;
    return this.#db
      .transaction((): boolean => {
        if ((q.version.get() as number) !== version) return false;
        q.completeTags.run({ epoch, version, start: startDeltaLog ? 1 : 0 });
        return true;
      })
      .immediate();
  }

  async activateEpoch(epoch: number, meta: Readonly<Record<string, string>>): Promise<void> {
    const q = this.#q;
    this.#db
      .transaction(() => {
        for (const [key, value] of Object.entries(meta)) q.setMeta.run(key, value);
        q.ensureEpoch.run(epoch);
        q.startDeltaLog.run({ epoch, version: q.version.get() as number });
      })
      .immediate();
  }

  async dropEpoch(epoch: number): Promise<number> {
    const q = this.#q;
    return this.#db
      .transaction((): number => {
        const dropped = q.dropTags.run(epoch).changes;
        q.dropTagLog.run(epoch);
        q.dropSnapshots.run(epoch);
        q.dropEpoch.run(epoch);
        return dropped;
      })
      .immediate();
  }

  async trimTagLog(epoch: number, through: number): Promise<void> {
    const q = this.#q;
    this.#db
      .transaction(() => {
        q.trimTagLog.run(epoch, through);
        q.raiseFloor.run({ epoch, through });
      })
      .immediate();
  }

  async tagDelta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    const q = this.#q;
    return this.#db.transaction((): TagDelta | undefined => {
      const state = q.getEpoch.get(epoch) as RawEpoch | undefined;
      if (state === undefined || state.deltaFloor === null || state.tagVersion === null) return undefined;
      const toVersion = state.tagVersion;
      if (!Number.isSafeInteger(fromVersion) || fromVersion < state.deltaFloor || fromVersion > toVersion) return undefined;
      const rows = q.tagLogRange.all(epoch, fromVersion, toVersion) as TagLogRow[];
      return { epoch, fromVersion, toVersion, ...netTagDelta(rows) };
    })();
  }

  async lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    return (await this.lookupSealed(epoch, lookupKeys)).map((m) => (m === null ? null : { userId: m.userId, label: m.label, tag: m.tag }));
  }

  async lookupSealed(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(SealedMatch | null)[]> {
    return this.#db.transaction(() =>
      lookupKeys.map((key) => {
        const row = this.#lookupRow(epoch, key);
        if (row === undefined) return null;
        return { userId: row.userId, label: bytes(row.label), tag: bytes(row.tag), sealed: row.sealed === null ? undefined : bytes(row.sealed) };
      }),
    )();
  }

  async lookupSealedByPrefix(epoch: number, prefixes: readonly Uint8Array[], limit: number): Promise<SealedMatch[][]> {
    return this.#db.transaction(() =>
      prefixes.map((prefix) =>
        this.#lookupPrefixRows(epoch, prefix, limit).map((row) => ({
          userId: row.userId,
          label: bytes(row.label),
          tag: bytes(row.tag),
          sealed: row.sealed === null ? undefined : bytes(row.sealed),
        })),
      ),
    )();
  }

  async getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined> {
    const row = this.#q.getSnapshot.get(epoch, kind, version) as (Omit<SnapshotRecord, 'bytes'> & { bytes: Buffer }) | undefined;
    return row === undefined ? undefined : { ...row, bytes: bytes(row.bytes) };
  }

  async putSnapshot(r: SnapshotRecord): Promise<void> {
    this.#q.putSnapshot.run(r.epoch, r.kind, r.version, r.count, r.digest, blob(r.bytes));
  }

  async logLength(): Promise<number> {
    return this.#q.logLength.get() as number;
  }

  async readLog(from: number, limit: number): Promise<LogEntryRecord[]> {
    checkLogRange(from, limit);
    return (this.#q.readLog.all(from, limit) as RawLogEntry[]).map(logEntry);
  }

  async findLogEntry(kind: LogEntryRecord['kind'], epoch: number, version: number): Promise<LogEntryRecord | undefined> {
    const row = this.#q.findLogEntry.get(kind, epoch, version) as RawLogEntry | undefined;
    return row === undefined ? undefined : logEntry(row);
  }

  async appendLog(entry: LogEntryRecord): Promise<boolean> {
    checkLogEntry(entry);
    const q = this.#q;
    // IMMEDIATE: the length check and the insert see no other writer in between.
    return this.#db.transaction(() => {
      if ((q.logLength.get() as number) !== entry.seq) return false;
      return q.appendLog.run(entry.seq, entry.kind, entry.epoch, entry.version, blob(entry.envelope)).changes === 1;
    }).immediate();
  }

  async getBucket(account: string): Promise<BucketState | undefined> {
    return this.#readBucket(account);
  }

  async putBucket(account: string, state: BucketState): Promise<void> {
    checkAccount(account);
    const { tokens, updatedAt } = checkBucket(state);
    this.#db.transaction(() => this.#q.putBucket.run(account, tokens, updatedAt)).immediate();
  }

  async updateBucket(account: string, update: (state: BucketState | undefined) => BucketState): Promise<BucketState> {
    checkAccount(account);
    // IMMEDIATE takes the write lock before the read: another process cannot spend in between.
    return this.#db
      .transaction((): BucketState => {
        const next = checkBucket(update(this.#readBucket(account)));
        this.#q.putBucket.run(account, next.tokens, next.updatedAt);
        return next;
      })
      .immediate();
  }

  async writeQuota(write: QuotaWrite): Promise<BucketState[]> {
    checkQuotaWrite(write);
    // IMMEDIATE: the write lock is taken before the first read, as in updateBucket.
    return this.#db
      .transaction((): BucketState[] => {
        const written = write.buckets.map(({ key, update }) => {
          const next = checkBucket(update(this.#readBucket(key)));
          this.#q.putBucket.run(key, next.tokens, next.updatedAt);
          return next;
        });
        for (const record of write.records ?? []) {
          const last = this.#q.lastCharged.get(record.key) as { seq: number; generation: number } | undefined;
          const action = recordAction(last?.generation, record.generation);
          if (action === 'keep') continue;
          if (action === 'replace') this.#q.dropCharged.run(record.key);
          this.#q.addCharged.run(record.key, action === 'append' ? last!.seq + 1 : 0, record.generation, blob(record.hashes));
        }
        return written;
      })
      .immediate();
  }

  async chargedRecord(key: string): Promise<ChargedRecord | undefined> {
    return this.#readCharged(key);
  }

  #readCharged(key: string): ChargedRecord | undefined {
    checkAccount(key);
    const rows = this.#q.getCharged.all(key) as { generation: number; hashes: Buffer }[];
    return rows.length === 0 ? undefined : joinRecord(rows[0]!.generation, rows.map((r) => r.hashes));
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #log(kind: ChangeKind, userId: string): void {
    const version = (this.#q.version.get() as number) + 1;
    this.#q.logChange.run(version, kind, userId);
    this.#q.setVersion.run(version);
  }

  /** Tag changes are logged once the epoch's delta log has started (spec/directory.md §5). */
  #logging(epoch: number): boolean {
    return this.#q.deltaLogging.get(epoch) === 1;
  }

  /** Call inside the write transaction: the version read is the one the change belongs to. */
  #logTag(epoch: number, tag: Uint8Array, op: TagOp): void {
    this.#q.logTag.run(epoch, this.#q.version.get() as number, blob(tagPrefix(tag)), op);
  }

  #readBucket(account: string): BucketState | undefined {
    checkAccount(account);
    const row = this.#q.getBucket.get(account) as BucketState | undefined;
    return row === undefined ? undefined : { tokens: row.tokens, updatedAt: row.updatedAt };
  }

  #lookupPrefixRows(epoch: number, prefix: Uint8Array, limit: number): LookupRow[] {
    const [low, high] = prefixRange(prefix);
    try {
      this.#prefixIndexed ??= this.#db.prepare(LOOKUP_PREFIX_SQL);
      return this.#prefixIndexed.all(epoch, low, high, limit) as LookupRow[];
    } catch (err) {
      if (!isMissingIndex(err)) throw err;
      this.#prefixUnindexed ??= this.#db.prepare(LOOKUP_PREFIX_UNINDEXED_SQL);
      return this.#prefixUnindexed.all(epoch, low, high, limit) as LookupRow[];
    }
  }

  #lookupRow(epoch: number, key: Uint8Array): LookupRow | undefined {
    try {
      this.#lookupIndexed ??= this.#db.prepare(LOOKUP_SQL);
      return this.#lookupIndexed.get(epoch, blob(key)) as LookupRow | undefined;
    } catch (err) {
      if (!isMissingIndex(err)) throw err;
      this.#lookupUnindexed ??= this.#db.prepare(LOOKUP_UNINDEXED_SQL);
      return this.#lookupUnindexed.get(epoch, blob(key)) as LookupRow | undefined;
    }
  }

  #readUser(userId: string): DirectoryUser | undefined {
    const row = this.#q.user.get(userId) as { label: Buffer; discoverable: number } | undefined;
    if (row === undefined) return undefined;
    const identifiers = this.#q.userIdentifiers.all(userId) as string[];
    return { userId, identifiers, label: bytes(row.label), discoverable: row.discoverable === 1 };
  }
}
