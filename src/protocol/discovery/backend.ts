/**
 * What a discovery server session needs from the directory, as a synchronous interface so
 * the session stays sans-I/O: the transport opens a session with a backend whose epochs
 * and snapshots are already computed (precompute happens before the switch to an epoch).
 */
import type { KeyPair, OprfSuite } from '../../oprf/suite.js';
import type { EncodingKind } from '../../setenc/types.js';

export interface SnapshotView {
  readonly version: number;
  readonly digest: Uint8Array;
  readonly encoding: EncodingKind;
  readonly count: number;
  readonly bytes: Uint8Array;
}

export interface EpochView {
  readonly epoch: number;
  /** VOPRF suite: discovery is always verifiable against the epoch's public key. */
  readonly suite: OprfSuite;
  readonly keys: KeyPair;
  readonly snapshot: SnapshotView;
}

export interface DiscoveryBackend {
  /** The epoch new sessions use. */
  current(): EpochView;
  /** A still-served epoch (the current one, or the previous within its grace period). */
  epoch(epoch: number): EpochView | undefined;
  /** Sealed labels for lookup keys of the given epoch; undefined where the key is unknown. */
  sealedLabels(epoch: number, keys: readonly Uint8Array[]): (Uint8Array | undefined)[];
  /** Net tag changes since `fromVersion` in this epoch (packed 8-byte prefixes), if still known. */
  delta?(epoch: number, fromVersion: number): TagDelta | undefined;
}

export interface TagDelta {
  readonly toVersion: number;
  readonly added: Uint8Array;
  readonly removed: Uint8Array;
}
