/**
 * The directory's data model and the storage interface both stores implement (memory for
 * tests and demos, SQLite as the embedded default; PostgreSQL later). The interface is
 * async even though both current stores are synchronous underneath, so a networked store
 * fits without changing any caller.
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

/** A precomputed tag: F_k(identifier) for one epoch, with its lookup key (lookup.ts). */
export interface TagRecord extends DiscoverableEntry {
  readonly tag: Uint8Array;
  readonly lookupKey: Uint8Array;
}

/** One consistent read of an epoch's tags and how far they are from the user tables. */
export interface TagSet {
  /** The directory version the read saw. */
  readonly version: number;
  /** Every tag of the epoch, sorted by tag bytes, packed; `tagLength` bytes each (0 when there are none). */
  readonly packed: Uint8Array;
  readonly tagLength: number;
  readonly count: number;
  /** Discoverable (identifier, user) pairs with no tag yet. */
  readonly missing: number;
  /** Tags whose (identifier, user) pair is no longer discoverable. */
  readonly stale: number;
}

export interface LabelMatch {
  readonly userId: string;
  readonly label: Uint8Array;
  /** The tag the lookup key came from: the discovery server seals the label under a key derived from it. */
  readonly tag: Uint8Array;
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

export interface DirectoryStore {
  readonly backend: 'memory' | 'sqlite';
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
  pruneTags(epoch: number): Promise<number>;
  countMissingTags(epoch: number): Promise<number>;
  /** Up to `limit` pairs without a tag, identifier > `after` (keyset paging), in identifier order. */
  missingTags(epoch: number, after: string | undefined, limit: number): Promise<DiscoverableEntry[]>;
  /** Stores tags whose pair is still discoverable (others are skipped); returns how many were stored. */
  putTags(epoch: number, records: readonly TagRecord[]): Promise<number>;
  readTagSet(epoch: number): Promise<TagSet>;
  /** For each 16-byte lookup key: the discoverable user whose tag has it, or null. Read only. */
  lookup(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]>;
  /**
   * The same, synchronously, on stores that can (memory, SQLite): sans-I/O protocol sessions
   * ask for labels inside `handle()`. A networked store leaves it out.
   */
  lookupSync?(epoch: number, lookupKeys: readonly Uint8Array[]): (LabelMatch | null)[];

  getSnapshot(epoch: number, version: number, kind: EncodingKind): Promise<SnapshotRecord | undefined>;
  /** Caches a snapshot; older snapshots of the same kind are dropped. */
  putSnapshot(record: SnapshotRecord): Promise<void>;

  close(): Promise<void>;
}
