/**
 * `prepareServerSet` with the group work on a pool: the same distinct items, the same key
 * (drawn here from the caller's rng, as the single-thread version draws it) and the same
 * packed k*H(y_i), byte for byte.
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
  // Fused on the workers (as prepareServerSet fuses on one thread): H(y) is never encoded and sent back to be decoded again.
  const elements = await pool.hashToGroupMultiplyPacked(suite.id, suite.mode, keyPair.secretKey, distinct);
  return { suite, keys: keyPair, items: distinct, elements };
}
