/**
 * RFC 9497 §2.2 batched DLEQ proofs, split so the pool can spread them over workers. The
 * composite M = sum d_i C_i (and Z = sum d_i D_i) is linear in the batch, and each weight
 * d_i depends only on the public key, the batch index i, C_i and D_i (§2.2.1
 * ComputeComposites). So every worker computes the weights and partial sums of its slice
 * (with global indices), and the main thread adds the partials and runs the constant-size
 * rest: one proof over the whole batch, byte-identical to `suite.blindEvaluateVerifiable`
 * with the same proof scalar, and accepted exactly when `suite.finalize` accepts.
 */
import { GroupError } from '../errors.js';
import { concat } from '../oprf/encoding.js';
import type { Group } from '../group/types.js';

export { compositeWeights, proveFromComposite, verifyFromComposites } from '../oprf/dleq.js';

/**
 * sum weights[i] * packed[i], or null for the identity: a slice's partial sum may be the
 * identity although the total is not. The elements must have been validated, so an
 * `identity_element` here can only be the result.
 */
export function partialSum(group: Group, weights: readonly bigint[] | Uint8Array, packed: Uint8Array): Uint8Array | null {
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

