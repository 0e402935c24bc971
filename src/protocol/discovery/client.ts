/**
 * Directory discovery, client role (spec/discovery.md §3):
 *   idle --start()/send dir.hello--> awaiting_info
 *   awaiting_info --dir.info, cache current/send dir.evaluate chunks--> awaiting_evaluations
 *   awaiting_info --dir.info, cache older, same epoch/send dir.delta.get--> awaiting_delta
 *   awaiting_delta --dir.delta available/send dir.evaluate chunks--> awaiting_evaluations
 *   awaiting_delta --dir.delta not available/send dir.snapshot.get--> downloading
 *   awaiting_info --dir.info, no usable cache/send dir.snapshot.get--> downloading
 *   downloading --dir.snapshot.part (more)/send dir.snapshot.get--> downloading
 *   downloading --dir.snapshot.part (last, digest ok)/send dir.evaluate chunks--> awaiting_evaluations
 *   awaiting_evaluations --dir.evaluated (proof ok; not last; dir.info said labelParts)/send dir.labels.get partial with the chunk's hits--> awaiting_evaluations
 *   awaiting_evaluations --dir.labels (answers the oldest partial request)/open its labels--> awaiting_evaluations
 *   awaiting_evaluations --dir.evaluated (proof ok; last)/send dir.labels.get (what is left)--> awaiting_labels
 *   awaiting_labels --dir.labels (a partial request still unanswered)/open its labels--> awaiting_labels
 *   awaiting_labels --dir.labels (the final one)/emit result--> done
 * The snapshot is verified against the digest in dir.info, every evaluation chunk against
 * the epoch's public key (pinned, if the app pinned one), and labels open only under the
 * OPRF output, so a false positive of the filter is dropped when its label is missing.
 * Partial label requests (issue 13, spec/discovery.md §9) move the server's label lookups
 * into the evaluation: each finalized chunk's hits are asked for at once when the server
 * announced `labelParts`, and the final request carries only what is left; the answers are
 * combined in the single request's order, so the result is the same either way.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { Rng } from '../../group/types.js';
import { Modes, type BlindState, type OprfSuite } from '../../oprf/suite.js';
import { blindAdditive, finalizeAdditive, supportsAdditive } from '../../oprf/additive.js';
import { randomScalars } from '../../group/random-scalar-limbs.js';
import { offloadChunks, uniformChunks } from './chunk-plan.js';
import { parseEncoding } from '../../setenc/index.js';
import { ascii, concat } from '../../oprf/encoding.js';
import { checkDelta, DeltaView, packSorted } from './delta.js';
import { chargeHash, hexOf, nextReceiptSets, CHARGE_HASH_BYTES, type QuotaReceipt } from './quota.js';
import { outputsToReevaluate } from './label-allowance.js';
import { decideKnown, outputsUsable, prefixMarks, unpaidLabelAllowance, type KnownOutput, type KnownOutputs, type SnapshotChange } from './known-outputs.js';
import { ProtocolError } from '../errors.js';
import { ContactPsiError } from '../../errors.js';
import type { Announcement, Signed } from './announcement.js';
import { commitmentsEqual, type CommitmentOptions, type TagSetCommitment } from './commitment.js';
import type { PinState } from './identity-pins.js';
import { acceptServedView, checkDelta as checkDeltaCommitment, checkSnapshot, type VerifiedView } from './verified-view.js';
import { VerifiabilityError } from './verify-error.js';
import { SessionCore } from '../session-core.js';
import type { OprfOffload } from '../offload.js';
import { LABEL_FORMAT, openLabel, wireLookupKeyOf, WIRE_LOOKUP_KEY_BYTES, type Label } from './labels.js';
import { unpackLabelAnswers } from './label-wire.js';
import type { MessageSchema } from '../schema.js';
import {
  DEFAULT_DISCOVERY_LIMITS,
  discoverySchemas,
  type DirDelta,
  type DirEvaluated,
  type DirInfo,
  type DiscoveryPurpose,
  type DirLabels,
  type DirReceipt,
  type DirSnapshotPart,
  type DiscoveryLimits,
  type DiscoveryMessage,
  DELTA_PREFIX_BYTES,
} from './messages.js';

export type DiscoveryClientState = 'idle' | 'awaiting_info' | 'checking_view' | 'awaiting_delta' | 'downloading' | 'awaiting_evaluations' | 'awaiting_labels' | 'done';

/** A snapshot the client keeps between syncs (the caller stores it; this layer does no I/O). */
export interface CachedSnapshot {
  epoch: number;
  /** The directory version the cache is current to (base plus deltas). */
  version: number;
  /** The version of the downloaded base snapshot, whose SHA-256 is `digest`. */
  baseVersion?: number;
  digest: Uint8Array;
  publicKey: Uint8Array;
  bytes: Uint8Array;
  /** The digest dir.info announced for `version` (differs from `digest` once deltas apply). */
  infoDigest?: Uint8Array;
  /** The entry count dir.info announced for `version` (bounds the next delta, §6). */
  infoCount?: number;
  /** Net tag changes since the base: packed, sorted 8-byte prefixes. */
  added?: Uint8Array;
  removed?: Uint8Array;
  /**
   * The signed tag-set commitment of `version` (spec/verifiability.md §1): what the next
   * delta must reach. Absent in a cache of an unsigned directory (a delta then cannot be
   * checked, and a verifying client downloads the snapshot instead).
   */
  commitment?: TagSetCommitment;
}

/**
 * Default of `maxDownloadBytes`: the largest snapshot this client downloads (512 MiB, a
 * fuse filter of about 100 million entries). The buffer grows as parts arrive, so a server
 * that announces a large size without sending it costs nothing.
 */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;
/**
 * Default of `maxDeltaPrefixes`: the most prefixes the cache accumulates from deltas
 * (added + removed, 8 bytes each: 32 MiB). A delta that would pass it is not applied; the
 * snapshot is downloaded afresh instead, which resets the sets.
 */
export const DEFAULT_MAX_DELTA_PREFIXES = 4_000_000;
/**
 * The most tags one directory version can add or remove: every version is one change of
 * one user (src/directory/users.ts MAX_IDENTIFIERS_PER_USER = 64 identifiers, each one tag),
 * so a delta over `span` versions adds at most 64·span and removes at most 64·span tags.
 */
export const DELTA_TAGS_PER_VERSION = 64;
/** First allocation of a download; it doubles as parts arrive, up to the announced size. */
const INITIAL_DOWNLOAD_BYTES = 1 << 20;

/** The quota receipt (token, charged set, epoch, generation, evaluated bits: quota.ts), kept on the device. */
export type { QuotaReceipt } from './quota.js';
export type { KnownOutputs, KnownOutput, KnownMatch } from './known-outputs.js';

export interface DiscoveryClientOptions {
  suite: OprfSuite;
  /** Identifier strings (`tel:+41…`, `mailto:…`), already normalized. */
  identifiers: readonly string[];
  rng: Rng;
  cache?: CachedSnapshot;
  /** If set, the directory must present exactly this public key (key pinning). */
  pinnedPublicKey?: Uint8Array;
  /** The key seen before (trust on first use): a different key for the same epoch is refused. */
  knownKey?: { epoch: number; publicKey: Uint8Array };
  /**
   * Device secret for deterministic blinding (32 bytes): a contact checked before gives the
   * same blinded element, so the server does not charge it again. Without it, blinds are
   * random and every contact is charged on every sync.
   */
  blindSecret?: Uint8Array;
  /**
   * The blinding secret for a directory identity (issue 10 §3: per identity and account,
   * blind-secret.ts `blindSecretFor`), asked once dir.info names the identity; undefined
   * means random blinds (no quota applies). Without an identity (an unsigned directory)
   * `blindSecret` is used.
   */
  blindSecretFor?: (identity: Uint8Array) => Uint8Array | undefined;
  /**
   * OPRF outputs of earlier syncs (known-outputs.ts): used when they were evaluated under
   * this directory's identity, epoch and key; their identifiers are not evaluated again.
   */
  outputs?: KnownOutputs;
  /** The receipt of the previous sync, presented so contacts checked before are not charged. */
  quotaReceipt?: QuotaReceipt;
  /**
   * Asked once, as deferred work, after dir.info is verified and before anything is
   * evaluated, downloaded or presented: the outputs and receipt the client keeps for this
   * directory (sync-failover.md: they belong to the directory identity, not to a server URL,
   * so a retry on another node of a fleet reuses what the first node answered). `identity` is
   * the identity that signed dir.info (undefined without `pins`: an unverified claim of an
   * identity opens nothing). What it returns replaces `outputs` and `quotaReceipt`.
   */
  knownFor?: (view: { identity: Uint8Array | undefined; epoch: number; publicKey: Uint8Array }) => Promise<{ outputs?: KnownOutputs; quotaReceipt?: QuotaReceipt }>;
  /**
   * The server charges this account (a token with deterministic blinds): known outputs whose
   * labels must be fetched count against the label allowance (elements evaluated in the
   * session + hashes of the presented receipt), so those the receipt does not cover are
   * evaluated again where they would not fit (label-allowance.ts).
   */
  quotaApplies?: boolean;
  purpose?: DiscoveryPurpose;
  /**
   * How contacts are blinded (spec/discovery.md §1.1): 'additive' (default)
   * sends H(x) + rG and unblinds Z - r PK once the chunk's proof verified, on fixed-base
   * combs (~4x cheaper than the two variable-base multiplications of 'multiplicative',
   * RFC 9497's r H(x) and r^-1 Z); the outputs are the same. 'additive' falls back to
   * 'multiplicative' for a suite or an offload that cannot blind additively.
   */
  blinding?: 'additive' | 'multiplicative';
  /**
   * Blind and finalize elsewhere (a worker pool) as deferred work: the driver must run
   * `pollWork()` (the WebSocket pump does). Chunks are then blinded, sent and finalized
   * one by one, so blinding, the server's evaluation and finalizing overlap.
   */
  offload?: OprfOffload;
  /** Items per dir.evaluate, at most what the server announces (default: the server's chunk). */
  chunkItems?: number;
  partBytes?: number;
  /** Largest snapshot to download (default DEFAULT_MAX_DOWNLOAD_BYTES, 512 MiB); a larger dir.info.size is `too_large`. */
  maxDownloadBytes?: number;
  /** Most prefixes accumulated from deltas (default DEFAULT_MAX_DELTA_PREFIXES); past it the snapshot is downloaded again. */
  maxDeltaPrefixes?: number;
  limits?: Partial<DiscoveryLimits>;
  idleTimeoutMs?: number;
  /**
   * Verify the directory (spec/verifiability.md): dir.info must carry the identity's signed
   * key statement and announcement, which go through the pin rules of this state (a state
   * with nothing pinned pins the signer: trust on first use); a downloaded snapshot must be
   * the signed one, and a delta must reach the signed commitment (else `split_view`, and the
   * snapshot is downloaded once instead). Without it the directory is not verified (tests of
   * the engine against unsigned directories).
   */
  pins?: PinState;
  /** A faster ristretto255 backend for the commitment arithmetic of deltas (e.g. sodium). */
  commitment?: CommitmentOptions;
  /**
   * Run after dir.info is verified and before anything is evaluated or downloaded (as
   * deferred work): the witness check. Throwing (e.g. `split_view`) fails the sync before
   * the server has seen a single blinded element.
   */
  checkView?: (announcement: Signed<Announcement>) => Promise<void>;
  /**
   * Ask for each finalized chunk's labels while later chunks are evaluated, when the server's
   * dir.info says `labelParts` (default true); false: one dir.labels.get at the end, as before.
   */
  partialLabels?: boolean;
  /** Most keys per partial label request (default PARTIAL_LABEL_KEYS); the rest waits for the next one. */
  partialLabelKeys?: number;
}

export interface DiscoveryMatch {
  identifier: string;
  userId: string;
  label: Uint8Array;
}

export interface DiscoveryResult {
  matches: DiscoveryMatch[];
  snapshot: CachedSnapshot;
  /** True when the snapshot came from the cache (nothing downloaded). */
  cacheHit: boolean;
  downloadedBytes: number;
  /** Filter hits whose label the server did not have: false positives, dropped. */
  falsePositives: number;
  /** Labels that did not open under the client's OPRF output (corrupt or forged), dropped. */
  badLabels: number;
  /** Sealed labels longer than `limits.maxLabelBytes`, dropped without opening. */
  oversizedLabels: number;
  /** True when the cache was brought up to date by a delta. */
  deltaApplied: boolean;
  /** The new quota receipt, when the server charges quotas. */
  quotaReceipt?: QuotaReceipt;
  /** With `pins`: the pin state after this sync's signed entries, and what was verified. */
  verified?: VerifiedView;
  /** With `pins`: a delta that did not reach the signed commitment (refused; the snapshot was downloaded instead). */
  refusedDelta?: VerifiabilityError;
  /** Every identifier's OPRF output under this epoch and what its last label check found: keep for the next sync. */
  outputs: KnownOutputs;
  /** Identifiers sent for evaluation in this sync (0 on an unchanged re-sync). */
  evaluated: number;
  /** Labels asked for in this sync (new matches, relabeled ones). */
  labelsFetched: number;
}

const BLIND_DST = ascii('contact-psi-v1-deterministic-blind');
// Additive blinds have their own domain (spec/discovery.md §1.1): a contact sent once in
// each mode (the upgrade's re-charge, a fallback offload) would otherwise show the server
// both r·H(x) and H(x) + r·G under one r, and hiding would rest on DDH instead of being
// perfect (red team wave 5).
const BLIND_DST_ADDITIVE = ascii('contact-psi-v1-deterministic-blind-additive');
/** Chunks blinded ahead of the one being sent when the group work is offloaded (the pool is never idle for want of one). */
const BLIND_AHEAD = 2;

const utf8 = new TextEncoder();
/**
 * Most keys one partial label request carries. Each is one store transaction on the server's
 * main thread (~60 µs a key on SQLite: ~15 ms for 256), during which it neither hands chunks
 * to its pool nor sends their answers; a book whose hits come together (registered contacts
 * first) would otherwise put ~1,000-key lookups in the middle of the evaluation. Hits beyond
 * it wait for the next finalized chunk's request, or the final one.
 */
export const PARTIAL_LABEL_KEYS = 256;

export class DiscoveryClientSession extends SessionCore<DiscoveryClientState, DiscoveryMessage, DiscoveryResult> {
  protected readonly role = 'client';
  protected state: DiscoveryClientState = 'idle';
  protected readonly transitions = {
    awaiting_info: { 'dir.info': (m: DiscoveryMessage) => this.onInfo(m as DirInfo) },
    awaiting_delta: { 'dir.delta': (m: DiscoveryMessage) => this.onDelta(m as DirDelta) },
    downloading: { 'dir.snapshot.part': (m: DiscoveryMessage) => this.onPart(m as DirSnapshotPart) },
    awaiting_evaluations: {
      'dir.evaluated': (m: DiscoveryMessage) => this.onEvaluated(m as DirEvaluated),
      'dir.receipt': (m: DiscoveryMessage) => this.onReceipt(m as DirReceipt),
      // Only as the answer to a partial request (onLabelPart refuses any other).
      'dir.labels': (m: DiscoveryMessage) => this.onLabelPart(m as DirLabels),
    },
    awaiting_labels: {
      'dir.labels': (m: DiscoveryMessage) => (this.partsPending.length > 0 ? this.onLabelPart(m as DirLabels) : this.onLabels(m as DirLabels)),
      // A running receipt can follow the last evaluation.
      'dir.receipt': (m: DiscoveryMessage) => this.onReceipt(m as DirReceipt),
    },
  };

  private readonly options: DiscoveryClientOptions;
  private readonly limits: DiscoveryLimits;
  private readonly identifiers: string[];
  private readonly maxDownloadBytes: number;
  private readonly maxDeltaPrefixes: number;
  private info: DirInfo | undefined;
  /** With `pins`: the verified signed view of this sync. */
  private verified: VerifiedView | undefined;
  private refusedDelta: VerifiabilityError | undefined;
  /** With `pins`: the commitment of the tags this sync ends up with. */
  private commitment: TagSetCommitment | undefined;
  /** Bytes asked for by the pending dir.snapshot.get: a part may not be longer. */
  private requested = 0;
  private download: Uint8Array | undefined;
  private downloaded = 0;
  private encoding: DeltaView | undefined;
  private deltaApplied = false;
  private snapshot: CachedSnapshot | undefined;
  private blindState: BlindState | undefined;
  private cacheHit = false;
  /** Running receipts (dir.receipt), each with the count of this sync's elements it covers. */
  private readonly runningReceipts: { upTo: number; receipt: QuotaReceipt }[] = [];
  /** The receipt presented in dir.quota (options.quotaReceipt, or what knownFor returned). */
  private presentedReceipt: QuotaReceipt | undefined;
  /** Outputs of earlier syncs offered (options.outputs, or what knownFor returned). */
  private offeredOutputs: KnownOutputs | undefined;
  /** Known outputs evaluated again so that their labels fit the allowance (label-allowance.ts). */
  private reevaluated: ReadonlySet<string> = new Set();
  /** Chunks answered whose deferred finalize (offload) has not come back: finalizeReceived() finishes them. */
  private readonly unfinalized = new Map<number, { part: BlindState; evaluated: Uint8Array; verify: { proof: Uint8Array; publicKey: Uint8Array } }>();
  /** Chunk boundaries of dir.evaluate: [0, ..., toEvaluate.length] (chunk-plan.ts). */
  private bounds: number[] = [0];
  /** Chunks whose blinds are drawn and whose blinding was handed to the offload. */
  private blindsDrawn = 0;
  /** blindState.blinds of a pipelined sync, filled chunk by chunk as the blinds are drawn. */
  private allBlinds: Uint8Array[] = [];
  /** The blinding secret of this sync (deterministic blinds), if any. */
  private blindSecret: Uint8Array | undefined;
  /** Additive blinding in this sync (blinding option, suite and offload permitting): every chunk and charge hash alike. */
  private additive = false;
  private nextSeq = 0;
  /** Chunks sent as dir.evaluate (deferred blinding sends them as they are ready). */
  private sentChunks = 0;
  /** Chunks blinded ahead of an earlier one, held until their turn. */
  private readonly blindedAhead = new Map<number, Uint8Array>();
  /** Items the server has answered (charged and evaluated). */
  private evaluatedCount = 0;
  /** Items whose OPRF output is known (answered, proof verified, finalized). */
  private finalizedCount = 0;
  private outputs: Uint8Array[] = [];
  /** This sync's outputs that the snapshot's filter holds, by index in toEvaluate, with their wire lookup keys. */
  private readonly hitKeys = new Map<number, Uint8Array>();
  /** The identifiers this sync evaluates: those without a usable known output. */
  private toEvaluate: string[] = [];
  /** Usable outputs of earlier syncs (same identity, epoch, key). */
  private known: KnownOutputs | undefined;
  /** How the snapshot changed since those outputs were checked. */
  private change: SnapshotChange = { fresh: true };
  /** Matches whose cached label stands (not refetched). */
  private reused: DiscoveryMatch[] = [];
  /** Outputs of this sync's matches, for the result's `outputs`, by identifier. */
  private readonly nextKnown = new Map<string, KnownOutput>();
  /**
   * The identifiers whose labels this sync asks for, in the order a single dir.labels.get
   * names them, with their outputs (`index`: in toEvaluate, for this sync's hits).
   */
  private asked: { identifier: string; output: Uint8Array; index?: number }[] = [];
  /** How many of `asked` the final dir.labels.get names (those no partial request did). */
  private finalAsked = 0;
  /** With partial label requests (dir.info labelParts and the option): on. */
  private labelParts = false;
  /** The toEvaluate indexes of each partial request not answered yet, oldest first. */
  private readonly partsPending: number[][] = [];
  /** toEvaluate indexes asked in partial requests, and their wire keys (hex: no key twice). */
  private readonly partSent = new Set<number>();
  private readonly partKeys = new Set<string>();
  /** Hits of finalized chunks not asked yet (toEvaluate indexes), from `partNext` on. */
  private readonly partBacklog: number[] = [];
  private partNext = 0;
  /** Answers to partial requests, opened, by toEvaluate index: onLabels takes them in order. */
  private readonly partOpened = new Map<number, { empty: boolean; opened: Label | 'oversized' | undefined }>();
  private quotaSent = false;

  constructor(options: DiscoveryClientOptions) {
    const limits = { ...DEFAULT_DISCOVERY_LIMITS, ...options.limits };
    super(limits.maxMessageBytes, clientSchemas(limits), options.idleTimeoutMs ?? 60_000);
    if (options.suite.mode !== Modes.VOPRF) throw new ProtocolError('unsupported', 'directory discovery is always verifiable (VOPRF)');
    this.options = options;
    this.limits = limits;
    this.presentedReceipt = options.quotaReceipt;
    this.offeredOutputs = options.outputs;
    this.identifiers = [...new Set(options.identifiers)];
    if (options.chunkItems !== undefined && !(Number.isSafeInteger(options.chunkItems) && options.chunkItems > 0)) {
      throw new ContactPsiError('invalid_option', `chunkItems must be a positive integer, got ${options.chunkItems}`);
    }
    for (const [name, value] of [['maxDownloadBytes', options.maxDownloadBytes], ['maxDeltaPrefixes', options.maxDeltaPrefixes]] as const) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw new ContactPsiError('invalid_option', `${name} must be a non-negative integer, got ${value}`);
    }
    this.maxDownloadBytes = Math.min(options.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES, limits.maxSnapshotBytes);
    this.maxDeltaPrefixes = options.maxDeltaPrefixes ?? DEFAULT_MAX_DELTA_PREFIXES;
    if (this.identifiers.length > limits.maxQueryItems) {
      throw new ProtocolError('too_large', `${this.identifiers.length} identifiers exceed the limit ${limits.maxQueryItems}`);
    }
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  start(now: number): void {
    if (this.state !== 'idle') throw new ProtocolError('unexpected_message', `client in state ${this.currentState} cannot start`);
    this.touch(now);
    this.send({ t: 'dir.hello', suite: this.options.suite.id, purpose: this.options.purpose });
    this.state = 'awaiting_info';
  }

  private onInfo(info: DirInfo): void {
    const { suite, pinnedPublicKey, cache } = this.options;
    if (info.suite !== suite.id) throw new ProtocolError('unsupported', `directory uses ${info.suite}`);
    suite.group.validateElement(info.publicKey);
    if (pinnedPublicKey && !equalBytes(pinnedPublicKey, info.publicKey)) {
      throw new ProtocolError('proof_invalid', 'the directory presented a public key other than the pinned one');
    }
    const known = this.options.knownKey;
    if (known && known.epoch === info.epoch && !equalBytes(known.publicKey, info.publicKey)) {
      throw new ProtocolError('proof_invalid', `the directory presented a second key for epoch ${info.epoch}`);
    }
    // Refused before anything is allocated or requested: the caller's limit, not the server's word.
    if (info.size > this.maxDownloadBytes) throw new ProtocolError('too_large', `snapshot of ${info.size} bytes exceeds maxDownloadBytes ${this.maxDownloadBytes}`);
    this.info = info;
    this.labelParts = info.labelParts === true && this.options.partialLabels !== false;
    if (this.options.pins) {
      this.verified = verifyInfo(this.options.pins, info);
      const { checkView } = this.options;
      if (checkView) {
        // Nothing is evaluated, downloaded or asked for until the witnesses agree.
        this.state = 'checking_view';
        const announcement = this.verified.announcement;
        this.defer(
          () => checkView(announcement),
          () => this.loadKnown(info),
        );
        return;
      }
    }
    this.loadKnown(info);
  }

  /** knownFor (if given) for the verified identity, then on with dir.info. */
  private loadKnown(info: DirInfo): void {
    const { knownFor } = this.options;
    if (!knownFor) return this.continueInfo(info);
    this.state = 'checking_view';
    // Only a verified identity names the cache: a server that claims X without X's signatures gets nothing of X.
    const view = { identity: this.verified?.announcement.identityKey, epoch: info.epoch, publicKey: info.publicKey };
    this.defer(
      () => knownFor(view),
      (known) => {
        this.offeredOutputs = known.outputs;
        this.presentedReceipt = known.quotaReceipt;
        this.continueInfo(info);
      },
    );
  }

  private continueInfo(info: DirInfo): void {
    const { cache } = this.options;
    // Verifying: a delta can only be checked from a signed commitment of the cached version.
    const deltaUsable = !this.verified || cache?.commitment !== undefined;
    if (cache && cache.epoch === info.epoch) {
      if (!equalBytes(cache.publicKey, info.publicKey)) throw new ProtocolError('proof_invalid', 'public key changed within an epoch');
      // Versions only increase within an epoch: an older one is a rollback (or another view).
      if (info.version < cache.version) {
        throw new ProtocolError('split_view', `epoch ${info.epoch} went back from version ${cache.version} to ${info.version}`);
      }
      const baseVersion = cache.baseVersion ?? cache.version;
      // The same (epoch, version) must always have the same bytes: anything else means the
      // directory shows different snapshots to different clients.
      const cachedDigest = cache.version === info.version ? (cache.infoDigest ?? (baseVersion === info.version ? cache.digest : undefined)) : undefined;
      if ((baseVersion === info.version && !equalBytes(cache.digest, info.digest)) || (cachedDigest && !equalBytes(cachedDigest, info.digest))) {
        throw new ProtocolError('split_view', `two different snapshots for epoch ${info.epoch} version ${info.version}`);
      }
      if (cache.version === info.version) {
        if (!this.verified) return this.useSnapshot(cache.bytes, true, cache);
        const signed = signedCommitment(this.verified.announcement);
        if (cache.commitment && !commitmentsEqual(cache.commitment, signed)) {
          throw new VerifiabilityError('split_view', `the cached tags of epoch ${info.epoch} version ${info.version} are not the signed ones`, { evidence: [this.verified.announcement.bytes] });
        }
        // Deltas applied without a signed commitment to check them against: start from the signed snapshot.
        if (cache.commitment || (cache.baseVersion ?? cache.version) === cache.version) {
          this.commitment = signed;
          return this.useSnapshot(cache.bytes, true, cache);
        }
      }
      if (cache.version < info.version && deltaUsable) {
        this.state = 'awaiting_delta';
        this.send({ t: 'dir.delta.get', epoch: info.epoch, fromVersion: cache.version });
        return;
      }
    }
    this.startDownload();
  }

  private onDelta(delta: DirDelta): void {
    const info = this.info!;
    const cache = this.options.cache!;
    if (delta.epoch !== info.epoch || delta.fromVersion !== cache.version || delta.toVersion !== info.version) {
      throw new ProtocolError('bad_field', 'dir.delta does not answer the request');
    }
    if (!delta.available) {
      if (delta.added.length + delta.removed.length > 0) throw new ProtocolError('bad_field', 'an unavailable dir.delta carries prefixes');
      return this.startDownload();
    }
    // Bounds that need no parsing (spec/discovery.md §6): the server only sends a delta
    // smaller than the snapshot, and each version changes at most 64 tags each way.
    const added = delta.added.length / DELTA_PREFIX_BYTES;
    const removed = delta.removed.length / DELTA_PREFIX_BYTES;
    if (delta.added.length + delta.removed.length >= info.size) throw new ProtocolError('too_large', 'dir.delta is not smaller than the snapshot');
    const perVersion = DELTA_TAGS_PER_VERSION * (info.version - cache.version);
    if (added > perVersion || removed > perVersion) {
      throw new ProtocolError('too_large', `dir.delta changes ${added}+${removed} tags over ${info.version - cache.version} versions (at most ${DELTA_TAGS_PER_VERSION} each way per version)`);
    }
    // Too much to hold: a fresh download (bounded by maxDownloadBytes) replaces the sets.
    if (added + removed > this.maxDeltaPrefixes) return this.startDownload();
    this.useSnapshot(cache.bytes, true, cache, delta);
  }

  private startDownload(): void {
    const info = this.info!;
    // Grown as parts arrive (at most twice what was received): announcing a size costs the server nothing.
    this.download = new Uint8Array(Math.min(info.size, INITIAL_DOWNLOAD_BYTES));
    this.state = 'downloading';
    this.requestPart();
  }

  private requestPart(): void {
    const info = this.info!;
    const length = Math.min(this.options.partBytes ?? 1 << 20, this.limits.maxPartBytes, info.size - this.downloaded);
    this.requested = Math.max(1, length);
    this.send({ t: 'dir.snapshot.get', epoch: info.epoch, version: info.version, offset: this.downloaded, length: this.requested });
  }

  private onPart(part: DirSnapshotPart): void {
    const info = this.info!;
    if (part.offset !== this.downloaded) throw new ProtocolError('unexpected_message', `expected part at ${this.downloaded}, got ${part.offset}`);
    if (part.data.length === 0 && info.size > this.downloaded) throw new ProtocolError('bad_field', 'empty snapshot part');
    if (this.downloaded + part.data.length > info.size) throw new ProtocolError('too_large', 'snapshot longer than announced');
    if (part.data.length > this.requested) throw new ProtocolError('too_large', `snapshot part of ${part.data.length} bytes, ${this.requested} requested`);
    const end = this.downloaded + part.data.length;
    if (end > this.download!.length) {
      const grown = new Uint8Array(Math.min(info.size, Math.max(end, 2 * this.download!.length)));
      grown.set(this.download!.subarray(0, this.downloaded));
      this.download = grown;
    }
    this.download!.set(part.data, this.downloaded);
    this.downloaded = end;
    this.emit({ type: 'progress', phase: 'download', done: this.downloaded, total: info.size });
    if (this.downloaded < info.size) return this.requestPart();
    // Every client of this (epoch, version) must see the same bytes: the digest in dir.info
    // is what clients compare (and what a witness can publish).
    const bytes = this.download!.subarray(0, this.downloaded);
    // Verifying: the bytes must be the signed snapshot (split_view with the signed evidence).
    if (this.verified) this.commitment = checkSnapshot(this.verified.announcement, bytes);
    if (!equalBytes(sha256(bytes), info.digest)) throw new ProtocolError('bad_encoding', 'snapshot digest mismatch');
    this.useSnapshot(bytes, false);
  }

  /** Start evaluating against a snapshot: downloaded, cached, or cached plus a delta. */
  private useSnapshot(bytes: Uint8Array, fromCache: boolean, cache?: CachedSnapshot, delta?: DirDelta): void {
    const info = this.info!;
    const encoding = parseEncoding(bytes, { maxBytes: this.limits.maxSnapshotBytes, maxCount: this.limits.maxDirectoryEntries });
    if (encoding.kind !== info.encoding) throw new ProtocolError('bad_encoding', 'snapshot does not match dir.info');
    const view = new DeltaView(encoding, cache?.added, cache?.removed);
    if (delta) {
      const checked = checkDelta(delta.added, delta.removed);
      checkDeltaCounts(checked.added.length, checked.removed.length, info.count, cachedCount(cache!, encoding.count, view.added.length));
      if (this.verified) {
        try {
          this.commitment = checkDeltaCommitment(cache!.commitment!, delta.added, delta.removed, this.verified.announcement, this.options.commitment);
        } catch (err) {
          if (!(err instanceof VerifiabilityError) || err.code !== 'split_view') throw err;
          // A delta that does not reach the signed commitment lies (issue 10 §1): it is
          // dropped unapplied, and the signed snapshot is downloaded once instead.
          this.refusedDelta = err;
          return this.startDownload();
        }
      }
      view.apply(checked);
      // The accumulated sets are capped: past the cap, download afresh (the sets start over).
      if (view.size > this.maxDeltaPrefixes) return this.startDownload();
      this.deltaApplied = true;
    }
    // A fresh download must match dir.info exactly; with deltas only the kind can be checked.
    if (!cache && encoding.count !== info.count) throw new ProtocolError('bad_encoding', 'snapshot does not match dir.info');
    this.encoding = view;
    this.snapshot = cache
      ? {
          ...cache,
          version: info.version,
          baseVersion: cache.baseVersion ?? cache.version,
          infoDigest: info.digest,
          infoCount: info.count,
          added: packSorted(view.added),
          removed: packSorted(view.removed),
          commitment: this.commitment,
        }
      : { epoch: info.epoch, version: info.version, baseVersion: info.version, digest: info.digest, infoDigest: info.digest, infoCount: info.count, publicKey: info.publicKey, bytes, commitment: this.commitment };
    this.cacheHit = fromCache;
    const { suite, rng } = this.options;
    // Incremental sync (known-outputs.ts): outputs of this identity, epoch and key are reused,
    // so only identifiers without one are evaluated; after a rotation that is all of them.
    const usable = outputsUsable(this.offeredOutputs, info) ? this.offeredOutputs : undefined;
    this.known = usable;
    // Label changes are known only from the version the outputs were last checked at.
    const sameBase = usable !== undefined && cache !== undefined && usable.version === cache.version;
    this.change = { fresh: !fromCache || !sameBase, delta: delta ? { added: delta.added, relabeled: delta.relabeled } : undefined };
    // Blinds: per (identity, account) where a quota applies, random where none does (issue 10 §3).
    const blindSecret = info.identity && this.options.blindSecretFor ? this.options.blindSecretFor(info.identity) : this.options.blindSecret;
    this.blindSecret = blindSecret;
    const { offload: off } = this.options;
    this.additive = this.options.blinding !== 'multiplicative' && supportsAdditive(suite) && (!off || (off.blindAdditive !== undefined && off.finalizeAdditive !== undefined));
    // Known outputs whose labels would not fit the server's allowance are evaluated again (label-allowance.ts).
    if (usable && this.options.quotaApplies) this.reevaluated = new Set(this.beyondAllowance(usable, blindSecret));
    // Without a quota the server takes as many label keys as elements evaluated, plus the
    // delta's added and relabeled prefixes (all after a download): known outputs asked beyond
    // that (a cut-off sync's, or outputs checked at another version) are evaluated again, free.
    else if (usable) this.reevaluated = new Set(this.beyondUnpaidAllowance(usable, unpaidLabelAllowance(!fromCache, delta, Infinity)));
    this.toEvaluate = usable ? this.identifiers.filter((id) => !usable.entries.has(id) || this.reevaluated.has(id)) : this.identifiers;
    if (this.toEvaluate.length === 0) return this.requestLabels();
    this.sendQuota();
    const inputs = this.toEvaluate.map((s) => utf8.encode(s));
    const chunk = Math.min(info.chunk, this.limits.maxChunkItems, this.options.chunkItems ?? Infinity);
    this.outputs = new Array<Uint8Array>(inputs.length);
    this.state = 'awaiting_evaluations';
    const { offload } = this.options;
    // Blinds in input order, exactly as suite.blind draws them (randomScalars: the same draws
    // and scalars as scalar.random, three bytes per reduction step).
    const drawBlinds = (start: number, end: number): Uint8Array[] =>
      blindSecret ? inputs.slice(start, end).map((x) => deterministicBlind(suite, blindSecret, x, this.additive)) : randomScalars(suite.group.scalar, rng, end - start);
    if (!offload) {
      this.bounds = uniformChunks(inputs.length, chunk);
      this.blindState = this.blindHere(inputs, drawBlinds(0, inputs.length));
      for (let seq = 0; seq + 1 < this.bounds.length; seq++) this.sendChunk(seq);
      return;
    }
    // Pipelined: a short first chunk goes out as soon as it is blinded (books of 4 chunks and
    // more), and a few chunks are blinded ahead (their blinds drawn only then), so the server
    // evaluates chunk k while the pool blinds the next ones and finalizes those answered; a
    // short last chunk keeps the wait between the server's last answer and the label request
    // short (chunk-plan.ts).
    this.bounds = offloadChunks(inputs.length, chunk);
    const size = suite.group.elementSize;
    this.allBlinds = new Array<Uint8Array>(inputs.length);
    this.blindState = { inputs, blinds: this.allBlinds, blinded: new Uint8Array(inputs.length * size) };
    for (let k = 0; k < BLIND_AHEAD; k++) this.blindNextChunk();
  }

  /** Draws the blinds of the next chunk not yet blinded and hands its blinding to the offload. */
  private blindNextChunk(): void {
    const seq = this.blindsDrawn;
    if (seq + 1 >= this.bounds.length) return;
    this.blindsDrawn++;
    const { suite, offload, rng } = this.options;
    const state = this.blindState!;
    const start = this.bounds[seq];
    const end = this.bounds[seq + 1];
    const inputs = state.inputs.slice(start, end);
    const blindSecret = this.blindSecret;
    const blinds = blindSecret ? inputs.map((x) => deterministicBlind(suite, blindSecret, x, this.additive)) : randomScalars(suite.group.scalar, rng, end - start);
    for (let i = 0; i < blinds.length; i++) this.allBlinds[start + i] = blinds[i];
    this.defer(
      () => (this.additive ? offload!.blindAdditive!(suite, inputs, blinds) : offload!.blindWith(suite, inputs, blinds)),
      (part) => {
        this.chunkBlinded(seq, part.blinded);
        this.blindNextChunk();
      },
    );
  }

  /** Deferred blinding finished for chunk `seq`: send every chunk that is now ready, in order. */
  private chunkBlinded(seq: number, blinded: Uint8Array): void {
    this.blindedAhead.set(seq, blinded);
    const size = this.options.suite.group.elementSize;
    for (let ready = this.blindedAhead.get(this.sentChunks); ready; ready = this.blindedAhead.get(this.sentChunks)) {
      this.blindedAhead.delete(this.sentChunks);
      this.blindState!.blinded.set(ready, this.bounds[this.sentChunks] * size);
      this.sendChunk(this.sentChunks);
    }
  }

  private sendChunk(seq: number): void {
    const size = this.options.suite.group.elementSize;
    const blinded = this.blindState!.blinded.subarray(this.bounds[seq] * size, this.bounds[seq + 1] * size);
    this.send({ t: 'dir.evaluate', epoch: this.info!.epoch, seq, blinded });
    this.sentChunks = seq + 1;
  }

  private onEvaluated(msg: DirEvaluated): void {
    const { suite, offload } = this.options;
    const size = suite.group.elementSize;
    const seq = this.nextSeq++;
    if (msg.seq !== seq || seq >= this.sentChunks) throw new ProtocolError('unexpected_message', `expected evaluation ${seq}, got ${msg.seq}`);
    const start = this.evaluatedCount;
    const count = this.bounds[seq + 1] - this.bounds[seq];
    if (msg.evaluated.length !== count * size) throw new ProtocolError('bad_field', `evaluation ${seq} must hold ${count} elements`);
    this.evaluatedCount += count;
    const state = this.blindState!;
    const part: BlindState = {
      inputs: state.inputs.slice(start, start + count),
      blinds: state.blinds.slice(start, start + count),
      blinded: state.blinded.subarray(start * size, (start + count) * size),
    };
    // Throws proof_invalid if this chunk was not evaluated under the epoch's public key.
    const verify = { proof: msg.proof, publicKey: this.info!.publicKey };
    if (!offload) return this.chunkFinalized(start, this.finalizeHere(part, msg.evaluated, verify));
    const evaluated = msg.evaluated.slice(); // ours, whatever the transport does with its buffer
    this.unfinalized.set(start, { part, evaluated, verify });
    this.defer(
      () => (this.additive ? offload.finalizeAdditive!(suite, part, evaluated, verify) : offload.finalize(suite, part, evaluated, verify)),
      (outputs) => this.chunkFinalized(start, outputs),
    );
  }

  private chunkFinalized(start: number, outputs: Uint8Array[]): void {
    this.unfinalized.delete(start);
    const encoding = this.encoding!;
    // The filter lookups and the hits' label keys now, while other chunks are still out:
    // requestLabels, which waits for the last chunk, then only collects them.
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i];
      this.outputs[start + i] = o;
      if (encoding.contains(o)) this.hitKeys.set(start + i, wireLookupKeyOf(o));
    }
    this.finalizedCount += outputs.length;
    this.emit({ type: 'progress', phase: 'evaluate', done: this.finalizedCount, total: this.toEvaluate.length });
    if (this.finalizedCount === this.toEvaluate.length) this.requestLabels();
    else this.requestLabelPart(start, outputs.length);
  }

  /**
   * The receipt of a sync that ended part-way (refused, cut off): the newest running receipt
   * (dir.receipt) whose elements all have their output here (finalized, proof verified), so
   * that a caller who saves `partialOutputs` first never holds a receipt that says
   * "evaluated" for an element whose output it lost: that element would be evaluated and
   * charged again (sync-failover.md). Call finalizeReceived() first when finalizing is
   * offloaded.
   */
  get quotaReceipt(): QuotaReceipt | undefined {
    for (let i = this.runningReceipts.length - 1; i >= 0; i--) {
      const { upTo, receipt } = this.runningReceipts[i];
      let complete = true;
      for (let j = 0; j < upTo && complete; j++) complete = this.outputs[j] !== undefined;
      if (complete) return receipt;
    }
    return undefined;
  }

  /**
   * Finishes, here and synchronously, the chunks whose evaluation arrived but whose
   * offloaded finalize did not come back before the session ended (the connection closed):
   * their proofs are checked and their outputs join `partialOutputs`. A chunk whose proof
   * fails stays without outputs (and no receipt covering it is returned).
   */
  finalizeReceived(): void {
    const { suite } = this.options;
    for (const [start, { part, evaluated, verify }] of this.unfinalized) {
      this.unfinalized.delete(start);
      try {
        this.finalizeHere(part, evaluated, verify).forEach((o, i) => (this.outputs[start + i] = o));
      } catch {
        // Not verified: not kept.
      }
    }
  }

  /** Blinding on this thread, in this sync's mode (the charge hashes must match what is sent). */
  private blindHere(inputs: readonly Uint8Array[], blinds: Uint8Array[]): BlindState {
    const { suite } = this.options;
    return this.additive ? blindAdditive(suite, inputs, blinds) : suite.blindWith(inputs, blinds);
  }

  /** Finalize on this thread, in this sync's mode; additive: nothing is unblinded before the chunk's proof verifies. */
  private finalizeHere(part: BlindState, evaluated: Uint8Array, verify: { proof: Uint8Array; publicKey: Uint8Array }): Uint8Array[] {
    const { suite } = this.options;
    return this.additive ? finalizeAdditive(suite, part, evaluated, verify) : suite.finalize(part, evaluated, verify);
  }

  private onReceipt(msg: DirReceipt): void {
    this.runningReceipts.push({ upTo: this.evaluatedCount, receipt: this.receiptFrom(msg.quotaToken, msg.tokenAccepted, msg.quotaGeneration, msg.quotaChain, this.evaluatedCount) });
  }

  /** Known outputs whose labels this sync must fetch, past the first `allowed`: evaluated again instead (no quota: no charge). */
  private beyondUnpaidAllowance(usable: KnownOutputs, allowed: number): string[] {
    const encoding = this.encoding!;
    const marks = prefixMarks(this.change);
    const needed = this.identifiers.filter((id) => {
      const entry = usable.entries.get(id);
      return entry !== undefined && encoding.contains(entry.output) && decideKnown(entry, this.change, marks) === 'fetch';
    });
    return needed.slice(Math.max(0, allowed));
  }

  /**
   * The known outputs to evaluate again so that dir.labels.get fits the label allowance
   * (label-allowance.ts): chosen among those the presented receipt does not cover.
   */
  private beyondAllowance(usable: KnownOutputs, blindSecret: Uint8Array | undefined): string[] {
    const encoding = this.encoding!;
    const marks = prefixMarks(this.change);
    const needed = this.identifiers.filter((id) => {
      const entry = usable.entries.get(id);
      return entry !== undefined && encoding.contains(entry.output) && decideKnown(entry, this.change, marks) === 'fetch';
    });
    const receipt = this.presentedReceipt;
    const size = receipt ? receipt.set.length / CHARGE_HASH_BYTES : 0;
    // A receipt too large to present (sendQuota) gives no allowance.
    const presented = size <= this.limits.maxChargedSet ? size : 0;
    if (needed.length <= presented) return [];
    const charged = new Set<string>();
    for (let off = 0; presented > 0 && off < receipt!.set.length; off += CHARGE_HASH_BYTES) charged.add(hexOf(receipt!.set.subarray(off, off + CHARGE_HASH_BYTES)));
    const { suite } = this.options;
    const covered = (identifier: string): boolean => {
      if (!blindSecret || charged.size === 0) return false;
      const input = utf8.encode(identifier);
      return charged.has(hexOf(chargeHash(this.blindHere([input], [deterministicBlind(suite, blindSecret, input, this.additive)]).blinded)));
    };
    return outputsToReevaluate(needed, presented, covered);
  }

  /**
   * The outputs known so far (earlier syncs' plus this sync's finalized ones, whose labels
   * were not asked yet): what a sync cut off part-way keeps, so nothing answered is
   * evaluated (and charged) again in this epoch.
   */
  get partialOutputs(): KnownOutputs | undefined {
    const info = this.info;
    if (!info || this.state === 'done') return undefined;
    const entries = new Map<string, KnownOutput>(this.known?.entries ?? []);
    for (let i = 0; i < this.toEvaluate.length; i++) if (this.outputs[i]) entries.set(this.toEvaluate[i], { output: this.outputs[i], labelChecked: false });
    if (entries.size === 0) return undefined;
    return { identity: info.identity, epoch: info.epoch, publicKey: info.publicKey, version: this.known?.version ?? -1, entries };
  }

  /** dir.quota, once, before the first dir.evaluate or dir.labels.get (a sync that sends neither needs none). */
  private sendQuota(): void {
    const receipt = this.presentedReceipt;
    if (this.quotaSent || !receipt) return;
    this.quotaSent = true;
    // A receipt over more hashes than a message may carry starts over (charged again once).
    if (receipt.set.length / CHARGE_HASH_BYTES > this.limits.maxChargedSet) return;
    this.send({ t: 'dir.quota', token: receipt.token, set: receipt.set, chain: receipt.chain, epoch: receipt.epoch, generation: receipt.generation, evaluated: receipt.evaluated });
  }

  /**
   * Decides which labels to ask for: every new match, and a known one only when its label
   * may have changed (known-outputs.ts decideKnown). On an unchanged re-sync the server sees
   * no blinded element and no lookup key.
   */
  private requestLabels(): void {
    const encoding = this.encoding!;
    const marks = prefixMarks(this.change);
    const asked: { identifier: string; output: Uint8Array; key?: Uint8Array; index?: number }[] = [];
    this.toEvaluate.forEach((identifier, i) => {
      const output = this.outputs[i];
      const key = this.hitKeys.get(i);
      if (key !== undefined) asked.push({ identifier, output, key, index: i });
      else this.nextKnown.set(identifier, { output, labelChecked: true });
    });
    const known = this.known;
    if (known) {
      for (const identifier of this.identifiers) {
        const entry = known.entries.get(identifier);
        if (!entry || this.reevaluated.has(identifier)) continue;
        const decision = encoding.contains(entry.output) ? decideKnown(entry, this.change, marks) : 'none';
        if (decision === 'fetch') asked.push({ identifier, output: entry.output });
        else if (decision === 'reuse') {
          this.reused.push({ identifier, userId: entry.match!.userId, label: entry.match!.label });
          this.nextKnown.set(identifier, entry);
        } else this.nextKnown.set(identifier, { output: entry.output, labelChecked: true });
      }
    }
    this.asked = asked;
    // Even with nothing evaluated and nothing to ask, the sync ends with an empty
    // dir.labels.get (about 30 bytes): both state machines end in `done`, the server's with
    // its result. The receipt goes along only if labels are asked for (their allowance).
    if (asked.length > 0) this.sendQuota();
    // What partial requests asked already is left out (its answers are in partOpened).
    const left = asked.filter(({ index }) => index === undefined || !this.partSent.has(index));
    this.finalAsked = left.length;
    const keys = new Uint8Array(left.length * WIRE_LOOKUP_KEY_BYTES);
    left.forEach(({ output, key }, j) => keys.set(key ?? wireLookupKeyOf(output), j * WIRE_LOOKUP_KEY_BYTES));
    this.send({ t: 'dir.labels.get', epoch: this.info!.epoch, keys, format: LABEL_FORMAT });
    this.state = 'awaiting_labels';
  }

  /**
   * A partial request for the labels of finalized chunks' hits (when the server announced
   * `labelParts`), one per finalized chunk (`start`..`start + count` joins the backlog), at
   * most PARTIAL_LABEL_KEYS keys, oldest hits first, and no key a partial
   * request named already (two outputs sharing a wire key, ~2^-64 per pair: the final
   * request asks for it, as the server refuses a repeated partial key). The last chunk's
   * hits go with the final request instead, which ends the session.
   */
  private requestLabelPart(start: number, count: number): void {
    if (!this.labelParts) return;
    for (let i = start; i < start + count; i++) if (this.hitKeys.has(i)) this.partBacklog.push(i);
    const indexes: number[] = [];
    const keys: Uint8Array[] = [];
    while (this.partNext < this.partBacklog.length && indexes.length < (this.options.partialLabelKeys ?? PARTIAL_LABEL_KEYS)) {
      const i = this.partBacklog[this.partNext++];
      const key = this.hitKeys.get(i)!;
      const name = hexOf(key);
      if (this.partKeys.has(name)) continue;
      this.partKeys.add(name);
      indexes.push(i);
      keys.push(key);
    }
    // An empty partial request is refused: a chunk without hits asks nothing.
    if (indexes.length === 0) return;
    for (const i of indexes) this.partSent.add(i);
    this.partsPending.push(indexes);
    this.send({ t: 'dir.labels.get', epoch: this.info!.epoch, keys: concat(...keys), format: LABEL_FORMAT, partial: true });
  }

  /** The answer to the oldest partial request: its labels opened now, kept for onLabels (nothing decided yet). */
  private onLabelPart(msg: DirLabels): void {
    const indexes = this.partsPending.shift();
    if (indexes === undefined) throw new ProtocolError('unexpected_message', 'dir.labels before dir.labels.get');
    if (msg.format !== LABEL_FORMAT) throw new ProtocolError('unsupported', `labels in format ${msg.format}, this client opens format ${LABEL_FORMAT}`);
    // The receipt comes with the final answer only (later chunks are still being charged).
    if (msg.quotaToken !== undefined || msg.tokenAccepted !== undefined || msg.quotaGeneration !== undefined || msg.quotaChain !== undefined) {
      throw new ProtocolError('bad_field', 'the dir.labels of a partial request carries a receipt');
    }
    const answers = unpackLabelAnswers(msg.labels, msg.more, indexes.length);
    const maxLabel = this.limits.maxLabelBytes;
    answers.forEach((candidates, j) => {
      const i = indexes[j];
      this.partOpened.set(i, { empty: candidates.length === 0, opened: candidates.length === 0 ? undefined : openFirst(this.outputs[i], candidates, maxLabel) });
    });
  }

  private onLabels(msg: DirLabels): void {
    if (msg.format !== LABEL_FORMAT) throw new ProtocolError('unsupported', `labels in format ${msg.format}, this client opens format ${LABEL_FORMAT}`);
    // Exactly one answer per key asked (label-wire.ts), bounded by the message; one label
    // over this client's item limit is dropped and counted, never fatal to the sync.
    const answers = unpackLabelAnswers(msg.labels, msg.more, this.finalAsked);
    const maxLabel = this.limits.maxLabelBytes;
    // The receipt first: every chunk was charged, whatever the labels turn out to be.
    const quotaReceipt = msg.quotaToken ? this.receiptFrom(msg.quotaToken, msg.tokenAccepted === true, msg.quotaGeneration, msg.quotaChain, this.toEvaluate.length) : undefined;
    const matches: DiscoveryMatch[] = [...this.reused];
    let falsePositives = 0;
    let badLabels = 0;
    let oversizedLabels = 0;
    let next = 0;
    this.asked.forEach(({ identifier, output, index }) => {
      // Asked in a partial request (answered before this one, opened then), else in this one.
      const part = index !== undefined ? this.partOpened.get(index) : undefined;
      const candidates = part ? undefined : answers[next++];
      const empty = part ? part.empty : candidates!.length === 0;
      // No label that opens for a tag the signed snapshot holds: a filter false positive, or a
      // server hiding the match (absence is not authenticated; spec/sync-failover.md §1). Not
      // kept as a checked non-match (asked again next sync: false positives are rare, a lookup
      // is cheap), and a known match is not dropped without a newer signed version.
      // Several candidates only when directory entries share the 8-byte key: ours is the
      // one that opens under our own OPRF output (the others belong to other tags).
      const opened = part ? part.opened : empty ? undefined : openFirst(output, candidates!, maxLabel);
      if (this.keepKnownMatch(identifier, opened, matches)) return;
      this.nextKnown.set(identifier, { output, labelChecked: false });
      if (empty) return void falsePositives++;
      if (opened === 'oversized') return void oversizedLabels++;
      // None opens: corrupt or forged; dropped and counted, the other matches stand.
      if (opened === undefined) return void badLabels++;
      const { userId, label } = opened;
      matches.push({ identifier, userId, label });
      this.nextKnown.set(identifier, { output, labelChecked: true, match: { userId, label } });
    });
    this.finish(matches, falsePositives, badLabels, oversizedLabels, quotaReceipt);
  }

  /**
   * For an asked label that did not open (`opened` undefined or 'oversized'): whether the known
   * match of `identifier` stands. It does while the directory's signed version is not newer
   * than the one it was checked at: a server cannot turn a match into "no match" by answering
   * nothing (a removed user leaves the signed snapshot, so its tag is no longer asked for).
   */
  private keepKnownMatch(identifier: string, opened: Label | 'oversized' | undefined, matches: DiscoveryMatch[]): boolean {
    if (opened !== undefined && opened !== 'oversized') return false;
    const known = this.known;
    const entry = known?.entries.get(identifier);
    if (!known || !entry?.match || this.info!.version > known.version) return false;
    matches.push({ identifier, userId: entry.match.userId, label: entry.match.label });
    this.nextKnown.set(identifier, entry);
    return true;
  }

  private finish(matches: DiscoveryMatch[], falsePositives: number, badLabels: number, oversizedLabels: number, quotaReceipt: QuotaReceipt | undefined): void {
    const info = this.info!;
    const order = new Map(this.identifiers.map((id, i) => [id, i]));
    matches.sort((a, b) => order.get(a.identifier)! - order.get(b.identifier)!);
    this.state = 'done';
    this.emit({
      type: 'result',
      result: {
        matches,
        snapshot: this.snapshot!,
        cacheHit: this.cacheHit,
        downloadedBytes: this.downloaded,
        falsePositives,
        badLabels,
        oversizedLabels,
        deltaApplied: this.deltaApplied,
        quotaReceipt,
        verified: this.verified,
        refusedDelta: this.refusedDelta,
        outputs: { identity: info.identity, epoch: info.epoch, publicKey: info.publicKey, version: info.version, entries: this.nextKnown },
        evaluated: this.toEvaluate.length,
        labelsFetched: this.asked.length,
      },
    });
  }

  /** The receipt the server's token covers: the previous one's sets (if accepted) grown by this sync's first `upTo` elements. */
  private receiptFrom(token: Uint8Array, accepted: boolean, generation: number | undefined, chain: Uint8Array | undefined, upTo: number): QuotaReceipt {
    const size = this.options.suite.group.elementSize;
    const blinded = (this.blindState?.blinded ?? new Uint8Array(0)).subarray(0, upTo * size);
    const session: string[] = [];
    for (let off = 0; off < blinded.length; off += size) session.push(hexOf(chargeHash(blinded.subarray(off, off + size))));
    const epoch = this.info!.epoch;
    return { token, chain: chain ?? new Uint8Array(16), ...nextReceiptSets(this.presentedReceipt, accepted, epoch, session), epoch, generation: generation ?? 0 };
  }
}

/**
 * The first candidate that opens under `output`; 'oversized' when every candidate is over
 * `maxLabel` (none was tried); undefined when some were tried and none opened.
 */
function openFirst(output: Uint8Array, candidates: readonly Uint8Array[], maxLabel: number): Label | 'oversized' | undefined {
  let tried = false;
  for (const sealed of candidates) {
    if (sealed.length > maxLabel) continue;
    tried = true;
    try {
      return openLabel(output, sealed);
    } catch {
      // another entry's seal (a shared key), or a corrupt one: try the next
    }
  }
  return tried ? undefined : 'oversized';
}

/**
 * The client's schemas: those of messages.ts, except that `dir.labels` may be as long as a
 * message (maxMessageBytes still bounds it), so that one label over `maxLabelBytes` is
 * dropped by onLabels instead of failing the whole message.
 */
function clientSchemas(limits: DiscoveryLimits): Record<DiscoveryMessage['t'], MessageSchema> {
  const schemas = discoverySchemas(limits);
  const labels = schemas['dir.labels'];
  return { ...schemas, 'dir.labels': { ...labels, labels: { kind: 'bin', maxLength: limits.maxMessageBytes } } };
}

/**
 * The entries at the cached version: announced by dir.info then (stored with the cache), or
 * for an old cache without it, the base's count (no delta applied yet) or an upper bound.
 */
function cachedCount(cache: CachedSnapshot, baseCount: number, accumulatedAdded: number): { exact: boolean; count: number } {
  if (cache.infoCount !== undefined) return { exact: true, count: cache.infoCount };
  if ((cache.baseVersion ?? cache.version) === cache.version) return { exact: true, count: baseCount };
  return { exact: false, count: baseCount + accumulatedAdded };
}

/**
 * A net delta from `before` entries to `after` removes only entries that were there
 * (|removed| <= before), adds only entries that are there now (|added| <= after), and its
 * net change is the count difference plus the tags re-added after a removal (each is in
 * `added` though it was there before): |added| - |removed| >= after - before. A delta
 * that breaks one of these was not computed from the versions dir.info announced.
 */
function checkDeltaCounts(added: number, removed: number, after: number, before: { exact: boolean; count: number }): void {
  if (removed > before.count) throw new ProtocolError('bad_field', `dir.delta removes ${removed} entries of ${before.count}`);
  if (added > after) throw new ProtocolError('bad_field', `dir.delta adds ${added} entries to a directory of ${after}`);
  if (before.exact && added - removed < after - before.count) {
    throw new ProtocolError('bad_field', `dir.delta (+${added} -${removed}) does not explain ${before.count} -> ${after} entries`);
  }
}

/**
 * dir.info against the pin rules: the two signed envelopes must be there, pass the rules of
 * `pins`, and say what dir.info says unsigned (verified-view.ts).
 */
function verifyInfo(pins: PinState, info: DirInfo): VerifiedView {
  if (!info.keyStatement || !info.announcement || !info.identity) {
    throw new ProtocolError('bad_signature', 'dir.info is not signed by a directory identity (no key statement or announcement)');
  }
  const view = acceptServedView(pins, info.keyStatement, info.announcement, info);
  if (!equalBytes(view.announcement.identityKey, info.identity)) throw new ProtocolError('identity_mismatch', 'dir.info names another identity than the one that signed it');
  return view;
}

const signedCommitment = (a: Signed<Announcement>): TagSetCommitment => ({ count: a.statement.count, digest: a.statement.commitment });

/** A blind derived from the device secret and the contact: stable across syncs, secret to the server. */
function deterministicBlind(suite: OprfSuite, secret: Uint8Array, input: Uint8Array, additive: boolean): Uint8Array {
  // As bytes from the group's reduction: a secret blind never becomes a BigInt (spec/protocol.md, constant-time operations).
  const r = suite.group.hashToScalarBytes(concat(secret, input), additive ? BLIND_DST_ADDITIVE : BLIND_DST);
  return suite.group.scalar.isZero(r) ? suite.group.scalar.toBytes(1n) : r;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
