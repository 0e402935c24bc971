/**
 * Directory discovery messages (spec/discovery.md). Same framing as session PSI: one msgpack
 * map with `v` and `t`, packed byte strings for batches of elements and lookup keys.
 */
import { SuiteIds, type SuiteId } from '../../oprf/suite.js';
import type { EncodingKind } from '../../setenc/types.js';
import { EncodingKinds } from '../messages.js';
import type { MessageSchema } from '../schema.js';
import { LABEL_FORMAT, MAX_SEALED_LABEL_BYTES, WIRE_LOOKUP_KEY_BYTES } from './labels.js';
import { CHARGE_HASH_BYTES } from './quota.js';

export interface DiscoveryLimits {
  readonly maxMessageBytes: number;
  /** Most identifiers one session may have evaluated. */
  readonly maxQueryItems: number;
  /** Most items per evaluation chunk (one DLEQ proof covers at most 65,535). */
  readonly maxChunkItems: number;
  /** Largest snapshot part a client may request or accept. */
  readonly maxPartBytes: number;
  /** Largest snapshot a client accepts. */
  readonly maxSnapshotBytes: number;
  /** Largest directory a client accepts (entries in the snapshot). */
  readonly maxDirectoryEntries: number;
  /** Largest sealed label. */
  readonly maxLabelBytes: number;
  /** Most blinded-element hashes in a quota token's set (a large address book, re-synced). */
  readonly maxChargedSet: number;
}

export const DEFAULT_DISCOVERY_LIMITS: DiscoveryLimits = Object.freeze({
  maxMessageBytes: 64 * 1024 * 1024,
  maxQueryItems: 100_000,
  maxChunkItems: 4096,
  maxPartBytes: 4 * 1024 * 1024,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  maxDirectoryEntries: 200_000_000,
  maxLabelBytes: MAX_SEALED_LABEL_BYTES,
  maxChargedSet: 1_000_000,
});

/** Deltas carry the first 8 bytes of each changed tag (issue: at most 8 bytes per change). */
export const DELTA_PREFIX_BYTES = 8;

export const DiscoveryPurposes = ['sync', 'lookup'] as const;
export type DiscoveryPurpose = (typeof DiscoveryPurposes)[number];

export interface DirHello {
  t: 'dir.hello';
  suite: SuiteId;
  /** `sync` (an address book; the default) or `lookup` (one-off, a separate small quota). */
  purpose?: DiscoveryPurpose;
}
/**
 * The client's quota receipt (quota.ts): the hashes it paid for, which of them were
 * evaluated in `epoch` already, and the server's MAC over them and the account's receipt
 * `generation`. Without epoch/generation/evaluated it is a receipt of the earlier format,
 * never accepted (everything is charged).
 */
export interface DirQuota {
  t: 'dir.quota';
  token: Uint8Array;
  set: Uint8Array;
  /** The receipt chain (16 bytes, the server's choice). */
  chain?: Uint8Array;
  epoch?: number;
  generation?: number;
  /** Bitmap over `set` (MSB first): evaluated in `epoch` already. */
  evaluated?: Uint8Array;
}
export interface DirDeltaGet {
  t: 'dir.delta.get';
  epoch: number;
  fromVersion: number;
}
/** Net tag changes between two versions: packed 8-byte tag prefixes, sorted. */
export interface DirDelta {
  t: 'dir.delta';
  epoch: number;
  fromVersion: number;
  toVersion: number;
  /** False when the server cannot give this delta (too old, or larger than the snapshot). */
  available: boolean;
  added: Uint8Array;
  removed: Uint8Array;
  /**
   * Packed 8-byte prefixes of tags present at both versions whose sealed label changed in
   * between (sorted): a client refetches the labels of these matches, and of no other it
   * has cached. Absent: the server does not say, and every cached label is refetched.
   */
  relabeled?: Uint8Array;
}
export interface DirInfo {
  t: 'dir.info';
  suite: SuiteId;
  epoch: number;
  version: number;
  publicKey: Uint8Array;
  /** SHA-256 of the serialized snapshot: the same for every client of this (epoch, version). */
  digest: Uint8Array;
  encoding: EncodingKind;
  count: number;
  size: number;
  /** Largest evaluation chunk the server accepts. */
  chunk: number;
  /** Ed25519 public key of the directory identity (spec/verifiability.md §2). */
  identity?: Uint8Array;
  /** Signed envelope of the EpochKeyStatement of `epoch` (announcement.ts). */
  keyStatement?: Uint8Array;
  /** Signed envelope of the Announcement of (epoch, version): count, commitment, encoding, snapshot digest. */
  announcement?: Uint8Array;
  /**
   * The server takes partial `dir.labels.get` (spec/discovery.md §2, §9): a client may ask for
   * the labels of a chunk's hits while later chunks are evaluated. Absent: one request at the end.
   */
  labelParts?: boolean;
}
/** A range of the announcement log (auditors, witnesses mirroring it). */
export interface DirLogGet {
  t: 'dir.log.get';
  from: number;
  limit: number;
}
export interface DirLog {
  t: 'dir.log';
  /** Signed envelopes of log entries from..from+entries.length-1, in order. */
  entries: Uint8Array[];
  /** Entries in the whole log. */
  total: number;
}
/** A witness query: "your newest announcement, and your entry for (epoch, version)". */
export interface DirAnnouncementGet {
  t: 'dir.announcement.get';
  epoch: number;
  version: number;
}
export interface DirAnnouncement {
  t: 'dir.announcement';
  /** Signed announcement envelopes: the newest, and the one for the asked (epoch, version) if held and different. */
  announcements: Uint8Array[];
}
export interface DirSnapshotGet {
  t: 'dir.snapshot.get';
  epoch: number;
  version: number;
  offset: number;
  length: number;
}
export interface DirSnapshotPart {
  t: 'dir.snapshot.part';
  offset: number;
  data: Uint8Array;
}
export interface DirEvaluate {
  t: 'dir.evaluate';
  epoch: number;
  seq: number;
  blinded: Uint8Array;
}
export interface DirEvaluated {
  t: 'dir.evaluated';
  seq: number;
  evaluated: Uint8Array;
  proof: Uint8Array;
}
export interface DirLabelsGet {
  t: 'dir.labels.get';
  epoch: number;
  /** Packed 8-byte wire lookup keys of the matched tags (labels.ts wireLookupKeyOf). */
  keys: Uint8Array;
  /**
   * The label format the client opens (LABEL_FORMAT, 2). A client of format 1 sent 16-byte
   * keys and no `format`: the server answers `unsupported` instead of labels it cannot open.
   */
  format?: number;
  /**
   * True: a partial request (only to a server whose dir.info says `labelParts`), answered by a
   * `dir.labels` without receipt while the session goes on; the final request (no `partial`)
   * ends the session as before.
   */
  partial?: boolean;
}
export interface DirLabels {
  t: 'dir.labels';
  /** The label format of the seals (LABEL_FORMAT). */
  format: number;
  /** One answer per key, in order, `varint(n) || n bytes` each (n = 0: no label): label-wire.ts. */
  labels: Uint8Array;
  /** Further candidates of keys that two entries share: `varint(key index) || varint(n) || n bytes` each. */
  more?: Uint8Array;
  /** With quotas: the MAC over every blinded-element hash charged to the account so far. */
  quotaToken?: Uint8Array;
  /** Whether the token presented in dir.quota was accepted (if not, the client's set restarts). */
  tokenAccepted?: boolean;
  /** The receipt chain's generation the token is bound to (with quotaToken). */
  quotaGeneration?: number;
  /** The receipt chain (16 bytes, with quotaToken). */
  quotaChain?: Uint8Array;
}
/** A quota receipt sent before a `rate_limited` error, covering the chunks already charged. */
export interface DirReceipt {
  t: 'dir.receipt';
  quotaToken: Uint8Array;
  tokenAccepted: boolean;
  quotaGeneration?: number;
  quotaChain?: Uint8Array;
}
export interface DirError {
  t: 'error';
  code: string;
  message: string;
}

export type DiscoveryMessage =
  | DirHello
  | DirQuota
  | DirDeltaGet
  | DirDelta
  | DirInfo
  | DirSnapshotGet
  | DirSnapshotPart
  | DirEvaluate
  | DirEvaluated
  | DirLabelsGet
  | DirLabels
  | DirReceipt
  | DirLogGet
  | DirLog
  | DirAnnouncementGet
  | DirAnnouncement
  | DirError;

/** Largest signed envelope on the wire: the real ones are about 300 bytes. */
export const MAX_ENVELOPE_BYTES = 512;
/** Most log entries in one dir.log. */
export const MAX_LOG_ENTRIES_PER_MESSAGE = 1024;

const MAX_ELEMENT = 33;
const U32 = 0xffffffff;

export function discoverySchemas(l: DiscoveryLimits): Record<DiscoveryMessage['t'], MessageSchema> {
  return {
    'dir.hello': {
      suite: { kind: 'str', maxLength: 32, values: SuiteIds },
      purpose: { kind: 'str', maxLength: 8, values: DiscoveryPurposes, optional: true },
    },
    'dir.quota': {
      token: { kind: 'bin', maxLength: 32, exactLength: 32 },
      set: { kind: 'bin', maxLength: l.maxChargedSet * CHARGE_HASH_BYTES, multipleOf: CHARGE_HASH_BYTES },
      chain: { kind: 'bin', maxLength: 16, exactLength: 16, optional: true },
      epoch: { kind: 'uint', max: U32, optional: true },
      generation: { kind: 'uint', max: Number.MAX_SAFE_INTEGER, optional: true },
      evaluated: { kind: 'bin', maxLength: Math.ceil(l.maxChargedSet / 8), optional: true },
    },
    'dir.delta.get': {
      epoch: { kind: 'uint', max: U32 },
      fromVersion: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
    },
    'dir.delta': {
      epoch: { kind: 'uint', max: U32 },
      fromVersion: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
      toVersion: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
      available: { kind: 'bool' },
      added: { kind: 'bin', maxLength: l.maxSnapshotBytes, multipleOf: DELTA_PREFIX_BYTES },
      removed: { kind: 'bin', maxLength: l.maxSnapshotBytes, multipleOf: DELTA_PREFIX_BYTES },
      relabeled: { kind: 'bin', maxLength: l.maxSnapshotBytes, multipleOf: DELTA_PREFIX_BYTES, optional: true },
    },
    'dir.info': {
      suite: { kind: 'str', maxLength: 32, values: SuiteIds },
      epoch: { kind: 'uint', max: U32 },
      version: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
      publicKey: { kind: 'bin', maxLength: MAX_ELEMENT },
      digest: { kind: 'bin', maxLength: 32, exactLength: 32 },
      encoding: { kind: 'str', maxLength: 8, values: EncodingKinds },
      count: { kind: 'uint', max: l.maxDirectoryEntries },
      size: { kind: 'uint', max: l.maxSnapshotBytes },
      chunk: { kind: 'uint', min: 1, max: 0xffff },
      // Optional on the wire; a verifying client (sync, CLI, SDK) refuses a dir.info without them.
      identity: { kind: 'bin', maxLength: 32, exactLength: 32, optional: true },
      keyStatement: { kind: 'bin', maxLength: MAX_ENVELOPE_BYTES, optional: true },
      announcement: { kind: 'bin', maxLength: MAX_ENVELOPE_BYTES, optional: true },
      labelParts: { kind: 'bool', optional: true },
    },
    'dir.log.get': {
      from: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
      limit: { kind: 'uint', min: 1, max: MAX_LOG_ENTRIES_PER_MESSAGE },
    },
    'dir.log': {
      entries: { kind: 'binList', maxItems: MAX_LOG_ENTRIES_PER_MESSAGE, maxItemLength: MAX_ENVELOPE_BYTES },
      total: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
    },
    'dir.announcement.get': {
      epoch: { kind: 'uint', max: U32 },
      version: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
    },
    'dir.announcement': {
      announcements: { kind: 'binList', maxItems: 2, maxItemLength: MAX_ENVELOPE_BYTES },
    },
    'dir.snapshot.get': {
      epoch: { kind: 'uint', max: U32 },
      version: { kind: 'uint', max: Number.MAX_SAFE_INTEGER },
      offset: { kind: 'uint', max: l.maxSnapshotBytes },
      length: { kind: 'uint', min: 1, max: l.maxPartBytes },
    },
    'dir.snapshot.part': {
      offset: { kind: 'uint', max: l.maxSnapshotBytes },
      data: { kind: 'bin', maxLength: l.maxPartBytes },
    },
    'dir.evaluate': {
      epoch: { kind: 'uint', max: U32 },
      seq: { kind: 'uint', max: l.maxQueryItems },
      blinded: { kind: 'bin', maxLength: l.maxChunkItems * MAX_ELEMENT },
    },
    'dir.evaluated': {
      seq: { kind: 'uint', max: l.maxQueryItems },
      evaluated: { kind: 'bin', maxLength: l.maxChunkItems * MAX_ELEMENT },
      proof: { kind: 'bin', maxLength: 64 },
    },
    'dir.labels.get': {
      epoch: { kind: 'uint', max: U32 },
      keys: { kind: 'bin', maxLength: l.maxQueryItems * WIRE_LOOKUP_KEY_BYTES, multipleOf: WIRE_LOOKUP_KEY_BYTES },
      format: { kind: 'uint', max: 255, optional: true },
      partial: { kind: 'bool', optional: true },
    },
    'dir.labels': {
      format: { kind: 'uint', min: LABEL_FORMAT, max: 255 },
      // At most maxQueryItems answers of maxLabelBytes and a 2-byte length (the message limit bounds it too).
      labels: { kind: 'bin', maxLength: Math.min(l.maxMessageBytes, l.maxQueryItems * (l.maxLabelBytes + 2)) },
      more: { kind: 'bin', maxLength: l.maxMessageBytes, optional: true },
      quotaToken: { kind: 'bin', maxLength: 32, exactLength: 32, optional: true },
      tokenAccepted: { kind: 'bool', optional: true },
      quotaGeneration: { kind: 'uint', max: Number.MAX_SAFE_INTEGER, optional: true },
      quotaChain: { kind: 'bin', maxLength: 16, exactLength: 16, optional: true },
    },
    'dir.receipt': {
      quotaToken: { kind: 'bin', maxLength: 32, exactLength: 32 },
      tokenAccepted: { kind: 'bool' },
      quotaGeneration: { kind: 'uint', max: Number.MAX_SAFE_INTEGER, optional: true },
      quotaChain: { kind: 'bin', maxLength: 16, exactLength: 16, optional: true },
    },
    error: {
      code: { kind: 'str', maxLength: 64 },
      message: { kind: 'str', maxLength: 1024 },
      retryAfterMs: { kind: 'uint', max: 366 * 24 * 3600 * 1000, optional: true },
    },
  };
}
