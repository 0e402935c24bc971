/**
 * The directory's data model and the storage interface both stores implement (memory for
 * tests and demos, SQLite as the embedded default; PostgreSQL later). The interface is
 * asynchronous only, even though both current stores are synchronous underneath: the
 * discovery session asks for labels, deltas and quota charges as deferred work (no
 * synchronous back door), so a networked store fits without changing any caller.
 */
import type { EncodingKind } from '../setenc/types.js';

/** A registered user as stored. Identifiers are canonical (`tel:+41…`, `mailto:…`), sorted, distinct. */
export interface DirectoryUser {
  readonly userId: string;
  readonly identifiers: readonly string[];
  /** What a match reveals to the client (e.g. the user's public key). */
  readonly label: Uint8Array;
  /** A user who opted out keeps their account, but none of their identifiers gets a tag. */
  readonly discoverable: boolean;
}

/** What callers hand to `upsertUsers`: label defaults to empty, discoverable to true. */
export interface DirectoryUserInput {
  readonly userId: string;
  readonly identifiers: readonly string[];
  readonly label?: Uint8Array;
  readonly discoverable?: boolean;
}

/**
 * One row of the change log. `identifiers` is not in the list the first design named: a
 * changed identifier set changes the tag set (a delta must carry it), a changed label
 * does not (no new encoding needed), so the two are kept apart for issue 4's deltas.
 */
export const ChangeKinds = ['register', 'unregister', 'opt_out', 'opt_in', 'identifiers', 'label'] as const;
export type ChangeKind = (typeof ChangeKinds)[number];

export interface ChangeRecord {
  readonly version: number;
  readonly kind: ChangeKind;
  readonly userId: string;
}

/** A discoverable identifier and the user holding it. */
export interface DiscoverableEntry {
  readonly identifier: string;
  readonly userId: string;
}

/**
 * A precomputed tag: F_k(identifier) for one epoch, with its lookup key (lookup.ts) and the
 * sealed label (seal.ts). A record without `sealed` is stored unsealed and sealed by the
 * next precompute pass.
 */
export interface TagRecord extends DiscoverableEntry {
  readonly tag: Uint8Array;
  readonly lookupKey: Uint8Array;
  /** sealLabel(tag, { userId, label }, nonce) of the label whose `labelVersion` is given. */
  readonly sealed?: Uint8Array;
  /** The user's label version the seal was made from (see `LabelSource`). */
  readonly labelVersion?: number;
}

/**
 * A user's label as precompute reads it to seal: `labelVersion` is the directory version of
 * the change that last set it (`register` or `label`), so a seal made from an older label
 * is recognized and redone without comparing label bytes.
 */
export interface LabelSource {
  readonly userId: string;
  readonly label: Uint8Array;
  readonly labelVersion: number;
}

/** A discoverable pair without a tag, with the label to seal once its tag is computed. */
export interface MissingTag extends DiscoverableEntry, LabelSource {}

/** A stored tag whose sealed label is missing or older than its user's label. */
export interface UnsealedTag extends DiscoverableEntry, LabelSource {
  readonly tag: Uint8Array;
}

export interface SealedLabelRecord {
  readonly identifier: string;
  readonly userId: string;
  readonly sealed: Uint8Array;
  readonly labelVersion: number;
}

/** One consistent read of an epoch's tags and how far they are from the user tables. */
export interface TagSet {
  /** The directory version the read saw. */
  readonly version: number;
  /** Every tag of the epoch (or its prefix), sorted by tag bytes, packed; `tagLength` bytes each (0 when there are none). */
  readonly packed: Uint8Array;
  readonly tagLength: number;
  readonly count: number;
  /** Discoverable (identifier, user) pairs with no tag yet. */
  readonly missing: number;
  /** Tags whose (identifier, user) pair is no longer discoverable. */
  readonly stale: number;
  /** Tags of discoverable pairs whose sealed label is missing or older than the user's label. */
  readonly unsealed: number;
}

export interface LabelMatch {
  readonly userId: string;
  readonly label: Uint8Array;
  /** The tag the lookup key came from: the discovery server seals the label under a key derived from it. */
  readonly tag: Uint8Array;
}

/** A lookup hit with the stored sealed label; `sealed` is undefined when it is missing or outdated. */
export interface SealedMatch extends LabelMatch {
  readonly sealed: Uint8Array | undefined;
}

/** What the store knows about one epoch (its key lives in the key file, never here). */
export interface EpochRecord {
  readonly epoch: number;
  /** Hex public key recorded when the epoch was registered, to catch a swapped key file. */
  readonly publicKey: string | undefined;
  /** The latest directory version at which this epoch's tags were complete, if any. */
  readonly tagVersion: number | undefined;
  /**
   * The oldest version a tag delta can start from; undefined until the delta log starts
   * (when the epoch becomes current and complete). Tag changes are logged only after.
   */
  readonly deltaFloor: number | undefined;
}

/** Net tag changes of one epoch between two versions, as 8-byte tag prefixes. */
export interface TagDelta {
  readonly epoch: number;
  readonly fromVersion: number;
  readonly toVersion: number;
  /** Packed 8-byte prefixes of tags present at `toVersion` and (possibly) not at `fromVersion`, sorted. */
  readonly added: Uint8Array;
  /** Packed 8-byte prefixes of tags present at `fromVersion` and gone at `toVersion`, sorted. */
  readonly removed: Uint8Array;
  /**
   * Packed 8-byte prefixes of tags present at both versions whose sealed label changed (or
   * that were removed and stored again) in between, sorted (issue 10 §4: clients refetch
   * exactly these labels).
   */
  readonly relabeled: Uint8Array;
}

/** A token bucket of one account (the policy that fills and drains it lives in src/protocol). */
export interface BucketState {
  readonly tokens: number;
  /** Milliseconds since 1970 (the caller's clock). */
  readonly updatedAt: number;
}

/** What a receipt chain's latest charging session charged: packed 8-byte charge hashes. */
export interface ChargedRecord {
  readonly generation: number;
  readonly hashes: Uint8Array;
}

/** One quota transaction (see DirectoryStore.writeQuota). */
export interface QuotaWrite {
  readonly buckets: readonly { readonly key: string; readonly update: (state: BucketState | undefined) => BucketState }[];
  readonly records?: readonly { readonly key: string; readonly generation: number; readonly hashes: Uint8Array }[];
}

export interface SnapshotRecord {
  readonly epoch: number;
  readonly version: number;
  readonly kind: EncodingKind;
  readonly count: number;
  /** SHA-256 of `bytes`, lowercase hex. */
  readonly digest: string;
  readonly bytes: Uint8Array;
}

export interface UpsertResult {
  /** Change-log rows written (0 when every user was already stored exactly so). */
  readonly changes: number;
  readonly version: number;
}

/** Called with (done, total) as work advances. */
export type Progress = (done: number, total: number) => void;

/** One entry of the announcement log as stored (spec/verifiability.md §5). */
export interface LogEntryRecord {
  /** Position in the log: 0 for the first entry, +1 for each next one. */
  readonly seq: number;
  readonly kind: 'epoch-key' | 'announcement';
  readonly epoch: number;
  /** The announced version; 0 for an epoch key statement. */
  readonly version: number;
  /** The signed envelope (protocol/discovery/announcement.ts), byte for byte as served. */
  readonly envelope: Uint8Array;
}

/**
 * The directory's append-only announcement log: every signed epoch key statement and
 * announcement, in order. Nothing ever updates or deletes an entry (dropping an epoch
 * leaves its entries): clients, witnesses and auditors compare them.
 */
export interface AnnouncementStore {
  /** Entries in the log (the next entry's seq). */
  logLength(): Promise<number>;
  /** Up to `limit` entries with seq >= `from`, in seq order. */
  readLog(from: number, limit: number): Promise<LogEntryRecord[]>;
  /**
   * Appends `entry` in one transaction if the log holds exactly `entry.seq` entries and no
   * entry of the same (kind, epoch, version); false (and nothing written) otherwise: another
   * writer (a second node on the store) appended first, and the caller re-reads.
   */
  appendLog(entry: LogEntryRecord): Promise<boolean>;
  /** The entry of (kind, epoch, version) (version 0 for a key statement), if the log holds it. */
  findLogEntry(kind: LogEntryRecord['kind'], epoch: number, version: number): Promise<LogEntryRecord | undefined>;
}

export interface DirectoryStore extends AnnouncementStore {
  readonly backend: 'memory' | 'sqlite' | 'postgres';
  /** The file the store lives in (the key file defaults to `<path>.key`), or undefined in memory. */
  readonly path: string | undefined;

  /**
   * Inserts or replaces users, atomically: a batch that fails (an identifier held by another
   * user: `identifier_taken`; a malformed user) changes nothing. Identifiers may move between
   * users of the same batch. Writes one change-log row per changed aspect of each user.
   */
  upsertUsers(users: readonly DirectoryUserInput[], onProgress?: Progress): Promise<UpsertResult>;
  /** Removes a user and their identifiers; false (and no change) when there is none. */
  removeUser(userId: string): Promise<boolean>;
  getUser(userId: string): Promise<DirectoryUser | undefined>;
  countUsers(): Promise<number>;
  /** Discoverable (identifier, user) pairs in identifier order (Unicode code point order). */
  discoverable(): AsyncIterable<DiscoverableEntry>;

  /** Bumped by every change; 0 for an empty store. */
  version(): Promise<number>;
  /** Change-log rows with version > `after`, oldest first. */
  changesSince(after: number, limit?: number): Promise<ChangeRecord[]>;

  getMeta(key: string): Promise<string | undefined>;
  /** Sets several keys in one transaction. */
  setMeta(entries: Readonly<Record<string, string>>): Promise<void>;

  /** Deletes tags of other epochs and tags whose pair is no longer discoverable; returns how many. */
  /**
   * Deletes this epoch's tags whose pair is no longer discoverable; returns how many. Other
   * epochs are left alone (a retiring epoch keeps serving; `dropEpoch` removes one). Each
   * deleted tag is logged as `removed` once the epoch's delta log has started.
   */
  pruneTags(epoch: number): Promise<number>;
  countMissingTags(epoch: number): Promise<number>;
  /** Up to `limit` pairs without a tag, identifier > `after` (keyset paging), in identifier order. */
  missingTags(epoch: number, after: string | undefined, limit: number): Promise<MissingTag[]>;
  /**
   * Stores tags whose pair is still discoverable (others are skipped); returns how many were
   * stored. A tag new to the epoch is logged as `added` once the epoch's delta log has started.
   */
  putTags(epoch: number, records: readonly TagRecord[]): Promise<number>;
  /** Up to `limit` tags of discoverable pairs whose seal is missing or outdated, identifier > `after`. */
  unsealedTags(epoch: number, after: string | undefined, limit: number): Promise<UnsealedTag[]>;
  /**
   * Replaces sealed labels of tags whose pair is unchanged; returns how many. Once the
   * epoch's delta log has started, each replaced label is logged as a `removed` + `added`
   * pair of its tag's prefix (a label change: `relabeled` in the next delta).
   */
  putSealedLabels(epoch: number, records: readonly SealedLabelRecord[]): Promise<number>;
  /**
   * The epoch's tags and completeness counts in one read. With `prefixBytes`, `packed` holds
   * only the first `prefixBytes` bytes of each tag (`tagLength` = prefixBytes), in the same
   * order: what a snapshot encodes, at a fraction of the memory.
   */
  readTagSet(epoch: number, prefixBytes?: number): Promise<TagSet>;
  /**
   * Optional hints around precompute's fill of `missing` tags: a store may put off index
   * upkeep until endTagFill (called also when the fill fails). Reads must stay correct
   * meanwhile, if slower.
   */
  beginTagFill?(epoch: number, missing: number): Promise<void>;
  endTagFill?(epoch: number): Promise<void>;

  /** Epochs the store holds anything of (a row, tags or snapshots), ascending. */
  listEpochs(): Promise<EpochRecord[]>;
  getEpoch(epoch: number): Promise<EpochRecord | undefined>;
  /** Records an epoch and its public key (hex); an existing record is kept as it is. */
  registerEpoch(epoch: number, publicKey: string): Promise<void>;
  /**
   * Marks the epoch's tags complete at `version`, if the directory is still at `version`
   * (false otherwise: something changed, precompute again). With `startDeltaLog` the
   * delta log starts here if it has not started yet.
   */
  completeTags(epoch: number, version: number, startDeltaLog: boolean): Promise<boolean>;
  /**
   * Makes `epoch` the current one in one transaction: writes `meta` and starts its delta log
   * at its complete version (`tagVersion`).
   */
  activateEpoch(epoch: number, meta: Readonly<Record<string, string>>): Promise<void>;
  /** Deletes everything of an epoch (tags, delta log, snapshots, record); returns the tags deleted. */
  dropEpoch(epoch: number): Promise<number>;
  /** Forgets delta-log rows with version <= `through`; deltas then start at `through` or later. */
  trimTagLog(epoch: number, through: number): Promise<void>;
  /**
   * The net tag change from `fromVersion` to the epoch's complete version (`tagVersion`), or
   * undefined when the log does not reach back that far, or `fromVersion` is ahead of it.
   */
  tagDelta(epoch: number, fromVersion: number): Promise<TagDelta | undefined>;
  /** For each 16-byte lookup key: the discoverable user whose tag has it, or null. Read only. */
  lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]>;
  /** The same, with the stored sealed label; the pair and the flag are checked as in `lookup`. */
  lookupSealed(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(SealedMatch | null)[]>;
  /**
   * For each 8-byte wire lookup key (the first bytes of a 16-byte lookup key, what
   * `dir.labels.get` carries): the discoverable users whose tag's lookup key starts with it,
   * at most `limit` of them, in lookup-key order (two only when entries share the 8 bytes).
   * Checked as in `lookupSealed`. Read only.
   */
  lookupSealedByPrefix(epoch: number, prefixes: readonly Uint8Array[], limit: number): Promise<SealedMatch[][]>;

  getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined>;
  /** Caches a snapshot; older snapshots of the same epoch and kind are dropped. */
  putSnapshot(record: SnapshotRecord): Promise<void>;

  /**
   * Per-account token buckets for quotas: durable state only, no policy. Account ids are
   * opaque strings of 1..256 UTF-16 code units (`invalid_account` otherwise).
   */
  getBucket(account: string): Promise<BucketState | undefined>;
  putBucket(account: string, state: BucketState): Promise<void>;
  /**
   * Read-modify-write in one transaction, so processes sharing the store cannot both spend
   * the same tokens; returns the state written. `update` is a pure function of the stored
   * state (it may throw to refuse: nothing is written then).
   */
  updateBucket(account: string, update: (state: BucketState | undefined) => BucketState): Promise<BucketState>;
  /**
   * One transaction over several bucket rows and a receipt chain's records (the quota
   * ledger's charge, spec/sync-failover.md §4): the updates run in order on the stored states
   * (one that throws refuses the whole write: nothing is written), then each record is
   * appended to (same generation), replaced (an older one, or none) or left (a newer one).
   * Returns the bucket states written. Keys are checked as account ids; records as whole
   * 8-byte hashes of at most MAX_CHARGED_RECORD_BYTES (`invalid_record`).
   */
  writeQuota(write: QuotaWrite): Promise<BucketState[]>;
  /** A charged record, or undefined. Read only. */
  chargedRecord(key: string): Promise<ChargedRecord | undefined>;

  close(): Promise<void>;
}
