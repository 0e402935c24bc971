/** Plugs a pool into Directory precompute (DirectoryOpenOptions.evaluator). */
import type { OprfSuite } from '../oprf/suite.js';
import type { WorkerPool } from './pool.js';

export type TagEvaluator = (secretKey: Uint8Array, inputs: readonly Uint8Array[]) => Promise<Uint8Array[]>;

export const poolEvaluator =
  (pool: WorkerPool, suite: OprfSuite): TagEvaluator =>
  (secretKey, inputs) =>
    pool.evaluate(suite.id, suite.mode, secretKey, inputs);
