/**
 * `prepareServerSet` with the group work on a pool: the same distinct items, the same key
 * (drawn here from the caller's rng, as the single-thread version draws it) and the same
 * packed k*H(y_i), byte for byte; plus the outputs F(k, y_i) (PreparedServerSet.outputs).
 */
import type { Rng } from '../group/types.js';
import type { KeyPair, OprfSuite } from '../oprf/suite.js';
import { distinctItems, type PreparedServerSet } from '../protocol/server-set.js';
import type { WorkerPool } from './pool.js';

export async function prepareServerSetParallel(
  pool: WorkerPool,
  suite: OprfSuite,
  items: readonly Uint8Array[],
  rng: Rng,
  keys?: KeyPair,
): Promise<PreparedServerSet> {
  const distinct = distinctItems(items);
  const keyPair = keys ?? suite.generateKeyPair(rng);
  // Fused on the workers (as prepareServerSet fuses on one thread): H(y) is never encoded
  // and sent back to be decoded again, and the outputs F(k, y) a session's intersection
  // encoding is built from are hashed there too, not one by one on the session's thread.
  const { elements, outputs } = await pool.hashMultiplyFinalize(suite.id, suite.mode, keyPair.secretKey, distinct);
  return { suite, keys: keyPair, items: distinct, elements, outputs };
}
