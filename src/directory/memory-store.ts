/**
 * The directory in plain Maps: for tests, the demo and embedders that rebuild the directory
 * at start. Behaves exactly like the SQLite store (test/directory-store.test.ts runs one
 * property suite on both); every byte string is copied in and out, as a database would.
 */
import { WIRE_LOOKUP_KEY_BYTES } from '../protocol/discovery/labels.js';
import { ContactPsiError } from '../errors.js';
import type { EncodingKind } from '../setenc/types.js';
import { checkAccount, checkBucket, checkQuotaWrite, joinRecord, recordAction } from './buckets.js';
import { netTagDelta, tagPrefix, type TagOp } from './tag-delta.js';
import { checkPrefixBytes } from './tag-set.js';
import { checkLogEntry, checkLogRange } from './log-entries.js';
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
} from './types.js';
import { changeKinds, compareCodePoints, identifierTaken, normalizeBatch } from './users.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const copyUser = (u: DirectoryUser): DirectoryUser => ({ ...u, identifiers: [...u.identifiers], label: new Uint8Array(u.label) });
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const copyOrUndefined = (b: Uint8Array | undefined): Uint8Array | undefined => (b === undefined ? undefined : new Uint8Array(b));

interface StoredTag {
  readonly identifier: string;
  readonly userId: string;
  readonly tag: Uint8Array;
  readonly lookupKey: Uint8Array;
  sealed: Uint8Array | undefined;
  labelVersion: number | undefined;
}

interface EpochState {
  publicKey: string | undefined;
  tagVersion: number | undefined;
  deltaFloor: number | undefined;
}

interface LogRow {
  readonly version: number;
  readonly prefix: Uint8Array;
  readonly op: TagOp;
}

export class MemoryStore implements DirectoryStore {
  readonly backend = 'memory' as const;
  readonly path = undefined;

  readonly #users = new Map<string, DirectoryUser>();
  /** userId -> version of the change that last set the label */
  readonly #labelVersions = new Map<string, number>();
  /** identifier -> userId */
  readonly #owners = new Map<string, string>();
  readonly #changes: ChangeRecord[] = [];
  #version = 0;
  readonly #meta = new Map<string, string>();
  /** epoch -> identifier -> tag */
  readonly #tags = new Map<number, Map<string, StoredTag>>();
  /** epoch -> hex(lookup key) -> identifier */
  readonly #byLookup = new Map<number, Map<string, string>>();
  /** Per epoch: the first 8 bytes of a lookup key (hex, the wire key) -> identifiers whose key starts with them. */
  readonly #byPrefix = new Map<number, Map<string, Set<string>>>();
  readonly #epochs = new Map<number, EpochState>();
  /** epoch -> tag log in write order (versions non-decreasing) */
  readonly #tagLog = new Map<number, LogRow[]>();
  /** `${epoch}:${kind}` -> snapshot */
  readonly #snapshots = new Map<string, SnapshotRecord>();
  readonly #buckets = new Map<string, BucketState>();
  readonly #charged = new Map<string, { generation: number; parts: Uint8Array[] }>();
  /** The announcement log, append-only. */
  readonly #announcements: LogEntryRecord[] = [];
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
        for (const kind of kinds) {
          const version = this.#log(kind, user.userId);
          if (kind === 'register' || kind === 'label') this.#labelVersions.set(user.userId, version);
        }
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
    this.#labelVersions.delete(userId);
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
    const tags = this.#tags.get(epoch);
    const index = this.#byLookup.get(epoch);
    if (tags === undefined || index === undefined) return 0;
    let pruned = 0;
    for (const [identifier, record] of tags) {
      if (this.#isDiscoverablePair(identifier, record.userId)) continue;
      tags.delete(identifier);
      index.delete(hex(record.lookupKey));
      this.#unindexPrefix(epoch, record.lookupKey, identifier);
      this.#logTag(epoch, record.tag, 'removed');
      pruned++;
    }
    return pruned;
  }

  async countMissingTags(epoch: number): Promise<number> {
    this.#open();
    const tags = this.#tags.get(epoch);
    return this.#discoverableSorted().filter((e) => tags?.get(e.identifier)?.userId !== e.userId).length;
  }

  async missingTags(epoch: number, after: string | undefined, limit: number): Promise<MissingTag[]> {
    this.#open();
    const tags = this.#tags.get(epoch);
    return this.#scan(after, limit, (e) => tags?.get(e.identifier)?.userId !== e.userId).map((e) => ({ ...e, ...this.#labelOf(e.userId) }));
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
      if (old !== undefined) {
        index.delete(hex(old.lookupKey));
        this.#unindexPrefix(epoch, old.lookupKey, r.identifier);
      }
      // The tag set changes only if the tag bytes do (a re-put of the same identifier does not).
      if (old === undefined || !sameBytes(old.tag, r.tag)) {
        if (old !== undefined) this.#logTag(epoch, old.tag, 'removed');
        this.#logTag(epoch, r.tag, 'added');
      }
      const record: StoredTag = {
        identifier: r.identifier,
        userId: r.userId,
        tag: new Uint8Array(r.tag),
        lookupKey: new Uint8Array(r.lookupKey),
        sealed: copyOrUndefined(r.sealed),
        labelVersion: r.sealed === undefined ? undefined : r.labelVersion,
      };
      tags.set(r.identifier, record);
      index.set(hex(record.lookupKey), r.identifier);
      this.#indexPrefix(epoch, record.lookupKey, r.identifier);
      stored++;
    }
    return stored;
  }

  async unsealedTags(epoch: number, after: string | undefined, limit: number): Promise<UnsealedTag[]> {
    this.#open();
    const tags = this.#tags.get(epoch);
    return this.#scan(after, limit, (e) => this.#needsSeal(tags?.get(e.identifier), e.userId)).map((e) => ({
      ...e,
      ...this.#labelOf(e.userId),
      tag: new Uint8Array(tags!.get(e.identifier)!.tag),
    }));
  }

  async putSealedLabels(epoch: number, records: readonly SealedLabelRecord[]): Promise<number> {
    this.#open();
    const tags = this.#tags.get(epoch);
    let stored = 0;
    for (const r of records) {
      const record = tags?.get(r.identifier);
      if (record === undefined || record.userId !== r.userId) continue;
      const relabeled = record.labelVersion !== r.labelVersion;
      record.sealed = new Uint8Array(r.sealed);
      record.labelVersion = r.labelVersion;
      stored++;
      // A label change reaches clients as `relabeled` (tag-delta.ts): a removed + added pair;
      // a re-seal of the version already sealed changes nothing a client opened (as the SQL stores).
      if (!relabeled) continue;
      this.#logTag(epoch, record.tag, 'removed');
      this.#logTag(epoch, record.tag, 'added');
    }
    return stored;
  }

  async readTagSet(epoch: number, prefixBytes?: number): Promise<TagSet> {
    this.#open();
    checkPrefixBytes(prefixBytes);
    const stored = this.#tags.get(epoch);
    const records = [...(stored?.values() ?? [])];
    records.sort((a, b) => Buffer.compare(a.tag, b.tag));
    // As SQLite's substr: a tag shorter than the prefix comes out whole.
    const width = (tag: Uint8Array): number => Math.min(tag.length, prefixBytes ?? tag.length);
    const tagLength = records.length === 0 ? 0 : width(records[0].tag);
    if (records.some((r) => width(r.tag) !== tagLength)) throw new ContactPsiError('store_corrupt', `tags of epoch ${epoch} differ in length`);
    const packed = new Uint8Array(records.length * tagLength);
    records.forEach((r, i) => packed.set(r.tag.subarray(0, tagLength), i * tagLength));
    // As every store: tags recorded complete at this very version (completeTags) count
    // nothing missing, stale or unsealed; completeTags is the caller's word that they are.
    if (this.#epochs.get(epoch)?.tagVersion === this.#version) {
      return { version: this.#version, packed, tagLength, count: records.length, missing: 0, stale: 0, unsealed: 0 };
    }
    const stale = records.filter((r) => !this.#isDiscoverablePair(r.identifier, r.userId)).length;
    const unsealed = this.#discoverableSorted().filter((e) => this.#needsSeal(stored?.get(e.identifier), e.userId)).length;
    return { version: this.#version, packed, tagLength, count: records.length, missing: await this.countMissingTags(epoch), stale, unsealed };
  }

  async listEpochs(): Promise<EpochRecord[]> {
    this.#open();
    const epochs = new Set<number>(this.#epochs.keys());
    for (const [epoch, tags] of this.#tags) if (tags.size > 0) epochs.add(epoch); // as SQLite: rows, not empty maps
    for (const s of this.#snapshots.values()) epochs.add(s.epoch);
    return [...epochs].sort((a, b) => a - b).map((e) => this.#epochRecord(e));
  }

  async getEpoch(epoch: number): Promise<EpochRecord | undefined> {
    this.#open();
    // As SQLite: an epoch record or tags make an epoch known here; cached snapshots alone
    // (listed by listEpochs) do not (found by the store conformance suite).
    if (!this.#epochs.has(epoch) && !((this.#tags.get(epoch)?.size ?? 0) > 0)) return undefined;
    return this.#epochRecord(epoch);
  }

  async registerEpoch(epoch: number, publicKey: string): Promise<void> {
    this.#open();
    // As SQLite's COALESCE: a record without a key (made by activateEpoch) gets this one.
    const existing = this.#epochs.get(epoch);
    if (existing === undefined) this.#epochs.set(epoch, { publicKey, tagVersion: undefined, deltaFloor: undefined });
    else if (existing.publicKey === undefined) this.#epochs.set(epoch, { ...existing, publicKey });
  }

  async completeTags(epoch: number, version: number, startDeltaLog: boolean): Promise<boolean> {
    this.#open();
    if (version !== this.#version) return false;
    const state = this.#epochState(epoch);
    state.tagVersion = Math.max(state.tagVersion ?? version, version);
    if (startDeltaLog && state.deltaFloor === undefined) state.deltaFloor = version;
    return true;
  }

  async activateEpoch(epoch: number, meta: Readonly<Record<string, string>>): Promise<void> {
    this.#open();
    const state = this.#epochState(epoch);
    state.deltaFloor ??= state.tagVersion ?? this.#version;
    for (const [key, value] of Object.entries(meta)) this.#meta.set(key, value);
  }

  async dropEpoch(epoch: number): Promise<number> {
    this.#open();
    const count = this.#tags.get(epoch)?.size ?? 0;
    this.#tags.delete(epoch);
    this.#byLookup.delete(epoch);
    this.#byPrefix.delete(epoch);
    this.#tagLog.delete(epoch);
    this.#epochs.delete(epoch);
    for (const [key, s] of this.#snapshots) if (s.epoch === epoch) this.#snapshots.delete(key);
    return count;
  }

  async trimTagLog(epoch: number, through: number): Promise<void> {
    this.#open();
    const rows = this.#tagLog.get(epoch);
    if (rows !== undefined) this.#tagLog.set(epoch, rows.filter((r) => r.version > through));
    const state = this.#epochs.get(epoch);
    if (state?.deltaFloor !== undefined) state.deltaFloor = Math.max(state.deltaFloor, through);
  }

  async tagDelta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    this.#open();
    const state = this.#epochs.get(epoch);
    if (state?.deltaFloor === undefined || state.tagVersion === undefined) return undefined;
    const toVersion = state.tagVersion;
    if (!Number.isSafeInteger(fromVersion) || fromVersion < state.deltaFloor || fromVersion > toVersion) return undefined;
    const rows = (this.#tagLog.get(epoch) ?? []).filter((r) => r.version > fromVersion && r.version <= toVersion);
    return { epoch, fromVersion, toVersion, ...netTagDelta(rows) };
  }

  async lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    return (await this.lookupSealed(epoch, lookupKeys)).map((m) => (m === null ? null : { userId: m.userId, label: m.label, tag: m.tag }));
  }

  async lookupSealed(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(SealedMatch | null)[]> {
    this.#open();
    const tags = this.#tags.get(epoch);
    const index = this.#byLookup.get(epoch);
    return lookupKeys.map((key) => {
      const identifier = index?.get(hex(key));
      const record = identifier === undefined ? undefined : tags?.get(identifier);
      // The pair is checked again so a user who opted out since the last precompute is never revealed.
      if (record === undefined || !this.#isDiscoverablePair(record.identifier, record.userId)) return null;
      const fresh = !this.#needsSeal(record, record.userId);
      return {
        userId: record.userId,
        label: new Uint8Array(this.#users.get(record.userId)!.label),
        tag: new Uint8Array(record.tag),
        sealed: fresh ? copyOrUndefined(record.sealed) : undefined,
      };
    });
  }

  async lookupSealedByPrefix(epoch: number, prefixes: readonly Uint8Array[], limit: number): Promise<SealedMatch[][]> {
    this.#open();
    const tags = this.#tags.get(epoch);
    const index = this.#byPrefix.get(epoch);
    return prefixes.map((prefix) => {
      const records = [...(index?.get(hex(prefix)) ?? [])].map((identifier) => tags?.get(identifier)).filter((r): r is StoredTag => r !== undefined);
      records.sort((a, b) => (hex(a.lookupKey) < hex(b.lookupKey) ? -1 : 1));
      // The pair is checked again so a user who opted out since the last precompute is never revealed.
      return records
        .filter((r) => this.#isDiscoverablePair(r.identifier, r.userId))
        .slice(0, limit)
        .map((r) => ({
          userId: r.userId,
          label: new Uint8Array(this.#users.get(r.userId)!.label),
          tag: new Uint8Array(r.tag),
          sealed: this.#needsSeal(r, r.userId) ? undefined : copyOrUndefined(r.sealed),
        }));
    });
  }

  #indexPrefix(epoch: number, lookupKey: Uint8Array, identifier: string): void {
    let index = this.#byPrefix.get(epoch);
    if (index === undefined) this.#byPrefix.set(epoch, (index = new Map()));
    const key = hex(lookupKey.subarray(0, WIRE_LOOKUP_KEY_BYTES));
    let set = index.get(key);
    if (set === undefined) index.set(key, (set = new Set()));
    set.add(identifier);
  }

  #unindexPrefix(epoch: number, lookupKey: Uint8Array, identifier: string): void {
    const index = this.#byPrefix.get(epoch);
    const key = hex(lookupKey.subarray(0, WIRE_LOOKUP_KEY_BYTES));
    const set = index?.get(key);
    set?.delete(identifier);
    if (set?.size === 0) index!.delete(key);
  }

  async getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined> {
    this.#open();
    const s = this.#snapshots.get(`${epoch}:${kind}`);
    if (s === undefined || s.version !== version) return undefined;
    return { ...s, bytes: new Uint8Array(s.bytes) };
  }

  async putSnapshot(record: SnapshotRecord): Promise<void> {
    this.#open();
    this.#snapshots.set(`${record.epoch}:${record.kind}`, { ...record, bytes: new Uint8Array(record.bytes) });
  }

  async logLength(): Promise<number> {
    this.#open();
    return this.#announcements.length;
  }

  async readLog(from: number, limit: number): Promise<LogEntryRecord[]> {
    this.#open();
    checkLogRange(from, limit);
    return this.#announcements.slice(from, from + limit).map(copyLogEntry);
  }

  async findLogEntry(kind: LogEntryRecord['kind'], epoch: number, version: number): Promise<LogEntryRecord | undefined> {
    this.#open();
    const found = this.#announcements.find((e) => e.kind === kind && e.epoch === epoch && e.version === version);
    return found && copyLogEntry(found);
  }

  async appendLog(entry: LogEntryRecord): Promise<boolean> {
    this.#open();
    checkLogEntry(entry);
    if (entry.seq !== this.#announcements.length || this.#announcements.some((e) => e.kind === entry.kind && e.epoch === entry.epoch && e.version === entry.version)) return false;
    this.#announcements.push(copyLogEntry(entry));
    return true;
  }

  async getBucket(account: string): Promise<BucketState | undefined> {
    return this.#readBucket(account);
  }

  async putBucket(account: string, state: BucketState): Promise<void> {
    this.#open();
    checkAccount(account);
    this.#buckets.set(account, checkBucket(state));
  }

  async updateBucket(account: string, update: (state: BucketState | undefined) => BucketState): Promise<BucketState> {
    // Read and write in one synchronous step: no other caller can interleave.
    const next = checkBucket(update(this.#readBucket(account)));
    this.#buckets.set(account, next);
    return { ...next };
  }

  async writeQuota(write: QuotaWrite): Promise<BucketState[]> {
    this.#open();
    checkQuotaWrite(write);
    // Everything computed first (an update or the record may throw), then written in one synchronous step.
    const staged = new Map<string, BucketState>();
    const written = write.buckets.map(({ key, update }) => {
      const next = checkBucket(update(staged.get(key) ?? this.#readBucket(key)));
      staged.set(key, next);
      return { ...next };
    });
    for (const [key, state] of staged) this.#buckets.set(key, state);
    for (const record of write.records ?? []) {
      const stored = this.#charged.get(record.key);
      const action = recordAction(stored?.generation, record.generation);
      if (action === 'append') stored!.parts.push(record.hashes.slice());
      else if (action === 'replace') this.#charged.set(record.key, { generation: record.generation, parts: [record.hashes.slice()] });
    }
    return written;
  }

  async chargedRecord(key: string): Promise<ChargedRecord | undefined> {
    this.#open();
    checkAccount(key);
    const record = this.#charged.get(key);
    return record === undefined ? undefined : joinRecord(record.generation, record.parts);
  }

  #readBucket(account: string): BucketState | undefined {
    this.#open();
    checkAccount(account);
    const state = this.#buckets.get(account);
    return state === undefined ? undefined : { ...state };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new ContactPsiError('store_closed', 'the directory store is closed');
  }

  #log(kind: ChangeKind, userId: string): number {
    this.#version++;
    this.#changes.push({ version: this.#version, kind, userId });
    return this.#version;
  }

  /** Logs a change of the epoch's tag set, once its delta log has started. */
  #logTag(epoch: number, tag: Uint8Array, op: TagOp): void {
    if (this.#epochs.get(epoch)?.deltaFloor === undefined) return;
    let rows = this.#tagLog.get(epoch);
    if (rows === undefined) this.#tagLog.set(epoch, (rows = []));
    rows.push({ version: this.#version, prefix: tagPrefix(tag), op });
  }

  #epochState(epoch: number): EpochState {
    let state = this.#epochs.get(epoch);
    if (state === undefined) this.#epochs.set(epoch, (state = { publicKey: undefined, tagVersion: undefined, deltaFloor: undefined }));
    return state;
  }

  #epochRecord(epoch: number): EpochRecord {
    const s = this.#epochs.get(epoch);
    return { epoch, publicKey: s?.publicKey, tagVersion: s?.tagVersion, deltaFloor: s?.deltaFloor };
  }

  #labelOf(userId: string): { label: Uint8Array; labelVersion: number } {
    return { label: new Uint8Array(this.#users.get(userId)!.label), labelVersion: this.#labelVersions.get(userId) ?? 0 };
  }

  /** A tag of this user whose seal is missing or made from an older label. */
  #needsSeal(record: StoredTag | undefined, userId: string): boolean {
    if (record === undefined || record.userId !== userId) return false;
    return record.sealed === undefined || record.labelVersion !== (this.#labelVersions.get(userId) ?? 0);
  }

  #isDiscoverablePair(identifier: string, userId: string): boolean {
    return this.#owners.get(identifier) === userId && this.#users.get(userId)?.discoverable === true;
  }

  /** Up to `limit` discoverable pairs after `after` (identifier order) that pass `keep`. */
  #scan(after: string | undefined, limit: number, keep: (e: DiscoverableEntry) => boolean): DiscoverableEntry[] {
    const sorted = this.#discoverableSorted();
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
    for (let i = lo; i < sorted.length && out.length < limit; i++) if (keep(sorted[i])) out.push({ ...sorted[i] });
    return out;
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

const copyLogEntry = (e: LogEntryRecord): LogEntryRecord => ({ seq: e.seq, kind: e.kind, epoch: e.epoch, version: e.version, envelope: e.envelope.slice() });
