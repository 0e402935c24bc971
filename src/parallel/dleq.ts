/**
 * RFC 9497 §2.2 batched DLEQ proofs, split so the pool can spread them over workers. The
 * composite M = sum d_i C_i (and Z = sum d_i D_i) is linear in the batch, and each weight
 * d_i depends only on the public key, the batch index i, C_i and D_i (§2.2.1
 * ComputeComposites). So every worker computes the weights and partial sums of its slice
 * (with global indices), and the main thread adds the partials and runs the constant-size
 * rest: one proof over the whole batch, byte-identical to `suite.blindEvaluateVerifiable`
 * with the same proof scalar, and accepted exactly when `suite.finalize` accepts.
 */
import { GroupError, OprfError } from '../errors.js';
import { elementAt } from '../group/packed.js';
import { mod } from '../group/scalar-field.js';
import type { Group } from '../group/types.js';
import { ascii, concat, i2osp, lengthPrefixed } from '../oprf/encoding.js';
import type { OprfSuite } from '../oprf/suite.js';

const dstOf = (suite: OprfSuite, prefix: string): Uint8Array => concat(ascii(prefix), suite.contextString);

/** d_i for i = offset .. offset + n - 1 (ComputeComposites, RFC 9497 §2.2.1). */
export function compositeWeights(suite: OprfSuite, publicKey: Uint8Array, C: Uint8Array, D: Uint8Array, offset: number): bigint[] {
  const { group } = suite;
  const size = group.elementSize;
  const n = C.length / size;
  const seed = suite.hash(concat(lengthPrefixed(publicKey), lengthPrefixed(dstOf(suite, 'Seed-'))));
  const seedPart = lengthPrefixed(seed);
  const composite = ascii('Composite');
  const dst = dstOf(suite, 'HashToScalar-');
  const weights = new Array<bigint>(n);
  for (let i = 0; i < n; i++) {
    const transcript = concat(seedPart, i2osp(offset + i, 2), lengthPrefixed(elementAt(C, i, size)), lengthPrefixed(elementAt(D, i, size)), composite);
    weights[i] = group.hashToScalar(transcript, dst);
  }
  return weights;
}

/**
 * sum weights[i] * packed[i], or null for the identity: a slice's partial sum may be the
 * identity although the total is not. The elements must have been validated, so an
 * `identity_element` here can only be the result.
 */
export function partialSum(group: Group, weights: readonly bigint[], packed: Uint8Array): Uint8Array | null {
  if (weights.length === 0) return null;
  try {
    return group.multiScalarMultiply(weights, packed);
  } catch (err) {
    if (err instanceof GroupError && err.code === 'identity_element') return null;
    throw err;
  }
}

/** Adds the slices' partial sums; the identity total throws `identity_element`, as the suite's own sum does. */
export function sumPartials(group: Group, partials: readonly (Uint8Array | null | undefined)[]): Uint8Array {
  const terms = partials.filter((p): p is Uint8Array => p instanceof Uint8Array);
  if (terms.length === 0) throw new GroupError('identity_element', 'result is the identity');
  if (terms.length === 1) return terms[0];
  return group.multiScalarMultiply(terms.map(() => 1n), concat(...terms));
}

function challenge(suite: OprfSuite, B: Uint8Array, M: Uint8Array, Z: Uint8Array, t2: Uint8Array, t3: Uint8Array): bigint {
  const transcript = concat(lengthPrefixed(B), lengthPrefixed(M), lengthPrefixed(Z), lengthPrefixed(t2), lengthPrefixed(t3), ascii('Challenge'));
  return suite.group.hashToScalar(transcript, dstOf(suite, 'HashToScalar-'));
}

/** GenerateProof (§2.2.1) from the composite M, with ComputeCompositesFast's Z = k*M; B = k*G. */
export function proveFromComposite(suite: OprfSuite, k: bigint, B: Uint8Array, M: Uint8Array, r: bigint): Uint8Array {
  const { group } = suite;
  const { scalar } = group;
  const Z = group.multiply(k, M);
  const t2 = group.multiplyBase(r);
  const t3 = group.multiply(r, M);
  const c = challenge(suite, B, M, Z, t2, t3);
  const s = mod(r - c * k, scalar.order);
  return concat(scalar.toBytes(c), scalar.toBytes(s));
}

/** VerifyProof (§2.2.2) from the slices' partial M and Z; as in the suite, anything malformed is `proof_invalid`. */
export function verifyFromComposites(
  suite: OprfSuite,
  publicKey: Uint8Array,
  proof: Uint8Array,
  partialM: readonly (Uint8Array | null | undefined)[],
  partialZ: readonly (Uint8Array | null | undefined)[],
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
    const M = sumPartials(group, partialM);
    const Z = sumPartials(group, partialZ);
    const t2 = group.multiScalarMultiply([s, c], concat(group.generator, publicKey));
    const t3 = group.multiScalarMultiply([s, c], concat(M, Z));
    if (challenge(suite, publicKey, M, Z, t2, t3) !== c) throw new OprfError('proof_invalid', 'DLEQ proof does not verify');
  } catch (err) {
    if (err instanceof GroupError) throw new OprfError('proof_invalid', `DLEQ proof rejected: ${err.message}`, { cause: err });
    throw err;
  }
}
