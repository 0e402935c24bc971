/**
 * What a discovery server session needs from the directory. The epochs and their snapshots
 * are views held in memory (precomputed before an epoch is served), read inside handle();
 * everything that reaches the store (sealed labels, tag deltas) is asynchronous and only
 * ever called from the session's deferred work, which the driver runs: the session itself
 * stays sans-I/O, over SQLite, PostgreSQL or a browser cache alike.
 */
import type { KeyPair, OprfSuite } from '../../oprf/suite.js';
import type { EncodingKind } from '../../setenc/types.js';
import type { DownloadBudget } from './download-budget.js';

export interface SnapshotView {
  readonly version: number;
  readonly digest: Uint8Array;
  readonly encoding: EncodingKind;
  readonly count: number;
  readonly bytes: Uint8Array;
}

/** The directory identity's signed statements about an epoch view (spec/verifiability.md §2, §9). */
export interface SignedView {
  /** Ed25519 public key of the directory identity. */
  readonly identity: Uint8Array;
  /** Envelope of the epoch's signed key statement. */
  readonly keyStatement: Uint8Array;
  /** Envelope of the signed announcement of (epoch, snapshot.version). */
  readonly announcement: Uint8Array;
}

export interface EpochView {
  readonly epoch: number;
  /** VOPRF suite: discovery is always verifiable against the epoch's public key. */
  readonly suite: OprfSuite;
  readonly keys: KeyPair;
  readonly snapshot: SnapshotView;
  /** What dir.info carries for verifying clients; absent only for an unsigned (test) directory. */
  readonly signed?: SignedView;
}

/** A range of the announcement log: signed envelopes in order, and the log's length. */
export interface LogRange {
  readonly entries: readonly Uint8Array[];
  readonly total: number;
}

export interface DiscoveryBackend {
  /** The epoch new sessions use. */
  current(): EpochView;
  /** A still-served epoch (the current one, or the previous within its grace period). */
  epoch(epoch: number): EpochView | undefined;
  /**
   * Sealed labels (label format 2, labels.ts) for the 8-byte wire lookup keys of the given
   * epoch, one answer per key: undefined where the key is unknown, the seal, or every seal
   * whose lookup key starts with it when directory entries share the 8 bytes (the client
   * keeps the one that opens; at most MAX_LABELS_PER_LOOKUP_KEY are sent).
   */
  sealedLabels(epoch: number, keys: readonly Uint8Array[]): Promise<readonly (Uint8Array | readonly Uint8Array[] | undefined)[]>;
  /** Net tag changes since `fromVersion` in this epoch (packed 8-byte prefixes), if still known. */
  delta?(epoch: number, fromVersion: number): Promise<TagDelta | undefined>;
  /** Log entries from position `from` (at most `limit`), for dir.log.get (auditors, witnesses). */
  log?(from: number, limit: number): Promise<LogRange>;
  /**
   * For a witness query (dir.announcement.get): the newest signed announcement, and the one
   * for (epoch, version) if the log holds it and it is another entry. Empty when nothing is signed.
   */
  announcements?(epoch: number, version: number): Promise<Uint8Array[]>;
  /**
   * The per-account snapshot download budget shared by every session of this backend (so
   * across sessions of one account); a session's `downloads` option takes precedence.
   */
  readonly downloads?: DownloadBudget;
}

export interface TagDelta {
  readonly toVersion: number;
  readonly added: Uint8Array;
  readonly removed: Uint8Array;
  /** Packed 8-byte prefixes of tags present at both ends whose label changed in between (dir.delta `relabeled`). */
  readonly relabeled?: Uint8Array;
}
