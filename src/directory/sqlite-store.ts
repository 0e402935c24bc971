/**
 * The embedded default store: one SQLite file through better-sqlite3. WAL so readers (the
 * server answering lookups) never wait for a writer (an import), synchronous=NORMAL because
 * in WAL mode that loses at most the last transactions on power loss, never consistency;
 * every multi-row write is one transaction, so a failed import leaves the file untouched.
 */
import Database from 'better-sqlite3';
import { ContactPsiError } from '../errors.js';
import type { EncodingKind } from '../setenc/types.js';
import { migrate } from './sqlite-schema.js';
import type {
  ChangeKind,
  ChangeRecord,
  DirectoryStore,
  DirectoryUser,
  DirectoryUserInput,
  DiscoverableEntry,
  LabelMatch,
  Progress,
  SnapshotRecord,
  TagRecord,
  TagSet,
  UpsertResult,
} from './types.js';
import { changeKinds, identifierTaken, normalizeBatch } from './users.js';

export interface SqliteStoreOptions {
  /** How long a write waits for another process's write lock, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
}

/** Pages of the keyset-paged iteration over discoverable pairs. */
const PAGE = 4096;

/** better-sqlite3 binds Buffers as BLOBs; this views a Uint8Array as one without copying. */
const blob = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** BLOBs come back as Buffers; callers get plain Uint8Arrays, as from the memory store. */
const bytes = (buf: Buffer): Uint8Array => new Uint8Array(buf);

// A pair is discoverable when the identifier still belongs to that user and the user has not opted out.
const PAIR_IS_DISCOVERABLE = `EXISTS (SELECT 1 FROM identifiers i JOIN users u ON u.user_id = i.user_id
  WHERE i.identifier = t.identifier AND i.user_id = t.user_id AND u.discoverable = 1)`;
const HAS_TAG = `EXISTS (SELECT 1 FROM tags t WHERE t.epoch = @epoch AND t.identifier = i.identifier AND t.user_id = i.user_id)`;

export class SqliteStore implements DirectoryStore {
  readonly backend = 'sqlite' as const;
  readonly path: string | undefined;
  readonly #db: Database.Database;
  readonly #q;

  private constructor(db: Database.Database, path: string | undefined) {
    this.#db = db;
    this.path = path;
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      version: p('SELECT version FROM state WHERE id = 1').pluck(),
      setVersion: p('UPDATE state SET version = ? WHERE id = 1'),
      logChange: p('INSERT INTO changes (version, kind, user_id) VALUES (?, ?, ?)'),
      changesSince: p('SELECT version, kind, user_id FROM changes WHERE version > ? ORDER BY version LIMIT ?'),
      user: p('SELECT label, discoverable FROM users WHERE user_id = ?'),
      userIdentifiers: p('SELECT identifier FROM identifiers WHERE user_id = ? ORDER BY identifier').pluck(),
      owner: p('SELECT user_id FROM identifiers WHERE identifier = ?').pluck(),
      upsertUser: p(`INSERT INTO users (user_id, label, discoverable) VALUES (?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, discoverable = excluded.discoverable`),
      deleteIdentifiers: p('DELETE FROM identifiers WHERE user_id = ?'),
      insertIdentifier: p('INSERT INTO identifiers (identifier, user_id) VALUES (?, ?)'),
      deleteUser: p('DELETE FROM users WHERE user_id = ?'),
      countUsers: p('SELECT COUNT(*) FROM users').pluck(),
      discoverablePage: p(`SELECT i.identifier AS identifier, i.user_id AS userId FROM identifiers i
        JOIN users u ON u.user_id = i.user_id
        WHERE u.discoverable = 1 AND i.identifier > ? ORDER BY i.identifier LIMIT ?`),
      getMeta: p('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      pruneTags: p(`DELETE FROM tags AS t WHERE t.epoch <> ? OR NOT ${PAIR_IS_DISCOVERABLE}`),
      countMissing: p(`SELECT COUNT(*) FROM identifiers i JOIN users u ON u.user_id = i.user_id
        WHERE u.discoverable = 1 AND NOT ${HAS_TAG}`).pluck(),
      missingPage: p(`SELECT i.identifier AS identifier, i.user_id AS userId FROM identifiers i
        JOIN users u ON u.user_id = i.user_id
        WHERE u.discoverable = 1 AND i.identifier > @after AND NOT ${HAS_TAG}
        ORDER BY i.identifier LIMIT @limit`),
      // Inserted only while the pair is discoverable: a precompute racing an opt-out from
      // another process cannot leave a tag behind that the opt-out meant to remove.
      putTag: p(`INSERT OR REPLACE INTO tags (epoch, identifier, user_id, tag, lookup_key)
        SELECT ?, i.identifier, i.user_id, ?, ? FROM identifiers i JOIN users u ON u.user_id = i.user_id
        WHERE i.identifier = ? AND i.user_id = ? AND u.discoverable = 1`),
      countTags: p('SELECT COUNT(*) FROM tags WHERE epoch = ?').pluck(),
      sortedTags: p('SELECT tag FROM tags WHERE epoch = ? ORDER BY tag').pluck(),
      countStale: p(`SELECT COUNT(*) FROM tags AS t WHERE t.epoch = ? AND NOT ${PAIR_IS_DISCOVERABLE}`).pluck(),
      lookup: p(`SELECT t.user_id AS userId, u.label AS label, t.tag AS tag FROM tags t
        JOIN identifiers i ON i.identifier = t.identifier AND i.user_id = t.user_id
        JOIN users u ON u.user_id = t.user_id AND u.discoverable = 1
        WHERE t.epoch = ? AND t.lookup_key = ? LIMIT 1`),
      getSnapshot: p('SELECT epoch, version, kind, count, digest, bytes FROM snapshots WHERE kind = ? AND epoch = ? AND version = ?'),
      putSnapshot: p(`INSERT OR REPLACE INTO snapshots (kind, epoch, version, count, digest, bytes) VALUES (?, ?, ?, ?, ?, ?)`),
    };
  }

  /** Opens (creating if needed) the directory file at `path`; ':memory:' gives a private in-memory database. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteStore(db, path === ':memory:' || path === '' ? undefined : path);
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
            q.upsertUser.run(user.userId, blob(user.label), user.discoverable ? 1 : 0);
            if (before === undefined || kinds.includes('identifiers')) for (const id of user.identifiers) q.insertIdentifier.run(id, user.userId);
            for (const kind of kinds) q.logChange.run(++version, kind, user.userId);
            changes += kinds.length;
          }
          if (onProgress !== undefined && ((i + 1) % 1024 === 0 || i + 1 === plan.length)) onProgress(i + 1, plan.length);
        });
        q.setVersion.run(version);
        return { changes, version };
      })
      .immediate();
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
    return this.#q.pruneTags.run(epoch).changes;
  }

  async countMissingTags(epoch: number): Promise<number> {
    return this.#q.countMissing.get({ epoch }) as number;
  }

  async missingTags(epoch: number, after: string | undefined, limit: number): Promise<DiscoverableEntry[]> {
    return this.#q.missingPage.all({ epoch, after: after ?? '', limit }) as DiscoverableEntry[];
  }

  async putTags(epoch: number, records: readonly TagRecord[]): Promise<number> {
    const q = this.#q;
    return this.#db
      .transaction((): number => {
        let stored = 0;
        for (const r of records) stored += q.putTag.run(epoch, blob(r.tag), blob(r.lookupKey), r.identifier, r.userId).changes;
        return stored;
      })
      .immediate();
  }

  async readTagSet(epoch: number): Promise<TagSet> {
    const q = this.#q;
    // One read transaction: WAL gives it a consistent view while writers go on.
    return this.#db.transaction((): TagSet => {
      const version = q.version.get() as number;
      const count = q.countTags.get(epoch) as number;
      let tagLength = 0;
      let packed = new Uint8Array(0);
      let i = 0;
      for (const tag of q.sortedTags.iterate(epoch) as IterableIterator<Buffer>) {
        if (i === 0) {
          tagLength = tag.length;
          packed = new Uint8Array(count * tagLength);
        }
        if (tag.length !== tagLength) throw new ContactPsiError('store_corrupt', `tags of epoch ${epoch} differ in length`);
        packed.set(tag, i * tagLength);
        i++;
      }
      const missing = q.countMissing.get({ epoch }) as number;
      const stale = q.countStale.get(epoch) as number;
      return { version, packed, tagLength, count, missing, stale };
    })();
  }

  async lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    return this.lookupSync(epoch, lookupKeys);
  }

  lookupSync(epoch: number, lookupKeys: readonly Uint8Array[]): (LabelMatch | null)[] {
    const q = this.#q;
    return this.#db.transaction(() =>
      lookupKeys.map((key) => {
        const row = q.lookup.get(epoch, blob(key)) as { userId: string; label: Buffer; tag: Buffer } | undefined;
        return row === undefined ? null : { userId: row.userId, label: bytes(row.label), tag: bytes(row.tag) };
      }),
    )();
  }

  async getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined> {
    const row = this.#q.getSnapshot.get(kind, epoch, version) as (Omit<SnapshotRecord, 'bytes'> & { bytes: Buffer }) | undefined;
    return row === undefined ? undefined : { ...row, bytes: bytes(row.bytes) };
  }

  async putSnapshot(r: SnapshotRecord): Promise<void> {
    this.#q.putSnapshot.run(r.kind, r.epoch, r.version, r.count, r.digest, blob(r.bytes));
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #log(kind: ChangeKind, userId: string): void {
    const version = (this.#q.version.get() as number) + 1;
    this.#q.logChange.run(version, kind, userId);
    this.#q.setVersion.run(version);
  }

  #readUser(userId: string): DirectoryUser | undefined {
    const row = this.#q.user.get(userId) as { label: Buffer; discoverable: number } | undefined;
    if (row === undefined) return undefined;
    const identifiers = this.#q.userIdentifiers.all(userId) as string[];
    return { userId, identifiers, label: bytes(row.label), discoverable: row.discoverable === 1 };
  }
}
