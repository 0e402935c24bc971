/**
 * Directory discovery, client role (spec/discovery.md §3):
 *   idle --start()/send dir.hello--> awaiting_info
 *   awaiting_info --dir.info, cache valid/send dir.evaluate chunks--> awaiting_evaluations
 *   awaiting_info --dir.info, no cache/send dir.snapshot.get--> downloading
 *   downloading --dir.snapshot.part (more)/send dir.snapshot.get--> downloading
 *   downloading --dir.snapshot.part (last, digest ok)/send dir.evaluate chunks--> awaiting_evaluations
 *   awaiting_evaluations --dir.evaluated (proof ok; last)/send dir.labels.get--> awaiting_labels
 *   awaiting_labels --dir.labels/emit result--> done
 * The snapshot is verified against the digest in dir.info, every evaluation chunk against
 * the epoch's public key (pinned, if the app pinned one), and labels open only under the
 * OPRF output, so a false positive of the filter is dropped when its label is missing.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { Rng } from '../../group/types.js';
import { Modes, type BlindState, type OprfSuite } from '../../oprf/suite.js';
import { parseEncoding, type SetEncoding } from '../../setenc/index.js';
import { ProtocolError } from '../errors.js';
import { SessionCore } from '../session-core.js';
import { lookupKeyOf, openLabel, LOOKUP_KEY_BYTES } from './labels.js';
import {
  DEFAULT_DISCOVERY_LIMITS,
  discoverySchemas,
  type DirEvaluated,
  type DirInfo,
  type DirLabels,
  type DirSnapshotPart,
  type DiscoveryLimits,
  type DiscoveryMessage,
} from './messages.js';

export type DiscoveryClientState = 'idle' | 'awaiting_info' | 'downloading' | 'awaiting_evaluations' | 'awaiting_labels' | 'done';

/** A snapshot the client keeps between syncs (the caller stores it; this layer does no I/O). */
export interface CachedSnapshot {
  epoch: number;
  version: number;
  digest: Uint8Array;
  publicKey: Uint8Array;
  bytes: Uint8Array;
}

export interface DiscoveryClientOptions {
  suite: OprfSuite;
  /** Identifier strings (`tel:+41…`, `mailto:…`), already normalized. */
  identifiers: readonly string[];
  rng: Rng;
  cache?: CachedSnapshot;
  /** If set, the directory must present exactly this public key (key pinning). */
  pinnedPublicKey?: Uint8Array;
  partBytes?: number;
  limits?: Partial<DiscoveryLimits>;
  idleTimeoutMs?: number;
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
}

const utf8 = new TextEncoder();

export class DiscoveryClientSession extends SessionCore<DiscoveryClientState, DiscoveryMessage, DiscoveryResult> {
  protected readonly role = 'client';
  protected state: DiscoveryClientState = 'idle';
  protected readonly transitions = {
    awaiting_info: { 'dir.info': (m: DiscoveryMessage) => this.onInfo(m as DirInfo) },
    downloading: { 'dir.snapshot.part': (m: DiscoveryMessage) => this.onPart(m as DirSnapshotPart) },
    awaiting_evaluations: { 'dir.evaluated': (m: DiscoveryMessage) => this.onEvaluated(m as DirEvaluated) },
    awaiting_labels: { 'dir.labels': (m: DiscoveryMessage) => this.onLabels(m as DirLabels) },
  };

  private readonly options: DiscoveryClientOptions;
  private readonly limits: DiscoveryLimits;
  private readonly identifiers: string[];
  private info: DirInfo | undefined;
  private download: Uint8Array | undefined;
  private downloaded = 0;
  private encoding: SetEncoding | undefined;
  private snapshot: CachedSnapshot | undefined;
  private blindState: BlindState | undefined;
  private cacheHit = false;
  private chunk = 0;
  private nextSeq = 0;
  private evaluatedCount = 0;
  private readonly outputs: Uint8Array[] = [];
  private matched: number[] = [];

  constructor(options: DiscoveryClientOptions) {
    const limits = { ...DEFAULT_DISCOVERY_LIMITS, ...options.limits };
    super(limits.maxMessageBytes, discoverySchemas(limits), options.idleTimeoutMs ?? 60_000);
    if (options.suite.mode !== Modes.VOPRF) throw new ProtocolError('unsupported', 'directory discovery is always verifiable (VOPRF)');
    this.options = options;
    this.limits = limits;
    this.identifiers = [...new Set(options.identifiers)];
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
    this.send({ t: 'dir.hello', suite: this.options.suite.id });
    this.state = 'awaiting_info';
  }

  private onInfo(info: DirInfo): void {
    const { suite, pinnedPublicKey, cache } = this.options;
    if (info.suite !== suite.id) throw new ProtocolError('unsupported', `directory uses ${info.suite}`);
    suite.group.validateElement(info.publicKey);
    if (pinnedPublicKey && !equalBytes(pinnedPublicKey, info.publicKey)) {
      throw new ProtocolError('proof_invalid', 'the directory presented a public key other than the pinned one');
    }
    this.info = info;
    if (cache && cache.epoch === info.epoch && cache.version === info.version && equalBytes(cache.digest, info.digest)) {
      if (!equalBytes(cache.publicKey, info.publicKey)) throw new ProtocolError('proof_invalid', 'public key changed within an epoch');
      this.useSnapshot(cache.bytes, true);
      return;
    }
    this.download = new Uint8Array(info.size);
    this.state = 'downloading';
    this.requestPart();
  }

  private requestPart(): void {
    const info = this.info!;
    const length = Math.min(this.options.partBytes ?? 1 << 20, this.limits.maxPartBytes, info.size - this.downloaded);
    this.send({ t: 'dir.snapshot.get', epoch: info.epoch, version: info.version, offset: this.downloaded, length: Math.max(1, length) });
  }

  private onPart(part: DirSnapshotPart): void {
    const info = this.info!;
    if (part.offset !== this.downloaded) throw new ProtocolError('unexpected_message', `expected part at ${this.downloaded}, got ${part.offset}`);
    if (part.data.length === 0 && info.size > this.downloaded) throw new ProtocolError('bad_field', 'empty snapshot part');
    if (this.downloaded + part.data.length > info.size) throw new ProtocolError('too_large', 'snapshot longer than announced');
    this.download!.set(part.data, this.downloaded);
    this.downloaded += part.data.length;
    this.emit({ type: 'progress', phase: 'download', done: this.downloaded, total: info.size });
    if (this.downloaded < info.size) return this.requestPart();
    // Every client of this (epoch, version) must see the same bytes: the digest in dir.info
    // is what clients compare (and what a witness can publish).
    if (!equalBytes(sha256(this.download!), info.digest)) throw new ProtocolError('bad_encoding', 'snapshot digest mismatch');
    this.useSnapshot(this.download!, false);
  }

  private useSnapshot(bytes: Uint8Array, fromCache: boolean): void {
    const info = this.info!;
    const encoding = parseEncoding(bytes, { maxBytes: this.limits.maxSnapshotBytes, maxCount: this.limits.maxDirectoryEntries });
    if (encoding.kind !== info.encoding || encoding.count !== info.count) throw new ProtocolError('bad_encoding', 'snapshot does not match dir.info');
    this.encoding = encoding;
    this.snapshot = { epoch: info.epoch, version: info.version, digest: info.digest, publicKey: info.publicKey, bytes };
    this.cacheHit = fromCache;
    if (this.identifiers.length === 0) return this.requestLabels();
    const { suite, rng } = this.options;
    this.blindState = suite.blind(this.identifiers.map((s) => utf8.encode(s)), rng);
    this.chunk = Math.min(info.chunk, this.limits.maxChunkItems);
    const size = suite.group.elementSize;
    const { blinded } = this.blindState;
    for (let seq = 0, start = 0; start < blinded.length; seq++, start += this.chunk * size) {
      this.send({ t: 'dir.evaluate', epoch: info.epoch, seq, blinded: blinded.subarray(start, start + this.chunk * size) });
    }
    this.state = 'awaiting_evaluations';
  }

  private onEvaluated(msg: DirEvaluated): void {
    const { suite } = this.options;
    const size = suite.group.elementSize;
    const seq = this.nextSeq++;
    if (msg.seq !== seq) throw new ProtocolError('unexpected_message', `expected evaluation ${seq}, got ${msg.seq}`);
    const start = this.evaluatedCount;
    const count = Math.min(this.chunk, this.identifiers.length - start);
    if (msg.evaluated.length !== count * size) throw new ProtocolError('bad_field', `evaluation ${seq} must hold ${count} elements`);
    const state = this.blindState!;
    const part: BlindState = {
      inputs: state.inputs.slice(start, start + count),
      blinds: state.blinds.slice(start, start + count),
      blinded: state.blinded.subarray(start * size, (start + count) * size),
    };
    // Throws proof_invalid if this chunk was not evaluated under the epoch's public key.
    this.outputs.push(...suite.finalize(part, msg.evaluated, { proof: msg.proof, publicKey: this.info!.publicKey }));
    this.evaluatedCount += count;
    this.emit({ type: 'progress', phase: 'evaluate', done: this.evaluatedCount, total: this.identifiers.length });
    if (this.evaluatedCount === this.identifiers.length) this.requestLabels();
  }

  private requestLabels(): void {
    this.matched = [];
    this.outputs.forEach((tag, i) => {
      if (this.encoding!.contains(tag)) this.matched.push(i);
    });
    const keys = new Uint8Array(this.matched.length * LOOKUP_KEY_BYTES);
    this.matched.forEach((i, j) => keys.set(lookupKeyOf(this.outputs[i]), j * LOOKUP_KEY_BYTES));
    this.send({ t: 'dir.labels.get', epoch: this.info!.epoch, keys });
    this.state = 'awaiting_labels';
  }

  private onLabels(msg: DirLabels): void {
    if (msg.sealed.length !== this.matched.length) throw new ProtocolError('bad_field', `expected ${this.matched.length} labels, got ${msg.sealed.length}`);
    const matches: DiscoveryMatch[] = [];
    let falsePositives = 0;
    msg.sealed.forEach((sealed, j) => {
      const i = this.matched[j];
      if (sealed.length === 0) return void falsePositives++;
      const { userId, label } = openLabel(this.outputs[i], sealed);
      matches.push({ identifier: this.identifiers[i], userId, label });
    });
    this.state = 'done';
    this.emit({
      type: 'result',
      result: { matches, snapshot: this.snapshot!, cacheHit: this.cacheHit, downloadedBytes: this.downloaded, falsePositives },
    });
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
