/**
 * Tags are what the set encodings hold and what the client looks up.
 * - intersection mode: the RFC 9497 OPRF output F(k, x) = Finalize(x, k*H(x)), bound to x;
 * - cardinality mode: an element-only tag Hash(len || k*H(x) || label). It does not need x,
 *   so the client can compute it for evaluations the server has shuffled, and thus learns
 *   how many matched but not which.
 */
import { ascii, concat, lengthPrefixed } from '../oprf/encoding.js';
import type { OprfSuite } from '../oprf/suite.js';

const CARDINALITY_LABEL = ascii('contact-psi-v1-cardinality-tag');

export function elementTag(suite: OprfSuite, element: Uint8Array): Uint8Array {
  return suite.hash(concat(lengthPrefixed(element), CARDINALITY_LABEL));
}

export function elementTags(suite: OprfSuite, packed: Uint8Array): Uint8Array[] {
  const size = suite.group.elementSize;
  const out: Uint8Array[] = [];
  for (let off = 0; off < packed.length; off += size) out.push(elementTag(suite, packed.subarray(off, off + size)));
  return out;
}
