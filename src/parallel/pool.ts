/**
 * A worker_threads pool for batch group work: server evaluation (directory tags, session
 * PSI setup, blinded queries) and client blinding/finalizing of big address books. A batch
 * is cut into a few slices (one task each, packed bytes in transferred buffers), the slices
 * run on the workers, and the outputs are put back in order; every result is byte-identical
 * to the single-thread suite or group call named in each method. Batches below
 * `inlineThreshold` run on the calling thread with that very call.
 *
 * Secrets (keys, blinds, VOPRF proof scalars) are drawn and held on the calling thread;
 * workers get copies in buffers of their own, which they zero after parsing. Nothing is
 * logged. Errors keep their class and `code` (wire-error.ts).
 */
import { availableParallelism } from 'node:os';
import { ContactPsiError, GroupError, OprfError } from '../errors.js';
import { packedCount } from '../group/packed.js';
import { loadGroup, type BackendName } from '../group/select.js';
import type { Group, GroupId, Rng, ScalarInput } from '../group/types.js';
import {
  MAX_PROOF_BATCH,
  Modes,
  scalarInputBytes,
  type BlindState,
  type Mode,
  type OprfSuite,
  type SuiteId,
  type VerifiableEvaluation,
} from '../oprf/suite.js';
import { checkNonces, sealLabelsWith, type LabelToSeal, type SealedLabel } from '../directory/seal.js';
import { checkLabels, packLabels, splitSeals } from '../directory/seal-batch.js';
import { proveFromComposite, sumPartials, verifyFromComposites } from './dleq.js';
import { blindAdditive, checkAdditiveFinalize, finalizeAdditive } from '../oprf/additive.js';
import { concatBytes, sliceBounds, splitFixed, type SlicePlan } from './slices.js';
import { loadSuite } from './suites.js';
import { ThreadSet } from './threads.js';
import { checkInput, copyBytes, packInputs, type SuiteRef, type Task, type TaskResult } from './wire.js';
import { withBatchIndex } from './wire-error.js';
import { resolveWorkerUrl } from './worker-url.js';

export const DEFAULT_INLINE_THRESHOLD = 64;
export const DEFAULT_MAX_SLICE = 1024;
/** Fewest elements per task of the additive finalize's composites round (their MSMs): see finalizeAdditive. */
const COMPOSITE_MIN_SLICE = 1024;

/** Tags of a batch and their seals (with lookup keys), in batch order. */
export interface EvaluatedSeals {
  readonly tags: Uint8Array[];
  readonly seals: SealedLabel[];
}

export interface WorkerPoolOptions {
  /** Worker threads (default `os.availableParallelism()`). */
  readonly size?: number;
  /** Group backend of the workers and of the inline path (default 'auto'); results never depend on it. */
  readonly backend?: BackendName;
  /** Batches with fewer elements run on the calling thread, without messages (default 64). */
  readonly inlineThreshold?: number;
  /**
   * Most elements per task (default 1024: ~0.1 s of sodium work, so the per-message cost
   * stays negligible). Several smaller tasks balance cores that other processes load.
   */
  readonly maxSliceSize?: number;
  /** The worker script (default: resolveWorkerUrl()), for bundlers that put it elsewhere. */
  readonly workerUrl?: URL;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new ContactPsiError('invalid_option', `${name} must be a positive integer`);
  return value;
}

export class WorkerPool {
  readonly size: number;
  readonly backend: BackendName;
  readonly inlineThreshold: number;
  readonly #threads: ThreadSet;
  readonly #plan: SlicePlan;

  /** Starts the workers; throws `pool_unavailable` when the compiled worker is missing (run `npm run build`). */
  constructor(options: WorkerPoolOptions = {}) {
    this.size = positiveInteger(options.size, availableParallelism(), 'size');
    this.backend = options.backend ?? 'auto';
    this.inlineThreshold = positiveInteger(options.inlineThreshold, DEFAULT_INLINE_THRESHOLD, 'inlineThreshold');
    const maxSlice = positiveInteger(options.maxSliceSize, DEFAULT_MAX_SLICE, 'maxSliceSize');
    this.#plan = { workers: this.size, minSlice: this.inlineThreshold, maxSlice: Math.max(maxSlice, this.inlineThreshold) };
    const url = options.workerUrl ?? resolveWorkerUrl();
    this.#threads = new ThreadSet({ size: this.size, url, backend: this.backend });
  }

  /** Workers replaced after a crash. */
  get restarts(): number {
    return this.#threads.restarts;
  }

  /**
   * Server full evaluation F(k, x_i) (RFC 9497 Evaluate): same bytes as `suite.evaluate`.
   * Above the threshold the outputs are views into one buffer per slice (no copy per element).
   */
  async evaluate(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, inputs: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const suite = await this.#suite(suiteId, mode);
    if (inputs.length < this.inlineThreshold) return suite.evaluate(secretKey, inputs);
    secretScalar(suite, secretKey);
    inputs.forEach(checkInput);
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({
      op: 'evaluate',
      suite: ref,
      key: copyBytes(secretKey),
      inputs: packInputs(inputs, start, end),
    }));
    return splitFixed(parts.map((p) => p.bytes), suite.outputSize);
  }

  /**
   * Directory precompute: `evaluate`'s tags, and each label sealed under its tag with the
   * given nonces (24 bytes each, in order), with its lookup key: the bytes of
   * directory/seal.ts `sealLabelsWith`. Sealing next to the evaluation leaves the calling
   * thread only the store's work. A label sealLabel refuses fails the batch up front.
   */
  async evaluateAndSeal(
    suiteId: SuiteId,
    mode: Mode,
    secretKey: Uint8Array,
    inputs: readonly Uint8Array[],
    labels: readonly LabelToSeal[],
    nonces: Uint8Array,
  ): Promise<EvaluatedSeals> {
    const suite = await this.#suite(suiteId, mode);
    if (labels.length !== inputs.length) throw new ContactPsiError('bad_input', 'one label per input expected');
    checkNonces(labels.length, nonces);
    if (inputs.length < this.inlineThreshold) {
      const tags = suite.evaluate(secretKey, inputs);
      return { tags, seals: sealLabelsWith(tags.map((tag, i) => ({ tag, userId: labels[i].userId, label: labels[i].label })), nonces) };
    }
    secretScalar(suite, secretKey);
    inputs.forEach(checkInput);
    checkLabels(labels);
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({
      op: 'evaluateSeal',
      suite: ref,
      key: copyBytes(secretKey),
      inputs: packInputs(inputs, start, end),
      labels: packLabels(labels, nonces, start, end),
    }));
    return {
      tags: splitFixed(parts.map((p) => p.bytes), suite.outputSize),
      seals: splitSeals(parts.map((p) => p.seals!), labels),
    };
  }

  /** k * each element of a packed batch: same bytes as `group.multiplyPacked`; the scalar in SerializeScalar form. */
  async multiplyPacked(groupId: GroupId, scalarBytes: Uint8Array, packed: Uint8Array): Promise<Uint8Array> {
    const group = await this.#group(groupId);
    const n = packedCount(packed, group.elementSize);
    const k = group.scalar.check(scalarBytes); // bytes stay bytes (no BigInt of the key)
    if (n < this.inlineThreshold) return group.multiplyPacked(k, packed);
    const size = group.elementSize;
    const parts = await this.#run(n, (start, end) => ({
      op: 'multiply',
      group: groupId,
      scalar: copyBytes(scalarBytes),
      packed: copyBytes(packed.subarray(start * size, end * size)),
    }));
    return concatBytes(parts.map((p) => p.bytes));
  }

  /** Server, OPRF: k * B_i for a packed batch of blinded elements, as `suite.blindEvaluate`. */
  async blindEvaluate(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, blinded: Uint8Array): Promise<Uint8Array> {
    const suite = await this.#suite(suiteId, mode);
    secretScalar(suite, secretKey);
    const n = packedCount(blinded, suite.group.elementSize);
    if (n < this.inlineThreshold) return suite.blindEvaluate(secretKey, blinded);
    const xy = suite.group.takeDecoded?.(blinded);
    const parts = await this.#run(n, (start, end) => this.#blindEvaluateTask(suite, secretKey, blinded, start, end, undefined, xy));
    return concatBytes(parts.map((p) => p.bytes));
  }

  /**
   * Server, VOPRF: evaluations plus one DLEQ proof over the whole batch, as
   * `suite.blindEvaluateVerifiable` (byte-identical for the same `proofScalar` or rng).
   * Workers evaluate their slices and compute the slices' composite sums (dleq.ts); the
   * main thread adds them and computes the proof (a constant number of group operations).
   * Batches above MAX_PROOF_BATCH are refused (`batch_too_large`) before any group work.
   */
  async blindEvaluateVerifiable(
    suiteId: SuiteId,
    mode: Mode,
    secretKey: Uint8Array,
    blinded: Uint8Array,
    rng: Rng,
    proofScalar?: ScalarInput,
  ): Promise<VerifiableEvaluation> {
    const suite = await this.#suite(suiteId, mode);
    const { group } = suite;
    const k = secretScalar(suite, secretKey);
    const n = packedCount(blinded, group.elementSize);
    if (n < this.inlineThreshold) return suite.blindEvaluateVerifiable(secretKey, blinded, rng, proofScalar);
    if (n > MAX_PROOF_BATCH) throw new OprfError('batch_too_large', `one proof covers at most ${MAX_PROOF_BATCH} elements`);
    const publicKey = group.multiplyBase(k);
    // Checked on this thread just before (a server's chunk): the workers start from the coordinates.
    const xy = group.takeDecoded?.(blinded);
    const parts = await this.#run(n, (start, end) => this.#blindEvaluateTask(suite, secretKey, blinded, start, end, publicKey, xy));
    const evaluated = concatBytes(parts.map((p) => p.bytes));
    const M = sumPartials(group, parts.map((p) => p.m));
    const r = proofScalar === undefined ? group.scalar.random(rng) : scalarInputBytes(group, proofScalar).slice();
    try {
      return { evaluated, proof: proveFromComposite(suite, k, publicKey, M, r) };
    } finally {
      r.fill(0);
    }
  }

  /** H(x_i) with the suite's HashToGroup DST, packed: same bytes as `group.hashToGroupBatch(inputs, suite.hashToGroupDST)`. */
  async hashToGroupPacked(suiteId: SuiteId, mode: Mode, inputs: readonly Uint8Array[]): Promise<Uint8Array> {
    const suite = await this.#suite(suiteId, mode);
    inputs.forEach(checkInput);
    if (inputs.length < this.inlineThreshold) return suite.group.hashToGroupBatch(inputs, suite.hashToGroupDST);
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({ op: 'hashToGroup', suite: ref, inputs: packInputs(inputs, start, end) }));
    return concatBytes(parts.map((p) => p.bytes));
  }

  /**
   * k * H(x_i) with the suite's HashToGroup DST, packed: the bytes of
   * `group.hashToGroupMultiply(k, inputs, suite.hashToGroupDST)` (= multiplyPacked of
   * hashToGroupBatch), in one pass per slice, fused on the SIMD module (session-PSI setup).
   */
  async hashToGroupMultiplyPacked(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, inputs: readonly Uint8Array[]): Promise<Uint8Array> {
    const suite = await this.#suite(suiteId, mode);
    const { group } = suite;
    inputs.forEach(checkInput);
    const k = group.scalar.check(secretKey); // bytes stay bytes (no BigInt of the key)
    if (inputs.length < this.inlineThreshold) {
      return group.hashToGroupMultiply ? group.hashToGroupMultiply(k, inputs, suite.hashToGroupDST) : group.multiplyPacked(k, group.hashToGroupBatch(inputs, suite.hashToGroupDST));
    }
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({ op: 'hashMultiply', suite: ref, key: copyBytes(secretKey), inputs: packInputs(inputs, start, end), finalize: false }));
    return concatBytes(parts.map((p) => p.bytes));
  }

  /**
   * The session-PSI server set in one pass: `elements` = hashToGroupMultiplyPacked's bytes
   * and `outputs` = F(k, x_i) = suite.finalizeUnblinded(x_i, elements_i) (what
   * `suite.evaluate` gives), hashed on the workers too; the outputs are views into one
   * buffer per slice.
   */
  async hashMultiplyFinalize(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, inputs: readonly Uint8Array[]): Promise<{ elements: Uint8Array; outputs: Uint8Array[] }> {
    const suite = await this.#suite(suiteId, mode);
    const { group } = suite;
    inputs.forEach(checkInput);
    const k = group.scalar.check(secretKey); // bytes stay bytes (no BigInt of the key)
    if (inputs.length < this.inlineThreshold) {
      const elements = group.hashToGroupMultiply ? group.hashToGroupMultiply(k, inputs, suite.hashToGroupDST) : group.multiplyPacked(k, group.hashToGroupBatch(inputs, suite.hashToGroupDST));
      const size = group.elementSize;
      return { elements, outputs: inputs.map((x, i) => suite.finalizeUnblinded(x, elements.subarray(i * size, (i + 1) * size))) };
    }
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({ op: 'hashMultiply', suite: ref, key: copyBytes(secretKey), inputs: packInputs(inputs, start, end), finalize: true }));
    return { elements: concatBytes(parts.map((p) => p.bytes)), outputs: splitFixed(parts.map((p) => p.outputs!), suite.outputSize) };
  }

  /**
   * Client: blinds drawn here, on the calling thread, from the caller's rng (the same
   * draws as `suite.blind`, so the same BlindState for the same rng); only the blinding
   * multiplications run on the workers.
   */
  async blind(suiteId: SuiteId, mode: Mode, inputs: readonly Uint8Array[], rng: Rng): Promise<BlindState> {
    const suite = await this.#suite(suiteId, mode);
    const blinds = inputs.map(() => suite.group.scalar.random(rng));
    return this.blindWith(suiteId, mode, inputs, blinds);
  }

  /** Client: `suite.blindWith` (deterministic blinds). */
  async blindWith(suiteId: SuiteId, mode: Mode, inputs: readonly Uint8Array[], blinds: readonly ScalarInput[]): Promise<BlindState> {
    const suite = await this.#suite(suiteId, mode);
    if (inputs.length < this.inlineThreshold) return suite.blindWith(inputs, blinds);
    inputs.forEach(checkInput);
    if (blinds.length !== inputs.length) throw new OprfError('bad_input', 'one blind per input expected');
    // The suite's multiplyEach refuses these; reducing them for transport would hide that.
    // As bytes (checked branch-free), so that a secret blind never becomes a BigInt here.
    const owned = blinds.map((b) => {
      try {
        return scalarInputBytes(suite.group, b).slice();
      } catch {
        throw new GroupError('bad_scalar', 'blinds must be in [1, order)');
      }
    });
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({
      op: 'blind',
      suite: ref,
      inputs: packInputs(inputs, start, end),
      blinds: packScalars(suite.group, owned, start, end),
    }));
    return { inputs: [...inputs], blinds: owned, blinded: concatBytes(parts.map((p) => p.bytes)) };
  }

  /**
   * Client: `suite.finalize` — same outputs, same error codes. In VOPRF mode the proof is
   * checked over the whole batch on this thread from the workers' composite sums; outputs
   * computed by the workers are returned only once it verifies.
   */
  async finalize(
    suiteId: SuiteId,
    mode: Mode,
    state: BlindState,
    evaluated: Uint8Array,
    verify?: { proof: Uint8Array; publicKey: Uint8Array },
  ): Promise<Uint8Array[]> {
    const suite = await this.#suite(suiteId, mode);
    const { group } = suite;
    const size = group.elementSize;
    const n = state.inputs.length;
    if (n < this.inlineThreshold) return suite.finalize(state, evaluated, verify);
    let count: number;
    try {
      count = packedCount(evaluated, size);
    } catch (err) {
      throw new OprfError('bad_evaluation', `evaluated elements rejected: ${(err as Error).message}`, { cause: err });
    }
    if (count !== n) throw new OprfError('bad_evaluation', `expected ${n} evaluated elements, got ${count}`);
    state.inputs.forEach(checkInput);
    if (state.blinds.length !== n) throw new GroupError('bad_length', 'one scalar per element expected');
    const verifiable = suite.mode === Modes.VOPRF && verify !== undefined;
    if (verifiable && n > MAX_PROOF_BATCH) throw new OprfError('batch_too_large', `one proof covers at most ${MAX_PROOF_BATCH} elements`);
    // Composite sums need well-formed inputs; otherwise the proof simply fails below.
    const composable = verifiable && verify.publicKey instanceof Uint8Array && state.blinded instanceof Uint8Array && state.blinded.length === n * size;
    const publicKey = composable ? copyBytes(verify.publicKey) : undefined;
    const ref = refOf(suite);
    const parts = await this.#run(n, (start, end) => ({
      op: 'finalize',
      suite: ref,
      inputs: packInputs(state.inputs, start, end),
      blinds: packScalars(group, state.blinds, start, end),
      blinded: composable ? copyBytes(state.blinded.subarray(start * size, end * size)) : new Uint8Array(0),
      evaluated: copyBytes(evaluated.subarray(start * size, end * size)),
      offset: start,
      composite: publicKey === undefined ? undefined : { publicKey },
    }));
    if (suite.mode === Modes.VOPRF) {
      if (verify === undefined) throw new OprfError('proof_missing', 'VOPRF finalize needs the proof and the public key');
      if (!composable) throw new OprfError('proof_invalid', 'DLEQ proof rejected: malformed public key or blinded elements');
      verifyFromComposites(suite, verify.publicKey, verify.proof, () => ({
        M: sumPartials(suite.group, parts.map((p) => p.m)),
        Z: sumPartials(suite.group, parts.map((p) => p.z)),
      }));
    }
    return splitFixed(parts.map((p) => p.bytes), suite.outputSize);
  }

  /** Client, additive blinding: `blindAdditive(suite, inputs, blinds)` (src/oprf/additive.ts), same bytes. */
  async blindAdditive(suiteId: SuiteId, mode: Mode, inputs: readonly Uint8Array[], blinds: readonly Uint8Array[]): Promise<BlindState> {
    const suite = await this.#suite(suiteId, mode);
    if (inputs.length < this.inlineThreshold) return blindAdditive(suite, inputs, blinds);
    inputs.forEach(checkInput);
    if (blinds.length !== inputs.length) throw new OprfError('bad_input', 'one blind per input expected');
    const owned = blinds.map((b) => suite.group.scalar.check(b).slice()); // bad_scalar, branch-free, never a BigInt
    const ref = refOf(suite);
    const parts = await this.#run(inputs.length, (start, end) => ({
      op: 'blindAdditive',
      suite: ref,
      inputs: packInputs(inputs, start, end),
      blinds: packScalars(suite.group, owned, start, end),
    }));
    return { inputs: [...inputs], blinds: owned, blinded: concatBytes(parts.map((p) => p.bytes)) };
  }

  /**
   * Client: `finalizeAdditive` (src/oprf/additive.ts), same outputs and codes, in two
   * rounds: the workers check and decode the evaluated elements and sum the slices'
   * composites; the proof is checked here over the whole batch; only then do the workers
   * unblind (N_i = Z_i - r_i PK) and hash. A proof that fails sends no blind anywhere.
   */
  async finalizeAdditive(suiteId: SuiteId, mode: Mode, state: BlindState, evaluated: Uint8Array, verify: { proof: Uint8Array; publicKey: Uint8Array }): Promise<Uint8Array[]> {
    const suite = await this.#suite(suiteId, mode);
    const n = state.inputs.length;
    if (n < this.inlineThreshold) return finalizeAdditive(suite, state, evaluated, verify);
    checkAdditiveFinalize(suite, state, evaluated, verify);
    state.inputs.forEach(checkInput);
    const { group } = suite;
    const size = group.elementSize;
    const publicKey = copyBytes(verify.publicKey);
    const ref = refOf(suite);
    // From COMPOSITE_MIN_SLICE elements on, slices of at least that many: an MSM costs less
    // per point the more points it has (and from 512 on both composites share one SIMD
    // pass), and a pipelined client keeps the other worker busy with the next chunks
    // meanwhile. A smaller chunk (a pipelined sync's short first and last) is split as
    // usual: its latency is what the sync waits for.
    const plan = n < COMPOSITE_MIN_SLICE ? this.#plan : { ...this.#plan, minSlice: Math.max(this.#plan.minSlice, COMPOSITE_MIN_SLICE), maxSlice: Math.max(this.#plan.maxSlice, COMPOSITE_MIN_SLICE) };
    const parts = await this.#run(
      n,
      (start, end) => ({
        op: 'additiveComposites',
        suite: ref,
        publicKey: copyBytes(publicKey),
        blinded: copyBytes(state.blinded.subarray(start * size, end * size)),
        evaluated: copyBytes(evaluated.subarray(start * size, end * size)),
        offset: start,
      }),
      plan,
    );
    verifyFromComposites(suite, publicKey, verify.proof, () => ({
      M: sumPartials(group, parts.map((p) => p.m)),
      Z: sumPartials(group, parts.map((p) => p.z)),
    }));
    // Verified: Z_i = k B_i under the pinned key. The decoded D_i go back in the same slices.
    const decoded = concatBytes(parts.map((p) => p.bytes));
    const per = decoded.length / n;
    const outputs = await this.#run(n, (start, end) => ({
      op: 'additiveUnblind',
      suite: ref,
      publicKey: copyBytes(publicKey),
      inputs: packInputs(state.inputs, start, end),
      blinds: packScalars(group, state.blinds, start, end),
      decoded: copyBytes(decoded.subarray(start * per, end * per)),
    }));
    return splitFixed(outputs.map((p) => p.bytes), suite.outputSize);
  }

  /** Stops the workers; pending and later jobs reject with `pool_closed`. Idempotent. */
  close(): Promise<void> {
    return this.#threads.close();
  }

  #blindEvaluateTask(
    suite: OprfSuite,
    key: Uint8Array,
    blinded: Uint8Array,
    start: number,
    end: number,
    publicKey: Uint8Array | undefined,
    xy: Uint8Array | undefined,
  ): Task {
    const size = suite.group.elementSize;
    return {
      op: 'blindEvaluate',
      suite: refOf(suite),
      key: copyBytes(key),
      packed: copyBytes(blinded.subarray(start * size, end * size)),
      offset: start,
      composite: publicKey === undefined ? undefined : { publicKey },
      xy: xy === undefined ? undefined : copyBytes(xy.subarray(start * 2 * size, end * 2 * size)),
    };
  }

  /**
   * Builds every slice's task first (so input errors throw before any work starts), runs
   * them, and waits for all: the error reported is the one of the first failing slice,
   * with its element index in the whole batch.
   */
  async #run(n: number, build: (start: number, end: number) => Task, plan: SlicePlan = this.#plan): Promise<TaskResult[]> {
    const bounds = sliceBounds(n, plan);
    const tasks = bounds.map(([start, end]) => build(start, end));
    const settled = await Promise.allSettled(tasks.map((task) => this.#threads.run(task)));
    const results: TaskResult[] = [];
    settled.forEach((s, i) => {
      if (s.status === 'rejected') throw withBatchIndex(s.reason, bounds[i][0]);
      results.push(s.value);
    });
    return results;
  }

  async #suite(id: SuiteId, mode: Mode): Promise<OprfSuite> {
    if (this.#threads.closed) throw new ContactPsiError('pool_closed', 'the worker pool is closed');
    return loadSuite({ id, mode }, this.backend);
  }

  async #group(id: GroupId): Promise<Group> {
    if (this.#threads.closed) throw new ContactPsiError('pool_closed', 'the worker pool is closed');
    return loadGroup(id, this.backend);
  }
}

const refOf = (suite: OprfSuite): SuiteRef => ({ id: suite.id, mode: suite.mode });

/** The suite's own key check and error (RFC 9497 keys are nonzero scalars); the key stays in bytes. */
function secretScalar(suite: OprfSuite, secretKey: Uint8Array): Uint8Array {
  try {
    return suite.group.scalar.check(secretKey);
  } catch (err) {
    throw new OprfError('bad_key', 'secret key is not a valid nonzero scalar', { cause: err });
  }
}

/** Blinds [start, end) in SerializeScalar form, in a buffer of their own (transferred, then zeroed by the worker). */
function packScalars(group: Group, scalars: readonly Uint8Array[], start: number, end: number): Uint8Array {
  const len = group.scalar.byteLength;
  const out = new Uint8Array((end - start) * len);
  for (let i = start; i < end; i++) {
    const s = scalars[i];
    // A malformed blind is sent as zero bytes: the worker's parse reports it as `bad_scalar`.
    if (s instanceof Uint8Array && s.length === len) out.set(s, (i - start) * len);
  }
  return out;
}
