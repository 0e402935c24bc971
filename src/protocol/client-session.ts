/**
 * Session PSI, client role. States:
 *   idle --start()/send psi.hello--> awaiting_setup
 *   awaiting_setup --psi.setup/send all psi.query chunks--> awaiting_evaluations
 *   awaiting_evaluations --psi.evaluation (not last)--> awaiting_evaluations
 *   awaiting_evaluations --psi.evaluation (last)/emit result--> done
 */
import type { Rng } from '../group/types.js';
import { Modes, randomScalar, type BlindState, type OprfSuite } from '../oprf/suite.js';
import { parseEncoding, type EncodingKind, type SetEncoding } from '../setenc/index.js';
import { ProtocolError } from './errors.js';
import { resolveLimits, type SessionLimits } from './limits.js';
import { psiSchemas, type EvaluationMessage, type PsiMessage, type PsiMode, type SetupMessage } from './messages.js';
import { makeDummies, sizeClass } from './padding.js';
import { bytesKey } from './server-set.js';
import { SessionCore } from './session-core.js';
import { elementTags } from './tags.js';

export type ClientState = 'idle' | 'awaiting_setup' | 'awaiting_evaluations' | 'done';

export interface ClientSessionOptions {
  suite: OprfSuite;
  items: readonly Uint8Array[];
  mode?: PsiMode;
  encoding?: EncodingKind;
  /** Probability that the whole result holds any false positive (not per item). */
  falsePositiveRate?: number;
  /** Pad with dummies up to the next size class so the server does not learn the exact size. */
  padToSizeClass?: boolean;
  chunkSize?: number;
  rng: Rng;
  limits?: Partial<SessionLimits>;
  idleTimeoutMs?: number;
}

export type ClientResult =
  | { mode: 'intersection'; matches: number[]; serverCount: number }
  | { mode: 'cardinality'; count: number; serverCount: number };

export class ClientSession extends SessionCore<ClientState, PsiMessage, ClientResult> {
  protected readonly role = 'client';
  protected state: ClientState = 'idle';
  protected readonly transitions = {
    awaiting_setup: { 'psi.setup': (m: PsiMessage) => this.onSetup(m as SetupMessage) },
    awaiting_evaluations: { 'psi.evaluation': (m: PsiMessage) => this.onEvaluation(m as EvaluationMessage) },
  };

  private readonly suite: OprfSuite;
  private readonly mode: PsiMode;
  private readonly encodingKind: EncodingKind;
  private readonly fpr: number;
  private readonly chunk: number;
  private readonly rng: Rng;
  private readonly limits: SessionLimits;
  /** Distinct inputs (real ones first, then dummies) and, per distinct input, the original indices. */
  private readonly inputs: Uint8Array[];
  private readonly originals: number[][];
  private blindState: BlindState | undefined;
  private setup: { encoding: SetEncoding; serverCount: number; publicKey?: Uint8Array } | undefined;
  private readonly evaluated: Uint8Array[] = [];
  /** VOPRF outputs, finalized chunk by chunk as each proof verifies. */
  private readonly verifiedOutputs: Uint8Array[] = [];
  private received = 0;

  constructor(options: ClientSessionOptions) {
    const limits = resolveLimits(options.limits);
    super(limits.maxMessageBytes, psiSchemas(limits), options.idleTimeoutMs ?? 60_000);
    this.limits = limits;
    this.suite = options.suite;
    this.mode = options.mode ?? 'intersection';
    this.encodingKind = options.encoding ?? 'raw';
    this.fpr = options.falsePositiveRate ?? 1e-9;
    this.chunk = Math.min(options.chunkSize ?? 4096, limits.maxChunkItems);
    this.rng = options.rng;
    if (this.mode === 'cardinality' && this.suite.mode === Modes.VOPRF) {
      throw new ProtocolError('unsupported', 'cardinality mode is not verifiable');
    }

    // Duplicates are sent once: the server must not see equal blinded inputs repeat in
    // cardinality mode, and it saves work in both.
    const index = new Map<string, number>();
    this.inputs = [];
    this.originals = [];
    options.items.forEach((item, i) => {
      const key = bytesKey(item);
      let slot = index.get(key);
      if (slot === undefined) {
        slot = this.inputs.length;
        index.set(key, slot);
        this.inputs.push(item);
        this.originals.push([]);
      }
      this.originals[slot].push(i);
    });
    const realCount = this.inputs.length;
    if (options.padToSizeClass) this.inputs.push(...makeDummies(sizeClass(realCount) - realCount, this.rng));
    if (this.inputs.length > limits.maxClientItems) {
      throw new ProtocolError('too_large', `${this.inputs.length} items exceed the limit ${limits.maxClientItems}`);
    }
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  /** Number of items the server will see (after dedup and padding). */
  get queriedCount(): number {
    return this.inputs.length;
  }

  start(now: number): void {
    if (this.state !== 'idle') throw new ProtocolError('unexpected_message', `client in state ${this.currentState} cannot start`);
    this.state = 'awaiting_setup';
    this.touch(now);
    this.send({
      t: 'psi.hello',
      suite: this.suite.id,
      mode: this.mode,
      verifiable: this.suite.mode === Modes.VOPRF,
      encoding: this.encodingKind,
      fpr: this.fpr,
      total: this.inputs.length,
      chunk: this.chunk,
    });
  }

  private onSetup(setup: SetupMessage): void {
    if ((this.suite.mode === Modes.VOPRF) !== (setup.publicKey !== undefined)) {
      throw new ProtocolError('bad_field', 'publicKey must be present exactly in verifiable mode');
    }
    if (setup.publicKey) this.suite.group.validateElement(setup.publicKey);
    const encoding = parseEncoding(setup.encoding, { maxBytes: this.limits.maxEncodingBytes, maxCount: this.limits.maxServerItems });
    if (encoding.kind !== this.encodingKind) throw new ProtocolError('bad_encoding', `asked for ${this.encodingKind}, got ${encoding.kind}`);
    if (encoding.count !== setup.serverCount) throw new ProtocolError('bad_encoding', 'encoding count differs from serverCount');
    this.setup = { encoding, serverCount: setup.serverCount, publicKey: setup.publicKey };

    if (this.inputs.length === 0) {
      const serverCount = setup.serverCount;
      return this.finish(this.mode === 'cardinality' ? { mode: 'cardinality', count: 0, serverCount } : { mode: 'intersection', matches: [], serverCount });
    }
    this.blindState =
      this.mode === 'cardinality'
        ? // One blind for all items: the server returns evaluations shuffled, and the client
          // must be able to unblind each without knowing which input it belongs to.
          this.suite.blindWith(this.inputs, new Array(this.inputs.length).fill(randomScalar(this.suite.group, this.rng)))
        : this.suite.blind(this.inputs, this.rng);
    const size = this.suite.group.elementSize;
    const { blinded } = this.blindState;
    for (let seq = 0, start = 0; start < blinded.length; seq++, start += this.chunk * size) {
      this.send({ t: 'psi.query', seq, blinded: blinded.subarray(start, start + this.chunk * size) });
    }
    this.state = 'awaiting_evaluations';
  }

  private onEvaluation(msg: EvaluationMessage): void {
    const size = this.suite.group.elementSize;
    const seq = this.evaluated.length;
    if (msg.seq !== seq) throw new ProtocolError('unexpected_message', `client expected evaluation ${seq}, got ${msg.seq}`);
    const expected = Math.min(this.chunk, this.inputs.length - this.received);
    if (msg.evaluated.length !== expected * size) throw new ProtocolError('bad_field', `evaluation ${seq} must hold ${expected} elements`);
    if (this.suite.mode === Modes.VOPRF) {
      // Verify each chunk's proof as it arrives: a cheating server is caught at once.
      const start = this.received;
      const part: BlindState = {
        inputs: this.blindState!.inputs.slice(start, start + expected),
        blinds: this.blindState!.blinds.slice(start, start + expected),
        blinded: this.blindState!.blinded.subarray(start * size, (start + expected) * size),
      };
      if (!msg.proof) throw new ProtocolError('proof_invalid', 'evaluation without a proof in verifiable mode');
      this.verifiedOutputs.push(...this.suite.finalize(part, msg.evaluated, { proof: msg.proof, publicKey: this.setup!.publicKey! }));
    } else {
      this.suite.group.validatePacked(msg.evaluated);
    }
    this.evaluated.push(msg.evaluated);
    this.received += expected;
    this.emit({ type: 'progress', phase: 'evaluate', done: this.received, total: this.inputs.length });
    if (this.received === this.inputs.length) this.complete();
  }

  private complete(): void {
    const size = this.suite.group.elementSize;
    const all = new Uint8Array(this.received * size);
    let off = 0;
    for (const part of this.evaluated) {
      all.set(part, off);
      off += part.length;
    }
    const { encoding } = this.setup!;
    if (this.mode === 'cardinality') {
      const r = this.blindState!.blinds[0];
      const unblinded = this.suite.group.multiplyPacked(this.suite.group.scalar.invert(r), all); // constant-time on libsodium
      const count = elementTags(this.suite, unblinded).filter((tag) => encoding.contains(tag)).length;
      return this.finish({ mode: 'cardinality', count, serverCount: this.setup!.serverCount });
    }
    const outputs = this.suite.mode === Modes.VOPRF ? this.verifiedOutputs : this.suite.finalize(this.blindState!, all);
    const matches: number[] = [];
    for (let i = 0; i < this.originals.length; i++) {
      if (encoding.contains(outputs[i])) matches.push(...this.originals[i]);
    }
    this.finish({ mode: 'intersection', matches: matches.sort((a, b) => a - b), serverCount: this.setup!.serverCount });
  }

  private finish(result: ClientResult): void {
    this.state = 'done';
    this.emit({ type: 'result', result });
  }
}
