/**
 * Directory discovery, server role (spec/discovery.md §3):
 *   awaiting_hello --dir.hello/send dir.info--> serving
 *   serving --dir.snapshot.get/send dir.snapshot.part--> serving
 *   serving --dir.delta.get/read the tag log--> reading --/send dir.delta--> serving
 *   serving --dir.evaluate/charge, evaluate; send dir.evaluated (with DLEQ proof)--> serving
 *   serving --dir.labels.get partial (dir.info said labelParts)/look the labels up, send dir.labels--> serving
 *   serving --dir.labels.get/look the labels up--> reading --/send dir.labels--> done
 * The server keeps no copy of the blinded elements it evaluates: they are evaluated and
 * dropped; only counts reach the result event. With quotas, their 8-byte charge hashes are
 * kept per receipt chain (quota-ledger.ts: the latest session's, and the rotation passes of
 * the epoch), which reveal nothing without the client's blinding secret.
 *
 * Sans-I/O: every access to the directory store (tag deltas, sealed labels, quota charges)
 * is deferred work the driver runs (see DeferredWork), never a call inside handle(). Chunks
 * are charged one after another in chunk order whatever order the driver runs the pieces
 * in and the store answers, then evaluated (on an `offload`, a worker pool, if given) and
 * answered in chunk order. While a delta is read (state `reading`) the session accepts no
 * other message, so its answers keep the order of the requests; once dir.labels.get is
 * accepted, later input is ignored (the session ends with the labels).
 *
 * Partial label requests (issue 13; spec/discovery.md §9): a client may ask for the labels of
 * each answered chunk's hits while later chunks are evaluated, so the store's lookups run
 * while the worker pool evaluates instead of after it. The session stays `serving` (chunks
 * keep coming); every label request's lookup is deferred work, and the answers go out in the
 * order of the requests, the final one last. The label-key allowance holds over all of them
 * together; the partial requests are at most the chunks answered so far plus one, none empty,
 * none repeating a key of an earlier partial request.
 */
import { ContactPsiError } from '../../errors.js';
import type { Rng } from '../../group/types.js';
import type { VerifiableEvaluation } from '../../oprf/suite.js';
import type { OprfOffload } from '../offload.js';
import { ProtocolError } from '../errors.js';
import { SessionCore } from '../session-core.js';
import type { DiscoveryBackend, EpochView, TagDelta } from './backend.js';
import type { DownloadBudget } from './download-budget.js';
import { LABEL_FORMAT } from './labels.js';
import { packLabelAnswers, splitWireKeys } from './label-wire.js';
import { unpaidLabelAllowance } from './known-outputs.js';
import { labelKeysFit, partialRequestFits } from './label-allowance.js';
import {
  DEFAULT_DISCOVERY_LIMITS,
  discoverySchemas,
  type DirDeltaGet,
  type DirEvaluate,
  type DirHello,
  type DirLabelsGet,
  type DirAnnouncementGet,
  type DirLogGet,
  type DirQuota,
  type DirSnapshotGet,
  type DiscoveryLimits,
  type DiscoveryMessage,
} from './messages.js';
import { chargeHashesHex, hexOf, type QuotaConfig } from './quota.js';
import { QuotaLedger } from './quota-ledger.js';

/**
 * How often the server hands out a running quota receipt: after every 4 chunks, and only
 * once 1,024 items were answered since the last one, since each receipt sorts the whole
 * charged set (a client sending one-item chunks must not make it sort per chunk).
 */
const RECEIPT_EVERY_CHUNKS = 4;
const RECEIPT_MIN_ITEMS = 1024;

/**
 * Snapshot bytes one session may download, as a multiple of the snapshot's size: a client
 * downloads it once, and a retry of a part (a resumed download) fits in the second copy.
 * Pipelined `dir.snapshot.get` beyond it (an amplification: a 40-byte request for a 4 MiB
 * part) fails the session with `too_large`.
 */
export const DEFAULT_SNAPSHOT_DOWNLOAD_FACTOR = 2;
/** The per-session cap never goes below this, so a client of a tiny (or empty) directory can still ask twice. */
export const MIN_SNAPSHOT_DOWNLOAD_BYTES = 4096;

/** `reading`: a dir.delta.get or dir.labels.get is being answered from the store (deferred work). */
export type DiscoveryServerState = 'awaiting_hello' | 'serving' | 'reading' | 'done';

/** Called before each evaluation chunk; throw ProtocolError('rate_limited') to refuse. */
export type EvaluationGate = (count: number, now: number) => void;

/** An authenticated account and the quota configuration to charge it against. */
export interface AccountQuota {
  account: string;
  config: QuotaConfig;
}

export interface DiscoveryServerOptions {
  backend: DiscoveryBackend;
  rng: Rng;
  now: number;
  limits?: Partial<DiscoveryLimits>;
  idleTimeoutMs?: number;
  gate?: EvaluationGate;
  /** Quotas against enumeration; without it (no authenticated account) nothing is charged. */
  quota?: AccountQuota;
  /**
   * Evaluate chunks elsewhere (a worker pool). Without it a chunk is evaluated on this thread
   * in its deferred piece, once charged. Either way the driver must run `pollWork()` (the
   * WebSocket pump and runSessionPairAsync do).
   */
  offload?: OprfOffload;
  /**
   * Snapshot bytes one session may download, as a multiple of the snapshot size (default
   * 2, at least MIN_SNAPSHOT_DOWNLOAD_BYTES); past it the session fails with `too_large`.
   */
  snapshotDownloadFactor?: number;
  /**
   * The per-account download budget, shared by all sessions of the server (default: the
   * backend's `downloads`). Charged per snapshot part of an authenticated account (`quota`);
   * past it the session fails with `rate_limited` and the time until the bytes are there.
   */
  downloads?: DownloadBudget;
  /**
   * Announce `labelParts` in dir.info and take partial dir.labels.get (default false: a
   * server as before this option; a partial request is refused `unsupported`). Off by
   * default because a client built before it refuses a dir.info with the field (strict
   * decoders): turn it on once the clients are updated (spec/discovery.md §9, rollout).
   */
  partialLabels?: boolean;
}

export interface DiscoveryServerResult {
  evaluated: number;
  snapshotBytesSent: number;
  labelsRequested: number;
  /**
   * Sealed labels over `maxLabelBytes` (left by an older directory) sent as "no label"
   * instead: a client refuses them, and one must not fail a whole sync.
   */
  labelsDropped: number;
}

export class DiscoveryServerSession extends SessionCore<DiscoveryServerState, DiscoveryMessage, DiscoveryServerResult> {
  protected readonly role = 'server';
  protected state: DiscoveryServerState = 'awaiting_hello';
  protected readonly transitions = {
    awaiting_hello: { 'dir.hello': (m: DiscoveryMessage) => this.onHello(m as DirHello) },
    serving: {
      'dir.quota': (m: DiscoveryMessage) => this.onQuota(m as DirQuota),
      'dir.delta.get': (m: DiscoveryMessage) => this.onDeltaGet(m as DirDeltaGet),
      'dir.snapshot.get': (m: DiscoveryMessage, now: number) => this.onSnapshotGet(m as DirSnapshotGet, now),
      'dir.evaluate': (m: DiscoveryMessage, now: number) => this.onEvaluate(m as DirEvaluate, now),
      'dir.labels.get': (m: DiscoveryMessage) => this.onLabelsGet(m as DirLabelsGet),
      'dir.log.get': (m: DiscoveryMessage) => this.onLogGet(m as DirLogGet),
      'dir.announcement.get': (m: DiscoveryMessage) => this.onAnnouncementGet(m as DirAnnouncementGet),
    },
  };

  private readonly backend: DiscoveryBackend;
  private readonly rng: Rng;
  private readonly limits: DiscoveryLimits;
  private readonly gate: EvaluationGate | undefined;
  private readonly quota: AccountQuota | undefined;
  private readonly offload: OprfOffload | undefined;
  private readonly snapshotDownloadFactor: number;
  private readonly downloads: DownloadBudget | undefined;
  /** Snapshot bytes sent in this session, an empty part counted as 1 (it still costs a message). */
  private snapshotCost = 0;
  private ledger: QuotaLedger | undefined;
  private tokenAccepted: boolean | undefined;
  private announced: EpochView | undefined;
  private deltaServed = false;
  /** The delta sent in this session (available), for the label-key allowance without quotas. */
  private deltaSent: { added: Uint8Array; relabeled: Uint8Array } | undefined;
  /** Snapshot bytes sent from offset 0 without a gap: the whole snapshot once it reaches its size. */
  private downloadedUpTo = 0;
  private downloadedAll = false;
  private labelsAsked = false;
  private readonly partialLabels: boolean;
  /** Label keys asked for in this session, over every request: the allowance bounds their sum. */
  private labelKeysAsked = 0;
  /** Partial dir.labels.get accepted, and the keys they named (a repeat is refused). */
  private partialRequests = 0;
  private readonly partialKeys = new Set<string>();
  /** Label requests accepted, and answered: answers go out in request order, whatever order the lookups end in. */
  private labelRequests = 0;
  private labelAnswers = 0;
  private readonly labelsFound = new Map<number, () => void>();
  /** Charge hashes of every element evaluated in this session (duplicates are refused). */
  private readonly sessionElements = new Set<string>();
  private nextSeq = 0;
  /** Items accepted for evaluation (charged), answered or not: the per-session limit counts these. */
  private accepted = 0;
  /** Deferred evaluations that completed ahead of an earlier chunk, held until their turn. */
  private readonly completed = new Map<number, { count: number; evaluation: VerifiableEvaluation }>();
  private nextAnswer = 0;
  /** Items answered since the last running receipt. */
  private sinceReceipt = 0;
  /**
   * Settles when the previous chunk's charge did: each chunk's piece waits on it, so charges
   * reach the store one at a time in chunk order, whatever order the driver starts the pieces in.
   */
  private chargeTurn: Promise<void> = Promise.resolve();
  /** The first chunk whose charge failed (rate_limited, or the store failed), and why. */
  private refusal: unknown;
  private refusedSeq = 0;
  private stats: DiscoveryServerResult = { evaluated: 0, snapshotBytesSent: 0, labelsRequested: 0, labelsDropped: 0 };

  constructor(options: DiscoveryServerOptions) {
    const limits = { ...DEFAULT_DISCOVERY_LIMITS, ...options.limits };
    super(limits.maxMessageBytes, discoverySchemas(limits), options.idleTimeoutMs ?? 30_000);
    this.backend = options.backend;
    this.rng = options.rng;
    this.limits = limits;
    this.gate = options.gate;
    this.quota = options.quota;
    this.offload = options.offload;
    const factor = options.snapshotDownloadFactor ?? DEFAULT_SNAPSHOT_DOWNLOAD_FACTOR;
    if (!(Number.isFinite(factor) && factor >= 1)) throw new ContactPsiError('invalid_option', 'snapshotDownloadFactor must be a number >= 1');
    this.snapshotDownloadFactor = factor;
    this.downloads = options.downloads ?? options.backend.downloads;
    this.partialLabels = options.partialLabels ?? false;
    this.touch(options.now);
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  /**
   * Once dir.labels.get is accepted the session is over for the peer: what it sends while
   * the labels are read is ignored, as it was when the labels were answered inside handle()
   * and the session was `done` at once (a second dir.labels.get gets no answer, no error).
   */
  override handle(bytes: Uint8Array, now: number): void {
    if (this.labelsAsked) return;
    super.handle(bytes, now);
  }

  /**
   * The view of an epoch for this session: the one announced in dir.info while that epoch
   * is still served (so a refresh or a rotation during the session does not change the
   * snapshot under the client), else whatever the backend serves for it.
   */
  private epochView(epoch: number): EpochView {
    const view = this.backend.epoch(epoch);
    // The client re-fetches info and starts over; `unsupported` tells it the epoch is gone.
    if (!view) throw new ProtocolError('unsupported', `epoch ${epoch} is no longer served`);
    return this.announced?.epoch === epoch ? this.announced : view;
  }

  private onHello(hello: DirHello): void {
    const view = this.backend.current();
    this.announced = view;
    if (hello.suite !== view.suite.id) throw new ProtocolError('unsupported', `this directory uses ${view.suite.id}`);
    if (this.quota) this.ledger = new QuotaLedger(this.quota.config, this.quota.account, hello.purpose ?? 'sync', view.epoch, this.rng);
    const { snapshot } = view;
    this.send({
      t: 'dir.info',
      suite: view.suite.id,
      epoch: view.epoch,
      version: snapshot.version,
      publicKey: view.keys.publicKey,
      digest: snapshot.digest,
      encoding: snapshot.encoding,
      count: snapshot.count,
      size: snapshot.bytes.length,
      chunk: this.limits.maxChunkItems,
      // The signed view (spec/verifiability.md §9): verifying clients refuse a dir.info without it.
      ...(view.signed ? { identity: view.signed.identity, keyStatement: view.signed.keyStatement, announcement: view.signed.announcement } : {}),
      ...(this.partialLabels ? { labelParts: true } : {}),
    });
    this.state = 'serving';
  }

  private onQuota(msg: DirQuota): void {
    if (this.tokenAccepted !== undefined || this.nextSeq > 0 || this.labelsAsked || this.partialRequests > 0) throw new ProtocolError('unexpected_message', 'dir.quota comes once, before any dir.evaluate');
    // Without quotas the token is meaningless; a bad token only means "charge everything".
    // A receipt of the earlier format (no epoch, generation, evaluated bits) is never accepted.
    const { token, set, chain, epoch, generation, evaluated } = msg;
    const complete = chain !== undefined && epoch !== undefined && generation !== undefined && evaluated !== undefined;
    this.tokenAccepted = this.ledger && complete ? this.ledger.presentToken({ token, set, chain, epoch, generation, evaluated }) : false;
  }

  private onDeltaGet(msg: DirDeltaGet): void {
    // One delta per session: each costs a scan of the tag log, and a client needs one.
    if (this.deltaServed) throw new ProtocolError('unexpected_message', 'dir.delta.get comes at most once per session');
    this.deltaServed = true;
    const view = this.epochView(msg.epoch);
    const backend = this.backend;
    if (msg.fromVersion > view.snapshot.version || !backend.delta) return this.sendDelta(msg, view, undefined);
    // The tag log is in the store: read it as deferred work, and take nothing else meanwhile.
    this.state = 'reading';
    this.defer(
      () => backend.delta!(msg.epoch, msg.fromVersion),
      (delta) => {
        this.state = 'serving';
        this.sendDelta(msg, view, delta);
      },
    );
  }

  private sendDelta(msg: DirDeltaGet, view: EpochView, delta: TagDelta | undefined): void {
    // A delta larger than the snapshot is worse than a fresh download.
    const deltaBytes = delta ? delta.added.length + delta.removed.length : 0;
    // Not worth it when no smaller than the snapshot, impossible when over the message limit.
    const relabeled = delta?.relabeled ?? new Uint8Array(0);
    const available =
      delta !== undefined &&
      delta.toVersion === view.snapshot.version &&
      deltaBytes < view.snapshot.bytes.length &&
      deltaBytes + relabeled.length + 4096 <= this.limits.maxMessageBytes;
    const empty = new Uint8Array(0);
    if (available) this.deltaSent = { added: delta.added, relabeled };
    this.send({
      t: 'dir.delta',
      epoch: msg.epoch,
      fromVersion: msg.fromVersion,
      toVersion: view.snapshot.version,
      available,
      added: available ? delta.added : empty,
      removed: available ? delta.removed : empty,
      // Label-change markers (issue 10 §4): 8-byte prefixes, no more than the tag prefixes reveal.
      relabeled: available ? relabeled : empty,
    });
  }

  private onSnapshotGet(get: DirSnapshotGet, now: number): void {
    const { snapshot } = this.epochView(get.epoch);
    if (snapshot.version !== get.version) throw new ProtocolError('unsupported', `snapshot version ${get.version} is no longer served`);
    if (get.offset > snapshot.bytes.length) throw new ProtocolError('bad_field', 'offset past the end of the snapshot');
    const data = snapshot.bytes.subarray(get.offset, get.offset + get.length);
    // Both limits are checked before anything is sent: a refused part costs the server nothing.
    const cost = Math.max(1, data.length);
    const cap = Math.max(MIN_SNAPSHOT_DOWNLOAD_BYTES, Math.ceil(this.snapshotDownloadFactor * snapshot.bytes.length));
    if (this.snapshotCost + cost > cap) {
      throw new ProtocolError('too_large', `more than ${cap} snapshot bytes in one session (${this.snapshotDownloadFactor}x the ${snapshot.bytes.length}-byte snapshot)`);
    }
    if (this.downloads && this.quota) this.downloads.charge(this.quota.account, data.length, now);
    this.snapshotCost += cost;
    this.stats.snapshotBytesSent += data.length;
    // The whole snapshot of the announced view, in parts from 0 on (what a download is): it opens the wide label allowance.
    if (get.offset <= this.downloadedUpTo) this.downloadedUpTo = Math.max(this.downloadedUpTo, get.offset + data.length);
    if (this.downloadedUpTo >= snapshot.bytes.length && snapshot === this.announced?.snapshot) this.downloadedAll = true;
    this.send({ t: 'dir.snapshot.part', offset: get.offset, data });
  }

  private onEvaluate(msg: DirEvaluate, now: number): void {
    // Refused already: the session fails once the earlier chunks are answered; later chunks are dropped unseen.
    if (this.refusal !== undefined) return;
    const view = this.epochView(msg.epoch);
    const size = view.suite.group.elementSize;
    if (msg.seq !== this.nextSeq) throw new ProtocolError('unexpected_message', `server expected chunk ${this.nextSeq}, got ${msg.seq}`);
    if (msg.blinded.length % size !== 0 || msg.blinded.length === 0) throw new ProtocolError('bad_field', `blinded must hold 1..${this.limits.maxChunkItems} elements`);
    const count = msg.blinded.length / size;
    if (count > this.limits.maxChunkItems) throw new ProtocolError('too_large', `chunk of ${count} exceeds ${this.limits.maxChunkItems}`);
    if (this.accepted + count > this.limits.maxQueryItems) throw new ProtocolError('too_large', `more than ${this.limits.maxQueryItems} items in one session`);
    view.suite.group.validatePacked(msg.blinded);
    // An honest client sends each contact once; a repeated element would be free work
    // (charged once, then "seen") and would inflate the label-key allowance. The hashes
    // go on to the ledger, which charges by them (computed once per element).
    const hashes = chargeHashesHex(msg.blinded, size);
    for (const h of hashes) {
      if (this.sessionElements.has(h)) throw new ProtocolError('bad_field', 'a blinded element repeats within the session');
      this.sessionElements.add(h);
    }
    const seq = this.nextSeq++;
    this.accepted += count;
    // A device's first sync (no receipt): its new chain is announced before anything is charged.
    if (seq === 0) this.sendIssued(this.ledger?.openChain());
    const { suite, keys } = view;
    const blinded = msg.blinded.slice(); // ours, whatever the transport does with its buffer
    const turn = this.chargeTurn;
    let release!: () => void;
    this.chargeTurn = new Promise<void>((resolve) => (release = resolve));
    // One piece per chunk (so the driver's bound on pieces in flight bounds the chunks held):
    // wait for the previous chunk's charge, charge, let the next chunk charge, evaluate.
    this.defer(
      async (): Promise<VerifiableEvaluation | undefined> => {
        try {
          await turn;
          if (!(await this.charge(seq, count, blinded, size, now, hashes))) return undefined;
        } finally {
          release();
        }
        if (this.offload) return this.offload.blindEvaluateVerifiable(suite, keys.secretKey, blinded, this.rng);
        return suite.blindEvaluateVerifiable(keys.secretKey, blinded, this.rng);
      },
      (evaluation) => (evaluation ? this.answer(seq, count, evaluation) : this.settleRefusal()),
      release,
    );
  }

  /**
   * Charges one chunk (its turn has come: every earlier chunk's charge settled). False when
   * it must not be evaluated: an earlier chunk was refused, the session ended, or this
   * charge failed (recorded as the refusal; the session fails once earlier chunks are answered).
   */
  private async charge(seq: number, count: number, blinded: Uint8Array, size: number, now: number, hashes: readonly string[]): Promise<boolean> {
    if (this.ended || this.refusal !== undefined) return false;
    try {
      this.gate?.(count, now);
      await this.ledger?.charge(blinded, size, now, hashes);
      // The session's first charge settled the receipt chain (the presented one, its
      // generation bumped, or a new one): the client hears of it before any answer, so a
      // sync cut off from here on presents this chain at its retry, whose charges the next
      // session credits (spec/sync-failover.md §4). Nothing is answered yet: it covers the
      // presented receipt's set only.
      if (seq === 0 && !this.ended) this.sendReceipt();
      return true;
    } catch (err) {
      this.refusal = err;
      this.refusedSeq = seq;
      return false;
    }
  }

  /** Sends evaluations in chunk order (deferred ones may complete out of order). */
  private answer(seq: number, count: number, evaluation: VerifiableEvaluation): void {
    this.completed.set(seq, { count, evaluation });
    for (let next = this.completed.get(this.nextAnswer); next; next = this.completed.get(this.nextAnswer)) {
      this.completed.delete(this.nextAnswer);
      const { evaluated, proof } = next.evaluation;
      this.send({ t: 'dir.evaluated', seq: this.nextAnswer, evaluated, proof });
      this.nextAnswer++;
      this.stats.evaluated += next.count;
      this.sinceReceipt += next.count;
      // A running receipt every few chunks, so a sync cut off by a dropped connection keeps a
      // receipt for most of what it was answered (the token costs a sort of the charged set).
      if (this.ledger && this.nextAnswer % RECEIPT_EVERY_CHUNKS === 0 && this.sinceReceipt >= RECEIPT_MIN_ITEMS) {
        this.sinceReceipt = 0;
        this.sendReceipt();
      }
      this.emit({ type: 'progress', phase: 'evaluate', done: this.stats.evaluated, total: this.limits.maxQueryItems });
    }
    this.settleRefusal();
  }

  /**
   * Fails the session for a refused chunk once every chunk before it is answered. Those were
   * charged: their receipt goes out first, or the client would be charged for them again at
   * its next sync. Chunks after the refused one were never charged nor answered.
   */
  private settleRefusal(): void {
    if (this.refusal === undefined || this.nextAnswer !== this.refusedSeq) return;
    // Once the session's first charge bumped the receipt generation, the client's old receipt
    // is stale: it gets the new one even when the very first chunk was refused.
    if (this.refusedSeq > 0 || this.ledger?.tokenAccepted !== undefined) this.sendReceipt();
    throw this.refusal;
  }

  /** A receipt over the chunks answered so far: the set the client can compute. */
  private sendReceipt(): void {
    this.sendIssued(this.ledger?.issueToken(this.nextAnswer));
  }

  private sendIssued(issued: { token: Uint8Array; generation: number; chain: Uint8Array } | undefined): void {
    if (issued) this.send({ t: 'dir.receipt', quotaToken: issued.token, tokenAccepted: this.ledger?.tokenAccepted ?? false, quotaGeneration: issued.generation, quotaChain: issued.chain });
  }

  /** A range of the announcement log (auditors, witnesses): read as deferred work, one request at a time. */
  private onLogGet(msg: DirLogGet): void {
    const backend = this.backend;
    this.state = 'reading';
    this.defer(
      () => (backend.log ? backend.log(msg.from, msg.limit) : Promise.resolve({ entries: [], total: 0 })),
      (range) => {
        if (range.entries.length > msg.limit) throw new ProtocolError('internal', 'the directory answered more log entries than asked');
        this.state = 'serving';
        this.send({ t: 'dir.log', entries: [...range.entries], total: range.total });
      },
    );
  }

  /** The witness query: the newest signed announcement and the one for (epoch, version), if held. */
  private onAnnouncementGet(msg: DirAnnouncementGet): void {
    const backend = this.backend;
    this.state = 'reading';
    this.defer(
      () => (backend.announcements ? backend.announcements(msg.epoch, msg.version) : Promise.resolve([])),
      (announcements) => {
        this.state = 'serving';
        this.send({ t: 'dir.announcement', announcements: announcements.slice(0, 2) });
      },
    );
  }

  private onLabelsGet(msg: DirLabelsGet): void {
    if (msg.partial === true) return this.onPartialLabelsGet(msg);
    this.epochView(msg.epoch);
    // A client matches against evaluations it received; asking before they were all sent is out of order.
    if (this.nextAnswer < this.nextSeq) throw new ProtocolError('unexpected_message', 'dir.labels.get before every dir.evaluated was answered');
    const keys = this.labelKeys(msg);
    this.takeAllowance(keys.length);
    // The labels are in the store: look them up as deferred work; nothing more is taken.
    this.state = 'reading';
    this.labelsAsked = true;
    this.lookUpLabels(msg.epoch, keys, (found) => this.sendLabels(keys.length, found, true));
  }

  /**
   * A partial request: the labels of hits of chunks answered so far, while later chunks are
   * still evaluated. Every bound is checked before anything is looked up: a refused request
   * costs the server no transaction.
   */
  private onPartialLabelsGet(msg: DirLabelsGet): void {
    if (!this.partialLabels) throw new ProtocolError('unsupported', 'this server takes no partial dir.labels.get (its dir.info has no labelParts)');
    this.epochView(msg.epoch);
    // Each request is a store transaction: at most one per chunk answered, plus one.
    if (!partialRequestFits(this.partialRequests, this.nextAnswer)) {
      throw new ProtocolError('unexpected_message', `partial dir.labels.get number ${this.partialRequests + 1} after ${this.nextAnswer} chunks answered`);
    }
    const keys = this.labelKeys(msg);
    if (keys.length === 0) throw new ProtocolError('bad_field', 'an empty partial dir.labels.get');
    // One pass with a set (a request may hold up to maxQueryItems keys: no quadratic scan).
    const named = new Set<string>();
    for (const key of keys) {
      const k = hexOf(key);
      if (this.partialKeys.has(k) || named.has(k)) throw new ProtocolError('bad_field', 'a label key repeats across partial dir.labels.get');
      named.add(k);
    }
    this.takeAllowance(keys.length);
    for (const k of named) this.partialKeys.add(k);
    this.partialRequests++;
    this.lookUpLabels(msg.epoch, keys, (found) => this.sendLabels(keys.length, found, false));
  }

  /** The request's wire keys, once its format is one this server serves. */
  private labelKeys(msg: DirLabelsGet): Uint8Array[] {
    // A client of label format 1 (16-byte keys, XChaCha20-Poly1305 seals) could not open
    // format 2: it is told so, and no key of its request is looked up.
    if (msg.format !== LABEL_FORMAT) throw new ProtocolError('unsupported', `label format ${msg.format ?? 1} is not served (this directory seals labels in format ${LABEL_FORMAT}): update the client`);
    return splitWireKeys(msg.keys.slice()); // ours, whatever the transport does with its buffer
  }

  /**
   * Takes `count` keys of the session's label allowance, over every label request so far.
   * A client can only have matched what it evaluated in this session or paid for before
   * (its receipt's set: an incremental sync refetches changed labels of earlier matches
   * without evaluating them again). Without quotas: the tags the delta of this session
   * names, or every match after a whole download in this session (known-outputs.ts).
   * Checked against what is answered when the request arrives (a partial request comes
   * before later chunks are answered: it may name only hits of the earlier ones).
   */
  private takeAllowance(count: number): void {
    const allowance = this.stats.evaluated + (this.ledger ? this.ledger.presentedSize : unpaidLabelAllowance(this.downloadedAll, this.deltaSent, this.limits.maxQueryItems));
    if (!labelKeysFit(this.labelKeysAsked, count, allowance)) {
      throw new ProtocolError('too_large', 'more label keys than identifiers evaluated or paid for');
    }
    this.labelKeysAsked += count;
  }

  /** Looks labels up as deferred work; the answers go out in request order (the final one last). */
  private lookUpLabels(epoch: number, keys: Uint8Array[], answer: (found: readonly (Uint8Array | readonly Uint8Array[] | undefined)[]) => void): void {
    const turn = this.labelRequests++;
    this.defer(
      () => this.backend.sealedLabels(epoch, keys),
      (found) => {
        this.labelsFound.set(turn, () => answer(found));
        for (let next = this.labelsFound.get(this.labelAnswers); next; next = this.labelsFound.get(this.labelAnswers)) {
          this.labelsFound.delete(this.labelAnswers++);
          next();
        }
      },
    );
  }

  private sendLabels(requested: number, found: readonly (Uint8Array | readonly Uint8Array[] | undefined)[], final: boolean): void {
    if (found.length !== requested) throw new ProtocolError('internal', 'the directory answered a different number of labels');
    // Seals over maxLabelBytes (left by an older directory) go out as "no label": a client refuses them.
    const { labels, more, dropped } = packLabelAnswers(
      found.map((s) => (s === undefined ? [] : s instanceof Uint8Array ? [s] : s)),
      this.limits.maxLabelBytes,
    );
    this.stats.labelsDropped += dropped;
    this.stats.labelsRequested += requested;
    // A partial answer carries no receipt (later chunks are still charged); the final one does, as before.
    if (!final) return this.send({ t: 'dir.labels', format: LABEL_FORMAT, labels, more });
    // No receipt when nothing was charged in this session: the client's receipt stays valid.
    const issued = this.ledger?.issueToken();
    this.send({
      t: 'dir.labels',
      format: LABEL_FORMAT,
      labels,
      more,
      quotaToken: issued?.token,
      tokenAccepted: issued ? (this.ledger!.tokenAccepted ?? false) : undefined,
      quotaGeneration: issued?.generation,
      quotaChain: issued?.chain,
    });
    this.state = 'done';
    this.emit({ type: 'result', result: { ...this.stats } });
  }
}
