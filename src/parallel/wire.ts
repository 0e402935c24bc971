/**
 * Messages between the pool and its workers. A task is one slice of a batch; every batch
 * travels as a few packed byte strings (never one message per element), and their
 * ArrayBuffers are transferred, not copied (structured clone would copy each of them).
 */
import { OprfError } from '../errors.js';
import type { GroupId } from '../group/types.js';
import type { PackedLabels, PackedSeals } from '../directory/seal-batch.js';
import { MAX_INPUT_BYTES, type Mode, type SuiteId } from '../oprf/suite.js';

export interface SuiteRef {
  readonly id: SuiteId;
  readonly mode: Mode;
}

/** Variable-length inputs as one buffer: lengths[i] bytes each, concatenated in order. */
export interface PackedInputs {
  readonly lengths: Uint32Array;
  readonly data: Uint8Array;
}

/** Ask for the slice's DLEQ composite terms (RFC 9497 §2.2.1); the public key seeds the weights. */
export interface CompositeRequest {
  readonly publicKey: Uint8Array;
}

export type Task =
  | { readonly op: 'evaluate'; readonly suite: SuiteRef; readonly key: Uint8Array; readonly inputs: PackedInputs }
  | { readonly op: 'multiply'; readonly group: GroupId; readonly scalar: Uint8Array; readonly packed: Uint8Array }
  | {
      readonly op: 'blindEvaluate';
      readonly suite: SuiteRef;
      readonly key: Uint8Array;
      readonly packed: Uint8Array;
      /** Batch index of the slice's first element (composite weights use global indices). */
      readonly offset: number;
      readonly composite?: CompositeRequest;
      /** The slice's affine coordinates, decoded when the main thread checked the batch (Group.takeDecoded). */
      readonly xy?: Uint8Array;
    }
  | { readonly op: 'hashToGroup'; readonly suite: SuiteRef; readonly inputs: PackedInputs }
  /**
   * k * H(x_i), packed (session-PSI server setup): the group's fused hashToGroupMultiply, no
   * encoding of H(x_i) between; with `finalize`, also the outputs F(k, x_i) (RFC 9497
   * Finalize's hash of each product) in the result's `outputs`.
   */
  | { readonly op: 'hashMultiply'; readonly suite: SuiteRef; readonly key: Uint8Array; readonly inputs: PackedInputs; readonly finalize: boolean }
  /** Directory precompute: evaluate as 'evaluate', then seal each label under its tag (directory/seal-batch.ts). */
  | { readonly op: 'evaluateSeal'; readonly suite: SuiteRef; readonly key: Uint8Array; readonly inputs: PackedInputs; readonly labels: PackedLabels }
  | { readonly op: 'blind'; readonly suite: SuiteRef; readonly inputs: PackedInputs; readonly blinds: Uint8Array }
  /** Additive blinding (src/oprf/additive.ts blindAdditive): B_i = H(x_i) + r_i G. */
  | { readonly op: 'blindAdditive'; readonly suite: SuiteRef; readonly inputs: PackedInputs; readonly blinds: Uint8Array }
  /**
   * Additive finalize, step 1, public data only (additiveComposites): the slice's D checked
   * and decoded (the result's `bytes`) and its partial composites `m`, `z`.
   */
  | { readonly op: 'additiveComposites'; readonly suite: SuiteRef; readonly publicKey: Uint8Array; readonly blinded: Uint8Array; readonly evaluated: Uint8Array; readonly offset: number }
  /** Additive finalize, step 2, sent only once the whole batch's proof verified: N_i = Z_i - r_i PK, then the outputs. */
  | { readonly op: 'additiveUnblind'; readonly suite: SuiteRef; readonly publicKey: Uint8Array; readonly inputs: PackedInputs; readonly blinds: Uint8Array; readonly decoded: Uint8Array }
  | {
      readonly op: 'finalize';
      readonly suite: SuiteRef;
      readonly inputs: PackedInputs;
      readonly blinds: Uint8Array;
      readonly blinded: Uint8Array;
      readonly evaluated: Uint8Array;
      readonly offset: number;
      readonly composite?: CompositeRequest;
    };

/**
 * `bytes`: the slice's packed output. `m`/`z`: partial composite sums, null when the
 * identity. `seals`: 'evaluateSeal' only, the slice's lookup keys and seals.
 */
export interface TaskResult {
  readonly bytes: Uint8Array;
  readonly m?: Uint8Array | null;
  readonly z?: Uint8Array | null;
  readonly seals?: PackedSeals;
  /** 'hashMultiply' with `finalize`: the slice's outputs, packed (outputSize bytes each). */
  readonly outputs?: Uint8Array;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export type Request = { readonly id: number; readonly task: Task };
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: TaskResult }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

/** Same checks and codes as the suite's own (RFC 9497 §1.2 length prefix). */
export function checkInput(input: Uint8Array, index: number): void {
  if (!(input instanceof Uint8Array)) throw new OprfError('bad_input', `input ${index} is not bytes`);
  if (input.length > MAX_INPUT_BYTES) {
    throw new OprfError('input_too_long', `input ${index} is longer than ${MAX_INPUT_BYTES} bytes (RFC 9497 §1.2)`);
  }
}

export function packInputs(inputs: readonly Uint8Array[], start = 0, end = inputs.length): PackedInputs {
  const lengths = new Uint32Array(end - start);
  let total = 0;
  for (let i = start; i < end; i++) {
    checkInput(inputs[i], i);
    lengths[i - start] = inputs[i].length;
    total += inputs[i].length;
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (let i = start; i < end; i++) {
    data.set(inputs[i], at);
    at += inputs[i].length;
  }
  return { lengths, data };
}

/** Views into `data`, no copy. */
export function unpackInputs({ lengths, data }: PackedInputs): Uint8Array[] {
  const out = new Array<Uint8Array>(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    out[i] = data.subarray(at, at + lengths[i]);
    at += lengths[i];
  }
  return out;
}

/** A copy that owns its whole buffer: never transfer (detach) a caller's buffer. */
export const copyBytes = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

/**
 * `bytes` if it owns its whole buffer, else a copy. Structured clone of a view copies its
 * entire underlying buffer, and transferring a shared buffer would detach the other views.
 */
export const ownedBytes = (bytes: Uint8Array): Uint8Array =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : copyBytes(bytes);

/** The buffers for postMessage's transfer list; every part must own its buffer (see ownedBytes). */
function transferList(...parts: (Uint8Array | Uint32Array | null | undefined)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const p of parts) {
    if (p === null || p === undefined) continue;
    const buffer = p.buffer as ArrayBuffer;
    if (p.byteOffset !== 0 || p.byteLength !== buffer.byteLength) throw new Error('internal: transferred view does not own its buffer');
    if (!out.includes(buffer)) out.push(buffer);
  }
  return out;
}

export function taskTransferList(task: Task): ArrayBuffer[] {
  switch (task.op) {
    case 'evaluate':
      return transferList(task.key, task.inputs.lengths, task.inputs.data);
    case 'multiply':
      return transferList(task.scalar, task.packed);
    case 'blindEvaluate':
      return transferList(task.key, task.packed, task.xy);
    case 'hashToGroup':
      return transferList(task.inputs.lengths, task.inputs.data);
    case 'hashMultiply':
      return transferList(task.key, task.inputs.lengths, task.inputs.data);
    case 'evaluateSeal': {
      const { userIds, labels, nonces } = task.labels;
      return transferList(task.key, task.inputs.lengths, task.inputs.data, userIds.lengths, userIds.data, labels.lengths, labels.data, nonces);
    }
    case 'blind':
      return transferList(task.inputs.lengths, task.inputs.data, task.blinds);
    case 'finalize':
      return transferList(task.inputs.lengths, task.inputs.data, task.blinds, task.blinded, task.evaluated);
    case 'blindAdditive':
      return transferList(task.inputs.lengths, task.inputs.data, task.blinds);
    case 'additiveComposites':
      return transferList(task.publicKey, task.blinded, task.evaluated);
    case 'additiveUnblind':
      return transferList(task.publicKey, task.inputs.lengths, task.inputs.data, task.blinds, task.decoded);
  }
}

export function resultTransferList(result: TaskResult): ArrayBuffer[] {
  return transferList(result.bytes, result.m, result.z, result.seals?.lookupKeys, result.seals?.sealed, result.outputs);
}

/** Zeroes a task's secret buffers (keys, blinds) when it is dropped without being sent. */
export function wipeTask(task: Task): void {
  if (task.op === 'evaluate' || task.op === 'blindEvaluate' || task.op === 'evaluateSeal' || task.op === 'hashMultiply') task.key.fill(0);
  else if (task.op === 'multiply') task.scalar.fill(0);
  else if (task.op === 'blind' || task.op === 'finalize' || task.op === 'blindAdditive' || task.op === 'additiveUnblind') task.blinds.fill(0);
}
