/**
 * RFC 9497 §2.2 batched DLEQ proofs, in pieces the suite and the worker pool share. The
 * composite M = sum d_i C_i (and Z = sum d_i D_i) is linear in the batch, and each weight
 * d_i depends only on the public key, the batch index i, C_i and D_i (§2.2.1
 * ComputeComposites), so a batch can be weighted in slices (with global indices) and the
 * partial sums added; the rest of the proof is constant-size.
 */
import { GroupError, OprfError } from '../errors.js';
import { elementAt } from '../group/packed.js';
import type { Group } from '../group/types.js';
import { ascii, concat, i2osp, lengthPrefixed } from './encoding.js';

/** What the proofs need of a suite (an OprfSuite has all of it). */
export interface DleqContext {
  readonly group: Group;
  readonly hash: (msg: Uint8Array) => Uint8Array;
  readonly contextString: Uint8Array;
  readonly proofSize: number;
}

/** RFC 9497 §2.2.1 encodes the batch index with I2OSP(i, 2): one proof covers at most 2^16 - 1 items. */
export const MAX_PROOF_BATCH = 0xffff;

const dstOf = (suite: DleqContext, prefix: string): Uint8Array => concat(ascii(prefix), suite.contextString);

/**
 * d_i for i = offset .. offset + n - 1 (ComputeComposites, RFC 9497 §2.2.1), packed as
 * SerializeScalar bytes (n x scalar.byteLength), the form `multiScalarMultiply` takes
 * without a BigInt per weight. One transcript buffer is reused: only the index and the two
 * elements change from one weight to the next.
 */
export function compositeWeights(suite: DleqContext, publicKey: Uint8Array, C: Uint8Array, D: Uint8Array, offset: number): Uint8Array {
  const { group } = suite;
  const size = group.elementSize;
  const scalarSize = group.scalar.byteLength;
  const n = C.length / size;
  if (offset + n > MAX_PROOF_BATCH) throw new OprfError('batch_too_large', `one proof covers at most ${MAX_PROOF_BATCH} elements`);
  if (D.length !== C.length || C.length % size !== 0) throw new OprfError('bad_input', 'the composites need as many evaluated as blinded elements');
  const seed = suite.hash(concat(lengthPrefixed(publicKey), lengthPrefixed(dstOf(suite, 'Seed-'))));
  const dst = dstOf(suite, 'HashToScalar-');
  // transcript = I2OSP(len(seed), 2) || seed || I2OSP(i, 2) || I2OSP(len(Ci), 2) || Ci || I2OSP(len(Di), 2) || Di || "Composite"
  const transcript = concat(lengthPrefixed(seed), i2osp(0, 2), lengthPrefixed(elementAt(C, 0, size)), lengthPrefixed(elementAt(D, 0, size)), ascii('Composite'));
  const indexAt = 2 + seed.length;
  const cAt = indexAt + 4;
  const dAt = cAt + size + 2;
  const weights = new Uint8Array(n * scalarSize);
  for (let i = 0; i < n; i++) {
    const index = offset + i;
    transcript[indexAt] = index >>> 8;
    transcript[indexAt + 1] = index & 0xff;
    transcript.set(C.subarray(i * size, (i + 1) * size), cAt);
    transcript.set(D.subarray(i * size, (i + 1) * size), dAt);
    weights.set(group.hashToScalarBytes(transcript, dst), i * scalarSize);
  }
  return weights;
}

function challenge(suite: DleqContext, B: Uint8Array, M: Uint8Array, Z: Uint8Array, t2: Uint8Array, t3: Uint8Array): bigint {
  const transcript = concat(lengthPrefixed(B), lengthPrefixed(M), lengthPrefixed(Z), lengthPrefixed(t2), lengthPrefixed(t3), ascii('Challenge'));
  return suite.group.hashToScalar(transcript, dstOf(suite, 'HashToScalar-'));
}

/**
 * GenerateProof (§2.2.1) from the composite M, with ComputeCompositesFast's Z = k*M; B = k*G.
 * k and the nonce r are secret SerializeScalar bytes: s = r - c*k runs in the scalar
 * field's byte arithmetic (libsodium's constant-time code on that backend), never on a
 * BigInt, since its timing would leak k. The challenge c is public.
 */
export function proveFromComposite(suite: DleqContext, k: Uint8Array, B: Uint8Array, M: Uint8Array, r: Uint8Array): Uint8Array {
  const { group } = suite;
  const { scalar } = group;
  const Z = group.multiply(k, M);
  const t2 = group.multiplyBase(r);
  const t3 = group.multiply(r, M);
  const c = scalar.toBytes(challenge(suite, B, M, Z, t2, t3));
  const ck = scalar.mul(c, k);
  try {
    return concat(c, scalar.sub(r, ck));
  } finally {
    ck.fill(0);
  }
}

/**
 * VerifyProof (§2.2.2) given a way to get the composites M and Z (computed whole, or summed
 * from slices); anything malformed, an identity composite included, is `proof_invalid`.
 */
export function verifyFromComposites(
  suite: DleqContext,
  publicKey: Uint8Array,
  proof: Uint8Array,
  composites: () => { M: Uint8Array; Z: Uint8Array },
): void {
  const { group } = suite;
  const { scalar } = group;
  if (!(proof instanceof Uint8Array) || proof.length !== suite.proofSize) {
    throw new OprfError('proof_invalid', `proof must be ${suite.proofSize} bytes`);
  }
  try {
    group.validateElement(publicKey);
    const c = scalar.fromBytes(proof.subarray(0, scalar.byteLength));
    const s = scalar.fromBytes(proof.subarray(scalar.byteLength));
    const { M, Z } = composites();
    const t2 = group.multiScalarMultiply([s, c], concat(group.generator, publicKey));
    const t3 = group.multiScalarMultiply([s, c], concat(M, Z));
    if (challenge(suite, publicKey, M, Z, t2, t3) !== c) throw new OprfError('proof_invalid', 'DLEQ proof does not verify');
  } catch (err) {
    if (err instanceof GroupError || (err instanceof OprfError && err.code !== 'proof_invalid')) throw new OprfError('proof_invalid', `DLEQ proof rejected: ${err.message}`, { cause: err });
    throw err;
  }
}
