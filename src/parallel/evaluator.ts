/** Plugs a pool into Directory precompute (DirectoryOpenOptions.evaluator). */
import type { TagEvaluator } from '../directory/precompute.js';
import type { OprfSuite } from '../oprf/suite.js';
import type { WorkerPool } from './pool.js';

export type { TagEvaluator } from '../directory/precompute.js';

/** Evaluates on the pool; precompute uses `evaluateAndSeal`, so the labels are sealed on the workers too. */
export const poolEvaluator = (pool: WorkerPool, suite: OprfSuite): TagEvaluator =>
  Object.assign((secretKey: Uint8Array, inputs: readonly Uint8Array[]) => pool.evaluate(suite.id, suite.mode, secretKey, inputs), {
    evaluateAndSeal: (secretKey: Uint8Array, inputs: readonly Uint8Array[], labels: readonly { userId: string; label: Uint8Array }[], nonces: Uint8Array) =>
      pool.evaluateAndSeal(suite.id, suite.mode, secretKey, inputs, labels, nonces),
  });
