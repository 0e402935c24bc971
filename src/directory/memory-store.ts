/**
 * The directory in plain Maps: for tests, the demo and embedders that rebuild the directory
 * at start. Behaves exactly like the SQLite store (test/directory-store.test.ts runs one
 * property suite on both); every byte string is copied in and out, as a database would.
 */
import { ContactPsiError } from '../errors.js';
import type { EncodingKind } from '../setenc/types.js';
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
import { changeKinds, compareCodePoints, identifierTaken, normalizeBatch } from './users.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const copyUser = (u: DirectoryUser): DirectoryUser => ({ ...u, identifiers: [...u.identifiers], label: new Uint8Array(u.label) });

export class MemoryStore implements DirectoryStore {
  readonly backend = 'memory' as const;
  readonly path = undefined;

  readonly #users = new Map<string, DirectoryUser>();
  /** identifier -> userId */
  readonly #owners = new Map<string, string>();
  readonly #changes: ChangeRecord[] = [];
  #version = 0;
  readonly #meta = new Map<string, string>();
  /** epoch -> identifier -> tag */
  readonly #tags = new Map<number, Map<string, TagRecord>>();
  /** epoch -> hex(lookup key) -> identifier */
  readonly #byLookup = new Map<number, Map<string, string>>();
  readonly #snapshots = new Map<EncodingKind, SnapshotRecord>();
  /** Discoverable pairs in identifier order; rebuilt lazily after a change. */
  #sorted: DiscoverableEntry[] | null = null;
  #closed = false;

  async upsertUsers(inputs: readonly DirectoryUserInput[], onProgress?: Progress): Promise<UpsertResult> {
    this.#open();
    const { users, claims } = normalizeBatch(inputs);
    const inBatch = new Set(users.map((u) => u.userId));
    for (const [identifier, claimant] of claims) {
      const holder = this.#owners.get(identifier);
      // A holder inside the batch gives the identifier up (claims are unique per batch).
      if (holder !== undefined && holder !== claimant && !inBatch.has(holder)) throw identifierTaken(identifier, claimant, holder);
    }
    const plan = users.map((user) => {
      const before = this.#users.get(user.userId);
      return { user, before, kinds: changeKinds(before, user) };
    });
    // Release first, then claim: identifiers may move between users of the batch.
    for (const { before, kinds } of plan) {
      if (before !== undefined && kinds.includes('identifiers')) for (const id of before.identifiers) this.#owners.delete(id);
    }
    let changes = 0;
    plan.forEach(({ user, kinds }, i) => {
      if (kinds.length > 0) {
        this.#users.set(user.userId, user);
        for (const id of user.identifiers) this.#owners.set(id, user.userId);
        for (const kind of kinds) this.#log(kind, user.userId);
        changes += kinds.length;
      }
      if (onProgress !== undefined && ((i + 1) % 1024 === 0 || i + 1 === plan.length)) onProgress(i + 1, plan.length);
    });
    if (changes > 0) this.#sorted = null;
    return { changes, version: this.#version };
  }

  async removeUser(userId: string): Promise<boolean> {
    this.#open();
    const user = this.#users.get(userId);
    if (user === undefined) return false;
    for (const id of user.identifiers) this.#owners.delete(id);
    this.#users.delete(userId);
    this.#log('unregister', userId);
    this.#sorted = null;
    return true;
  }

  async getUser(userId: string): Promise<DirectoryUser | undefined> {
    this.#open();
    const user = this.#users.get(userId);
    return user === undefined ? undefined : copyUser(user);
  }

  async countUsers(): Promise<number> {
    this.#open();
    return this.#users.size;
  }

  async *discoverable(): AsyncIterable<DiscoverableEntry> {
    this.#open();
    yield* this.#discoverableSorted().map((e) => ({ ...e }));
  }

  async version(): Promise<number> {
    this.#open();
    return this.#version;
  }

  async changesSince(after: number, limit = Number.MAX_SAFE_INTEGER): Promise<ChangeRecord[]> {
    this.#open();
    // Versions are 1..n in log order, so the rows after `after` start at index `after`.
    return this.#changes.slice(Math.max(0, after), Math.max(0, after) + limit).map((c) => ({ ...c }));
  }

  async getMeta(key: string): Promise<string | undefined> {
    this.#open();
    return this.#meta.get(key);
  }

  async setMeta(entries: Readonly<Record<string, string>>): Promise<void> {
    this.#open();
    for (const [key, value] of Object.entries(entries)) this.#meta.set(key, value);
  }

  async pruneTags(epoch: number): Promise<number> {
    this.#open();
    let pruned = 0;
    for (const [e, tags] of this.#tags) {
      if (e === epoch) continue;
      pruned += tags.size;
      this.#tags.delete(e);
      this.#byLookup.delete(e);
    }
    const tags = this.#tags.get(epoch);
    const index = this.#byLookup.get(epoch);
    if (tags !== undefined && index !== undefined) {
      for (const [identifier, record] of tags) {
        if (this.#isDiscoverablePair(identifier, record.userId)) continue;
        tags.delete(identifier);
        index.delete(hex(record.lookupKey));
        pruned++;
      }
    }
    return pruned;
  }

  async countMissingTags(epoch: number): Promise<number> {
    this.#open();
    const tags = this.#tags.get(epoch);
    return this.#discoverableSorted().filter((e) => tags?.get(e.identifier)?.userId !== e.userId).length;
  }

  async missingTags(epoch: number, after: string | undefined, limit: number): Promise<DiscoverableEntry[]> {
    this.#open();
    const sorted = this.#discoverableSorted();
    const tags = this.#tags.get(epoch);
    let lo = 0;
    if (after !== undefined) {
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareCodePoints(sorted[mid].identifier, after) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const out: DiscoverableEntry[] = [];
    for (let i = lo; i < sorted.length && out.length < limit; i++) {
      const entry = sorted[i];
      if (tags?.get(entry.identifier)?.userId !== entry.userId) out.push({ ...entry });
    }
    return out;
  }

  async putTags(epoch: number, records: readonly TagRecord[]): Promise<number> {
    this.#open();
    let tags = this.#tags.get(epoch);
    let index = this.#byLookup.get(epoch);
    if (tags === undefined || index === undefined) {
      tags = new Map();
      index = new Map();
      this.#tags.set(epoch, tags);
      this.#byLookup.set(epoch, index);
    }
    let stored = 0;
    for (const r of records) {
      if (!this.#isDiscoverablePair(r.identifier, r.userId)) continue;
      const old = tags.get(r.identifier);
      if (old !== undefined) index.delete(hex(old.lookupKey));
      const record = { identifier: r.identifier, userId: r.userId, tag: new Uint8Array(r.tag), lookupKey: new Uint8Array(r.lookupKey) };
      tags.set(r.identifier, record);
      index.set(hex(record.lookupKey), r.identifier);
      stored++;
    }
    return stored;
  }

  async readTagSet(epoch: number): Promise<TagSet> {
    this.#open();
    const records = [...(this.#tags.get(epoch)?.values() ?? [])];
    records.sort((a, b) => Buffer.compare(a.tag, b.tag));
    const tagLength = records.length === 0 ? 0 : records[0].tag.length;
    const packed = new Uint8Array(records.length * tagLength);
    records.forEach((r, i) => packed.set(r.tag, i * tagLength));
    const stale = records.filter((r) => !this.#isDiscoverablePair(r.identifier, r.userId)).length;
    return { version: this.#version, packed, tagLength, count: records.length, missing: await this.countMissingTags(epoch), stale };
  }

  async lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    return this.lookupSync(epoch, lookupKeys);
  }

  lookupSync(epoch: number, lookupKeys: readonly Uint8Array[]): (LabelMatch | null)[] {
    this.#open();
    const tags = this.#tags.get(epoch);
    const index = this.#byLookup.get(epoch);
    return lookupKeys.map((key) => {
      const identifier = index?.get(hex(key));
      const record = identifier === undefined ? undefined : tags?.get(identifier);
      // The pair is checked again so a user who opted out since the last precompute is never revealed.
      if (record === undefined || !this.#isDiscoverablePair(record.identifier, record.userId)) return null;
      return { userId: record.userId, label: new Uint8Array(this.#users.get(record.userId)!.label), tag: new Uint8Array(record.tag) };
    });
  }

  async getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined> {
    this.#open();
    const s = this.#snapshots.get(kind);
    if (s === undefined || s.epoch !== epoch || s.version !== version) return undefined;
    return { ...s, bytes: new Uint8Array(s.bytes) };
  }

  async putSnapshot(record: SnapshotRecord): Promise<void> {
    this.#open();
    this.#snapshots.set(record.kind, { ...record, bytes: new Uint8Array(record.bytes) });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new ContactPsiError('store_closed', 'the directory store is closed');
  }

  #log(kind: ChangeKind, userId: string): void {
    this.#version++;
    this.#changes.push({ version: this.#version, kind, userId });
  }

  #isDiscoverablePair(identifier: string, userId: string): boolean {
    return this.#owners.get(identifier) === userId && this.#users.get(userId)?.discoverable === true;
  }

  #discoverableSorted(): DiscoverableEntry[] {
    if (this.#sorted === null) {
      const entries: DiscoverableEntry[] = [];
      for (const [identifier, userId] of this.#owners) if (this.#users.get(userId)?.discoverable) entries.push({ identifier, userId });
      this.#sorted = entries.sort((a, b) => compareCodePoints(a.identifier, b.identifier));
    }
    return this.#sorted;
  }
}
