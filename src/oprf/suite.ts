/**
 * RFC 9497 OPRF (mode 0x00) and VOPRF (mode 0x01) over a Group backend, batch-first: a
 * batch of inputs is blinded, evaluated and finalized as packed bytes, and a VOPRF batch
 * carries one DLEQ proof (RFC 9497 §2.2). Pure functions of their inputs: randomness comes
 * in as an `rng`, nothing here does I/O.
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { GroupError, OprfError } from '../errors.js';
import type { Group, Rng, ScalarInput } from '../group/types.js';
import { compositeWeights, MAX_PROOF_BATCH, proveFromComposite, verifyFromComposites } from './dleq.js';
import { ascii, concat, i2osp, lengthPrefixed } from './encoding.js';

export const SuiteIds = ['ristretto255-SHA512', 'P256-SHA256'] as const;
export type SuiteId = (typeof SuiteIds)[number];

export const Modes = { OPRF: 0x00, VOPRF: 0x01 } as const;
export type Mode = (typeof Modes)[keyof typeof Modes];

/** The Finalize transcript's last part (RFC 9497 §3.3.1). */
const FINALIZE = ascii('Finalize');

/** RFC 9497 §1.2: inputs are length-prefixed with two bytes, so at most 2^16 - 1 bytes. */
export const MAX_INPUT_BYTES = 0xffff;
export { MAX_PROOF_BATCH };

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * What the client keeps between blinding and finalizing. The blinds are secret, so they
 * are kept as SerializeScalar bytes (never BigInts) and inverted in the group's scalar
 * field (constant-time on libsodium).
 */
export interface BlindState {
  readonly inputs: readonly Uint8Array[];
  readonly blinds: readonly Uint8Array[];
  /** Packed blinded elements, the bytes sent to the server. */
  readonly blinded: Uint8Array;
}

export interface VerifiableEvaluation {
  readonly evaluated: Uint8Array;
  readonly proof: Uint8Array;
}

export interface OprfSuite {
  readonly id: SuiteId;
  readonly mode: Mode;
  readonly group: Group;
  readonly hash: (msg: Uint8Array) => Uint8Array;
  readonly outputSize: number;
  readonly proofSize: number;
  readonly contextString: Uint8Array;
  readonly hashToGroupDST: Uint8Array;

  generateKeyPair(rng: Rng): KeyPair;
  deriveKeyPair(seed: Uint8Array, info: Uint8Array): KeyPair;
  publicKeyOf(secretKey: Uint8Array): Uint8Array;

  blind(inputs: readonly Uint8Array[], rng: Rng): BlindState;
  /** Blinding with given scalars (deterministic blinds; bigints for public test vectors). */
  blindWith(inputs: readonly Uint8Array[], blinds: readonly ScalarInput[]): BlindState;
  /** Server: k * B_i for a packed batch; rejects invalid and identity elements. */
  blindEvaluate(secretKey: Uint8Array, blinded: Uint8Array): Uint8Array;
  /** Server (VOPRF): evaluations plus one batched DLEQ proof. */
  blindEvaluateVerifiable(secretKey: Uint8Array, blinded: Uint8Array, rng: Rng, proofScalar?: ScalarInput): VerifiableEvaluation;
  /** Client: unblind and hash. In VOPRF mode pass the proof and public key; a bad proof throws `proof_invalid`. */
  finalize(state: BlindState, evaluated: Uint8Array, verify?: { proof: Uint8Array; publicKey: Uint8Array }): Uint8Array[];
  /** RFC 9497 Finalize's hash step on an already unblinded element k*H(x). */
  finalizeUnblinded(input: Uint8Array, unblinded: Uint8Array): Uint8Array;
  /** Server-side full evaluation F(k, x) of inputs it knows (directory tags). */
  evaluate(secretKey: Uint8Array, inputs: readonly Uint8Array[]): Uint8Array[];
}

function checkInput(input: Uint8Array, index: number): void {
  if (!(input instanceof Uint8Array)) throw new OprfError('bad_input', `input ${index} is not bytes`);
  if (input.length > MAX_INPUT_BYTES) {
    throw new OprfError('input_too_long', `input ${index} is longer than ${MAX_INPUT_BYTES} bytes (RFC 9497 §1.2)`);
  }
}

/**
 * RandomScalar (RFC 9497 §2.1): uniform in [1, order) as SerializeScalar bytes; 16 extra
 * bytes make the bias negligible. Branch-free, no BigInt (scalar-bytes.ts).
 */
export function randomScalar(group: Group, rng: Rng): Uint8Array {
  return group.scalar.random(rng);
}

/** A scalar given as bytes or a bigint, as bytes; out of [1, order) is `bad_scalar`, as the group would say. */
export function scalarInputBytes(group: Group, s: ScalarInput): Uint8Array {
  const { scalar } = group;
  if (s instanceof Uint8Array) return scalar.check(s);
  if (typeof s !== 'bigint' || s <= 0n || s >= scalar.order) throw new GroupError('bad_scalar', 'scalar must be in [1, order)');
  return scalar.toBytes(s);
}

export function createSuite(id: SuiteId, mode: Mode, group: Group): OprfSuite {
  const hash = id === 'ristretto255-SHA512' ? sha512 : sha256;
  const outputSize = id === 'ristretto255-SHA512' ? 64 : 32;
  const { scalar } = group;
  // RFC 9497 §3.1: contextString = "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier.
  const contextString = concat(ascii('OPRFV1-'), i2osp(mode, 1), ascii('-' + id));
  const hashToGroupDST = concat(ascii('HashToGroup-'), contextString);
  const deriveKeyPairDST = concat(ascii('DeriveKeyPair'), contextString);

  // The key stays in bytes: checked without BigInt, handed to the group as is.
  const secretScalar = (secretKey: Uint8Array): Uint8Array => {
    try {
      return scalar.check(secretKey);
    } catch (err) {
      throw new OprfError('bad_key', 'secret key is not a valid nonzero scalar', { cause: err });
    }
  };

  // RFC 9497 §3.3.1 Finalize: Hash(len||input||len||unblinded||"Finalize"), the transcript
  // written into one buffer (it runs once per element: server tags, client outputs).
  const finalizeOne = (input: Uint8Array, unblinded: Uint8Array): Uint8Array => {
    const n = input.length;
    const m = unblinded.length;
    const msg = new Uint8Array(4 + n + m + FINALIZE.length);
    msg[0] = n >>> 8;
    msg[1] = n & 0xff;
    msg.set(input, 2);
    msg[2 + n] = m >>> 8;
    msg[3 + n] = m & 0xff;
    msg.set(unblinded, 4 + n);
    msg.set(FINALIZE, 4 + n + m);
    return hash(msg);
  };

  const blindWith = (inputs: readonly Uint8Array[], blinds: readonly ScalarInput[]): BlindState => {
    inputs.forEach(checkInput);
    if (blinds.length !== inputs.length) throw new OprfError('bad_input', 'one blind per input expected');
    // Fused where the backend can (no encoding and decoding of H(x_i) in between), else the two calls.
    const blinded = group.hashToGroupMultiplyEach?.(blinds, inputs, hashToGroupDST) ?? group.multiplyEach(blinds, group.hashToGroupBatch(inputs, hashToGroupDST));
    // All in [1, order) now (multiplyEach checked them); copies, so the state owns its secrets.
    return { inputs: [...inputs], blinds: blinds.map((b) => (b instanceof Uint8Array ? b.slice() : scalar.toBytes(b))), blinded };
  };

  const suite: OprfSuite = {
    id,
    mode,
    group,
    hash,
    outputSize,
    proofSize: 2 * scalar.byteLength,
    contextString,
    hashToGroupDST,

    generateKeyPair(rng) {
      const sk = scalar.random(rng);
      return { secretKey: sk, publicKey: group.multiplyBase(sk) };
    },

    deriveKeyPair(seed, info) {
      // RFC 9497 §3.2.1 DeriveKeyPair.
      if (seed.length !== 32) throw new OprfError('bad_seed', 'seed must be 32 bytes');
      if (info.length > MAX_INPUT_BYTES) throw new OprfError('bad_input', 'key info too long');
      // seed || I2OSP(len(info), 2) || info || counter: holds the seed, wiped after use.
      const deriveInput = concat(seed, lengthPrefixed(info), new Uint8Array(1));
      try {
        for (let counter = 0; counter <= 255; counter++) {
          deriveInput[deriveInput.length - 1] = counter;
          // Bytes from the group's reduction (libsodium's on that backend), never a BigInt.
          const sk = group.hashToScalarBytes(deriveInput, deriveKeyPairDST);
          if (!scalar.isZero(sk)) return { secretKey: sk, publicKey: group.multiplyBase(sk) };
        }
      } finally {
        deriveInput.fill(0);
      }
      throw new OprfError('derive_key_failed', 'DeriveKeyPairError');
    },

    publicKeyOf: (secretKey) => group.multiplyBase(secretScalar(secretKey)),

    blind: (inputs, rng) => blindWith(inputs, inputs.map(() => scalar.random(rng))),
    blindWith,

    blindEvaluate(secretKey, blinded) {
      const k = secretScalar(secretKey);
      return group.multiplyPacked(k, blinded);
    },

    blindEvaluateVerifiable(secretKey, blinded, rng, proofScalar) {
      const k = secretScalar(secretKey);
      let evaluated: Uint8Array;
      let M: Uint8Array;
      const B = group.multiplyBase(k);
      // RFC 9497 §2.2.1 GenerateProof with ComputeCompositesFast (Z = k * M, inside).
      if (group.multiplyPackedComposite) {
        // One decoding of each blinded element for the products and the composite.
        const both = group.multiplyPackedComposite(k, blinded, (D) => compositeWeights(suite, B, blinded, D, 0));
        if (both.composite === null) throw new GroupError('identity_element', 'result is the identity');
        evaluated = both.evaluated;
        M = both.composite;
      } else {
        evaluated = group.multiplyPacked(k, blinded);
        M = group.multiScalarMultiply(compositeWeights(suite, B, blinded, evaluated, 0), blinded);
      }
      const r = proofScalar === undefined ? scalar.random(rng) : scalarInputBytes(group, proofScalar).slice();
      try {
        return { evaluated, proof: proveFromComposite(suite, k, B, M, r) };
      } finally {
        r.fill(0); // the nonce r reveals k from the proof: not kept
      }
    },

    finalize(state, evaluated, verify) {
      const n = state.inputs.length;
      if (mode === Modes.VOPRF && verify) {
        const fused = finalizeFused(state, evaluated, verify);
        if (fused) return fused;
      }
      let count: number;
      try {
        count = group.validatePacked(evaluated);
      } catch (err) {
        throw new OprfError('bad_evaluation', `evaluated elements rejected: ${(err as Error).message}`, { cause: err });
      }
      if (count !== n) throw new OprfError('bad_evaluation', `expected ${n} evaluated elements, got ${count}`);
      if (mode === Modes.VOPRF) {
        if (!verify) throw new OprfError('proof_missing', 'VOPRF finalize needs the proof and the public key');
        verifyProof(verify.publicKey, state.blinded, evaluated, verify.proof);
      }
      const unblinded = unblind(state.blinds, evaluated);
      const size = group.elementSize;
      return state.inputs.map((input, i) => finalizeOne(input, unblinded.subarray(i * size, (i + 1) * size)));
    },

    finalizeUnblinded: (input, unblinded) => finalizeOne(input, unblinded),

    evaluate(secretKey, inputs) {
      const k = secretScalar(secretKey);
      inputs.forEach(checkInput);
      const evaluated = group.hashToGroupMultiply
        ? group.hashToGroupMultiply(k, inputs, hashToGroupDST)
        : group.multiplyPacked(k, group.hashToGroupBatch(inputs, hashToGroupDST));
      const size = group.elementSize;
      return inputs.map((input, i) => finalizeOne(input, evaluated.subarray(i * size, (i + 1) * size)));
    },
  };

  /**
   * VOPRF Finalize where the group can unblind and compute Z = sum d_i D_i from one
   * decoding of each D_i (multiplyEachComposite): the same outputs and, in the same order,
   * the same errors as the general path below, which runs instead whenever this cannot
   * (undefined: a small batch, malformed inputs, a bad blind). The unblinded elements are
   * computed before the proof is checked, and returned only once it verifies.
   */
  function finalizeFused(state: BlindState, evaluated: Uint8Array, verify: { proof: Uint8Array; publicKey: Uint8Array }): Uint8Array[] | undefined {
    const n = state.inputs.length;
    const size = group.elementSize;
    const C = state.blinded;
    if (!group.multiplyEachComposite || n > MAX_PROOF_BATCH || !(evaluated instanceof Uint8Array) || evaluated.length !== n * size) return undefined;
    if (!(C instanceof Uint8Array) || C.length !== n * size || state.blinds.length !== n || !(verify.publicKey instanceof Uint8Array)) return undefined;
    let inverses: Uint8Array[];
    try {
      inverses = scalar.invertEach(state.blinds);
    } catch {
      return undefined; // a bad blind: the general path reports it, after the evaluated elements
    }
    const weights = compositeWeights(suite, verify.publicKey, C, evaluated, 0);
    let both: { products: Uint8Array; composite: Uint8Array | null } | undefined;
    try {
      both = group.multiplyEachComposite(inverses, evaluated, weights);
    } catch (err) {
      // The first bad evaluated element, named as validatePacked names it.
      if (err instanceof GroupError && err.message.startsWith('element at index')) {
        throw new OprfError('bad_evaluation', `evaluated elements rejected: ${err.message}`, { cause: err });
      }
      throw err;
    } finally {
      for (const inverse of inverses) inverse.fill(0);
    }
    if (!both) return undefined;
    const { products, composite } = both;
    verifyFromComposites(suite, verify.publicKey, verify.proof, () => {
      if (composite === null) throw new GroupError('identity_element', 'result is the identity');
      return { M: group.multiScalarMultiply(weights, C), Z: composite };
    });
    return state.inputs.map((input, i) => finalizeOne(input, products.subarray(i * size, (i + 1) * size)));
  }

  /** Each evaluated element times the inverse of its blind (RFC 9497 §3.3.1 Finalize); the inverses are wiped. */
  function unblind(blinds: readonly Uint8Array[], evaluated: Uint8Array): Uint8Array {
    const inverses = scalar.invertEach(blinds);
    try {
      return group.multiplyEach(inverses, evaluated);
    } finally {
      for (const inverse of inverses) inverse.fill(0);
    }
  }

  /** RFC 9497 §2.2.2 VerifyProof; any malformed part is a failed proof, never a crash. */
  function verifyProof(publicKey: Uint8Array, C: Uint8Array, D: Uint8Array, proof: Uint8Array): void {
    verifyFromComposites(suite, publicKey, proof, () => {
      const weights = compositeWeights(suite, publicKey, C, D, 0);
      return { M: group.multiScalarMultiply(weights, C), Z: group.multiScalarMultiply(weights, D) };
    });
  }

  return Object.freeze(suite);
}
