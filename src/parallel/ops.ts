/**
 * What a worker does with one task (one slice of a batch). Each op calls the same suite or
 * group method the single-thread path calls, on its slice, so results are byte-identical;
 * only the DLEQ composites are split (dleq.ts). Secret inputs (keys, blinds) arrive in
 * buffers of their own and are zeroed as soon as they are parsed.
 */
import { GroupError, OprfError } from '../errors.js';
import { loadGroup, type BackendName } from '../group/select.js';
import { elementAt } from '../group/packed.js';
import type { Group } from '../group/types.js';
import type { OprfSuite } from '../oprf/suite.js';
import { sealPacked } from '../directory/seal-batch.js';
import { compositeWeights, partialSum } from './dleq.js';
import { finalizePacked } from './finalize-native.js';
import { runAdditiveTask } from './additive-ops.js';
import { loadSuite } from './suites.js';
import { ownedBytes, unpackInputs, type Task, type TaskResult } from './wire.js';

export async function runTask(task: Task, backend: BackendName): Promise<TaskResult> {
  switch (task.op) {
    case 'evaluate': {
      const suite = await loadSuite(task.suite, backend);
      const outputs = withWiped(task.key, () => suite.evaluate(task.key, unpackInputs(task.inputs)));
      return { bytes: packOutputs(outputs, suite.outputSize) };
    }
    case 'evaluateSeal': {
      const suite = await loadSuite(task.suite, backend);
      const outputs = withWiped(task.key, () => suite.evaluate(task.key, unpackInputs(task.inputs)));
      const tags = packOutputs(outputs, suite.outputSize);
      return { bytes: tags, seals: sealPacked(tags, suite.outputSize, task.labels) };
    }
    case 'multiply': {
      const group = await loadGroup(task.group, backend);
      // The key stays in bytes: the group checks it branch-free and wipes its own copy.
      return { bytes: ownedBytes(withWiped(task.scalar, () => group.multiplyPacked(group.scalar.check(task.scalar), task.packed))) };
    }
    case 'blindEvaluate': {
      const suite = await loadSuite(task.suite, backend);
      const { group } = suite;
      const composite = task.composite;
      // Coordinates the main thread decoded when it checked the batch: no decoding here.
      if (task.xy !== undefined) group.rememberDecoded?.(task.packed, task.xy);
      if (composite !== undefined && group.multiplyPackedComposite) {
        // One decoding of each element for the products and the slice's composite (null: the identity).
        const both = withWiped(task.key, () =>
          group.multiplyPackedComposite!(keyScalar(group, task.key), task.packed, (D) => compositeWeights(suite, composite.publicKey, task.packed, D, task.offset)),
        );
        return { bytes: ownedBytes(both.evaluated), m: both.composite };
      }
      const evaluated = withWiped(task.key, () => suite.blindEvaluate(task.key, task.packed));
      if (composite === undefined) return { bytes: ownedBytes(evaluated) };
      const weights = compositeWeights(suite, composite.publicKey, task.packed, evaluated, task.offset);
      return { bytes: ownedBytes(evaluated), m: partialSum(group, weights, task.packed) };
    }
    case 'hashMultiply': {
      const suite = await loadSuite(task.suite, backend);
      const { group } = suite;
      const inputs = unpackInputs(task.inputs);
      const elements = withWiped(task.key, () => {
        const k = keyScalar(group, task.key); // bytes stay bytes: no BigInt of the key
        return group.hashToGroupMultiply ? group.hashToGroupMultiply(k, inputs, suite.hashToGroupDST) : group.multiplyPacked(k, group.hashToGroupBatch(inputs, suite.hashToGroupDST));
      });
      if (!task.finalize) return { bytes: ownedBytes(elements) };
      // The bytes of suite.finalizeUnblinded for each element, hashed natively (finalize-native.ts).
      return { bytes: ownedBytes(elements), outputs: finalizePacked(suite, inputs, elements) };
    }
    case 'hashToGroup': {
      const suite = await loadSuite(task.suite, backend);
      return { bytes: ownedBytes(suite.group.hashToGroupBatch(unpackInputs(task.inputs), suite.hashToGroupDST)) };
    }
    case 'blind': {
      const suite = await loadSuite(task.suite, backend);
      const blinds = withWiped(task.blinds, () => parseScalars(suite.group, task.blinds));
      try {
        const state = suite.blindWith(unpackInputs(task.inputs), blinds);
        wipeAll(state.blinds);
        return { bytes: ownedBytes(state.blinded) };
      } finally {
        wipeAll(blinds);
      }
    }
    case 'finalize':
      return finalizeSlice(await loadSuite(task.suite, backend), task);
    case 'blindAdditive':
    case 'additiveComposites':
    case 'additiveUnblind':
      return runAdditiveTask(await loadSuite(task.suite, backend), task);
  }
}

type FinalizeTask = Extract<Task, { op: 'finalize' }>;

/** suite.finalize on a slice: validate, composite terms for the proof (checked on the main thread), unblind, hash. */
function finalizeSlice(suite: OprfSuite, task: FinalizeTask): TaskResult {
  const { group } = suite;
  const blinds = withWiped(task.blinds, () => parseScalars(group, task.blinds));
  const fused = task.composite !== undefined ? finalizeSliceFused(suite, task, task.composite.publicKey, blinds) : undefined;
  if (fused) return fused;
  try {
    group.validatePacked(task.evaluated);
  } catch (err) {
    throw new OprfError('bad_evaluation', `evaluated elements rejected: ${(err as Error).message}`, { cause: err });
  }
  let m: Uint8Array | null | undefined;
  let z: Uint8Array | null | undefined;
  if (task.composite !== undefined) {
    // As the suite's VerifyProof: a malformed part is a failed proof, never another error.
    try {
      // C is not decoded here first: the MSM decodes it strictly, and a bad C_i (identity
      // included: its slice's sum is then wrong) fails the proof, as the suite's VerifyProof does.
      const weights = compositeWeights(suite, task.composite.publicKey, task.blinded, task.evaluated, task.offset);
      m = partialSum(group, weights, task.blinded);
      z = partialSum(group, weights, task.evaluated);
    } catch (err) {
      if (err instanceof GroupError) throw new OprfError('proof_invalid', `DLEQ proof rejected: ${err.message}`, { cause: err });
      throw err;
    }
  }
  const inverses = group.scalar.invertEach(blinds);
  wipeAll(blinds);
  let unblinded: Uint8Array;
  try {
    unblinded = group.multiplyEach(inverses, task.evaluated);
  } finally {
    wipeAll(inverses);
  }
  const inputs = unpackInputs(task.inputs);
  const size = group.elementSize;
  const outputs = inputs.map((input, i) => suite.finalizeUnblinded(input, elementAt(unblinded, i, size)));
  return { bytes: packOutputs(outputs, suite.outputSize), m, z };
}

/**
 * finalizeSlice where the group unblinds and sums Z = sum d_i D_i from one decoding of each
 * D_i (multiplyEachComposite, as suite.finalize does): same outputs, partial sums and
 * errors; undefined (and the blinds untouched) when it cannot, for the general path.
 */
function finalizeSliceFused(suite: OprfSuite, task: FinalizeTask, publicKey: Uint8Array, blinds: Uint8Array[]): TaskResult | undefined {
  const { group } = suite;
  const size = group.elementSize;
  const n = blinds.length;
  if (!group.multiplyEachComposite || task.evaluated.length !== n * size || task.blinded.length !== n * size) return undefined;
  let weights: Uint8Array;
  try {
    weights = compositeWeights(suite, publicKey, task.blinded, task.evaluated, task.offset);
  } catch {
    return undefined;
  }
  const inverses = group.scalar.invertEach(blinds);
  let both: { products: Uint8Array; composite: Uint8Array | null } | undefined;
  try {
    both = group.multiplyEachComposite(inverses, task.evaluated, weights);
  } catch (err) {
    // The first bad evaluated element, named as the general path's validatePacked names it.
    if (err instanceof GroupError && err.message.startsWith('element at index')) {
      throw new OprfError('bad_evaluation', `evaluated elements rejected: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    wipeAll(inverses);
  }
  if (!both) return undefined;
  wipeAll(blinds);
  let m: Uint8Array | null;
  try {
    m = partialSum(group, weights, task.blinded);
  } catch (err) {
    if (err instanceof GroupError) throw new OprfError('proof_invalid', `DLEQ proof rejected: ${err.message}`, { cause: err });
    throw err;
  }
  const inputs = unpackInputs(task.inputs);
  const outputs = inputs.map((input, i) => suite.finalizeUnblinded(input, elementAt(both.products, i, size)));
  return { bytes: packOutputs(outputs, suite.outputSize), m, z: both.composite };
}

/** The key checked as the suite checks it (`bad_key`), kept in bytes. */
function keyScalar(group: Group, key: Uint8Array): Uint8Array {
  try {
    return group.scalar.check(key);
  } catch (err) {
    throw new OprfError('bad_key', 'secret key is not a valid nonzero scalar', { cause: err });
  }
}

/** Runs fn, then zeroes the secret buffer it read from, also when fn throws. */
function withWiped<T>(secret: Uint8Array, fn: () => T): T {
  try {
    return fn();
  } finally {
    secret.fill(0);
  }
}

/** The packed scalars, each checked branch-free (bad_scalar as the strict decoder), as copies: never BigInts. */
function parseScalars(group: Group, packed: Uint8Array): Uint8Array[] {
  const size = group.scalar.byteLength;
  const out = new Array<Uint8Array>(packed.length / size);
  for (let i = 0; i < out.length; i++) out[i] = group.scalar.check(packed.subarray(i * size, (i + 1) * size)).slice();
  return out;
}

function wipeAll(secrets: readonly Uint8Array[]): void {
  for (const s of secrets) s.fill(0);
}

function packOutputs(outputs: readonly Uint8Array[], outputSize: number): Uint8Array {
  const out = new Uint8Array(outputs.length * outputSize);
  outputs.forEach((o, i) => out.set(o, i * outputSize));
  return out;
}
