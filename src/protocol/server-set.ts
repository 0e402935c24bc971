/**
 * The server's side of session PSI before any client arrives: a fresh key for this
 * session and k*H(y) for every server item. This is the expensive part (one hash to the
 * group and one scalar multiplication per item); it is a plain function of its inputs so
 * it can run in a worker pool and be reused for one session only.
 */
import type { Rng } from '../group/types.js';
import type { KeyPair, OprfSuite } from '../oprf/suite.js';

export interface PreparedServerSet {
  readonly suite: OprfSuite;
  readonly keys: KeyPair;
  readonly items: readonly Uint8Array[];
  /** Packed k*H(y_i), same order as items. */
  readonly elements: Uint8Array;
  /** F(k, y_i) = suite.finalizeUnblinded(y_i, elements_i), when computed with them (on a pool): the intersection tags. */
  readonly outputs?: readonly Uint8Array[];
}

/** Distinct items only: duplicates would leak through the encoding's count. */
export function distinctItems(items: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const item of items) {
    const key = bytesKey(item);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(item);
    }
  }
  return out;
}

export function bytesKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

export function prepareServerSet(suite: OprfSuite, items: readonly Uint8Array[], rng: Rng, keys?: KeyPair): PreparedServerSet {
  const distinct = distinctItems(items);
  const keyPair = keys ?? suite.generateKeyPair(rng);
  const k = suite.group.scalar.check(keyPair.secretKey); // stays bytes: no BigInt of the key
  const { group } = suite;
  // k*H(y) for every item; fused where the backend can (no encode/decode of H(y) between).
  const elements = group.hashToGroupMultiply
    ? group.hashToGroupMultiply(k, distinct, suite.hashToGroupDST)
    : group.multiplyPacked(k, group.hashToGroupBatch(distinct, suite.hashToGroupDST));
  return { suite, keys: keyPair, items: distinct, elements };
}
