/**
 * Session PSI, server role. States:
 *   awaiting_hello --psi.hello/send psi.setup--> awaiting_queries
 *   awaiting_queries --psi.query (not last)/send psi.evaluation--> awaiting_queries
 *   awaiting_queries --psi.query (last)--> done
 * In cardinality mode the server answers only after the last chunk, with all evaluations
 * shuffled together, so their order cannot be linked to the request.
 */
import type { Rng } from '../group/types.js';
import { Modes } from '../oprf/suite.js';
import { buildEncoding, deriveParameters } from '../setenc/index.js';
import { SetEncodingError } from '../errors.js';
import { ProtocolError } from './errors.js';
import { resolveLimits, type SessionLimits } from './limits.js';
import { psiSchemas, type HelloMessage, type PsiMessage, type QueryMessage } from './messages.js';
import type { PreparedServerSet } from './server-set.js';
import { SessionCore } from './session-core.js';
import { elementTags } from './tags.js';
import { shuffleInPlace } from './shuffle.js';

export type ServerState = 'awaiting_hello' | 'awaiting_queries' | 'done';

export interface ServerSessionOptions {
  prepared: PreparedServerSet;
  rng: Rng;
  limits?: Partial<SessionLimits>;
  idleTimeoutMs?: number;
  now: number;
}

export interface ServerResult {
  itemsEvaluated: number;
  mode: HelloMessage['mode'];
}

export class ServerSession extends SessionCore<ServerState, PsiMessage, ServerResult> {
  protected readonly role = 'server';
  protected state: ServerState = 'awaiting_hello';
  protected readonly transitions = {
    awaiting_hello: { 'psi.hello': (m: PsiMessage) => this.onHello(m as HelloMessage) },
    awaiting_queries: { 'psi.query': (m: PsiMessage) => this.onQuery(m as QueryMessage) },
  };

  private readonly prepared: PreparedServerSet;
  private readonly rng: Rng;
  private hello: HelloMessage | undefined;
  private received = 0;
  private nextSeq = 0;
  private readonly held: Uint8Array[] = [];

  constructor(options: ServerSessionOptions) {
    const limits = resolveLimits(options.limits);
    super(limits.maxMessageBytes, psiSchemas(limits), options.idleTimeoutMs ?? 30_000);
    this.prepared = options.prepared;
    this.rng = options.rng;
    this.touch(options.now);
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  private onHello(hello: HelloMessage): void {
    const { suite } = this.prepared;
    if (hello.suite !== suite.id) throw new ProtocolError('unsupported', `suite ${hello.suite} is not offered; this server uses ${suite.id}`);
    const serverVerifiable = suite.mode === Modes.VOPRF;
    if (hello.verifiable !== serverVerifiable) {
      throw new ProtocolError('unsupported', `this server runs ${serverVerifiable ? 'verifiable' : 'non-verifiable'} sessions`);
    }
    // Cardinality mode shuffles evaluations; a batch DLEQ proof needs them in request order.
    if (hello.mode === 'cardinality' && serverVerifiable) throw new ProtocolError('unsupported', 'cardinality mode is not verifiable');
    this.hello = hello;

    const { items, elements, outputs } = this.prepared;
    const tags =
      hello.mode === 'cardinality'
        ? elementTags(suite, elements)
        : outputs ?? items.map((y, i) => suite.finalizeUnblinded(y, elements.subarray(i * suite.group.elementSize, (i + 1) * suite.group.elementSize)));
    let params;
    try {
      params = deriveParameters({
        kind: hello.encoding,
        serverSize: Math.max(1, tags.length),
        clientSize: Math.max(1, hello.total),
        falsePositiveRate: hello.fpr,
      });
    } catch (err) {
      // e.g. a fuse filter's fingerprints top out at 32 bits: the request, not the data, is at fault.
      if (err instanceof SetEncodingError && err.code === 'fpr_unreachable') {
        throw new ProtocolError('unsupported', `${hello.encoding} cannot reach this false-positive rate for ${hello.total} items: ${err.message}; ask for gcs or raw`);
      }
      throw err;
    }
    const encoding = buildEncoding(params, tags);
    this.send({
      t: 'psi.setup',
      encoding: encoding.serialize(),
      serverCount: tags.length,
      publicKey: serverVerifiable ? this.prepared.keys.publicKey : undefined,
    });
    this.state = hello.total === 0 ? 'done' : 'awaiting_queries';
    if (hello.total === 0) this.emit({ type: 'result', result: { itemsEvaluated: 0, mode: hello.mode } });
  }

  private onQuery(query: QueryMessage): void {
    const hello = this.hello!;
    const { suite, keys } = this.prepared;
    const size = suite.group.elementSize;
    if (query.seq !== this.nextSeq) throw new ProtocolError('unexpected_message', `server expected chunk ${this.nextSeq}, got ${query.seq}`);
    if (query.blinded.length % size !== 0) throw new ProtocolError('bad_field', `blinded length is not a multiple of ${size}`);
    const count = query.blinded.length / size;
    if (count === 0 || count > hello.chunk) throw new ProtocolError('bad_field', `chunk of ${count} items, expected 1..${hello.chunk}`);
    if (this.received + count > hello.total) throw new ProtocolError('too_large', `more items than the ${hello.total} announced`);
    this.nextSeq++;
    this.received += count;
    const last = this.received === hello.total;

    if (hello.mode === 'cardinality') {
      // Validate now (so a bad point fails at once), evaluate when the set is complete.
      suite.group.validatePacked(query.blinded);
      this.held.push(query.blinded);
      if (last) this.answerShuffled();
    } else if (suite.mode === Modes.VOPRF) {
      const { evaluated, proof } = suite.blindEvaluateVerifiable(keys.secretKey, query.blinded, this.rng);
      this.send({ t: 'psi.evaluation', seq: query.seq, evaluated, proof });
    } else {
      this.send({ t: 'psi.evaluation', seq: query.seq, evaluated: suite.blindEvaluate(keys.secretKey, query.blinded) });
    }
    this.emit({ type: 'progress', phase: 'evaluate', done: this.received, total: hello.total });
    if (last) {
      this.state = 'done';
      this.emit({ type: 'result', result: { itemsEvaluated: this.received, mode: hello.mode } });
    }
  }

  private answerShuffled(): void {
    const { suite, keys } = this.prepared;
    const size = suite.group.elementSize;
    const all = new Uint8Array(this.received * size);
    let off = 0;
    for (const chunk of this.held) {
      all.set(chunk, off);
      off += chunk.length;
    }
    this.held.length = 0;
    const evaluated = suite.blindEvaluate(keys.secretKey, all);
    shuffleInPlace(evaluated, size, this.rng);
    const chunkBytes = this.hello!.chunk * size;
    for (let seq = 0, start = 0; start < evaluated.length; seq++, start += chunkBytes) {
      this.send({ t: 'psi.evaluation', seq, evaluated: evaluated.subarray(start, start + chunkBytes) });
    }
  }
}
