/** The worker pool as a session's OprfOffload (src/protocol/offload.ts): same bytes, other cores. */
import type { OprfOffload } from '../protocol/offload.js';
import type { WorkerPool } from './pool.js';

export const poolOffload = (pool: WorkerPool): OprfOffload => ({
  blindWith: (suite, inputs, blinds) => pool.blindWith(suite.id, suite.mode, inputs, blinds),
  finalize: (suite, state, evaluated, verify) => pool.finalize(suite.id, suite.mode, state, evaluated, verify),
  blindAdditive: (suite, inputs, blinds) => pool.blindAdditive(suite.id, suite.mode, inputs, blinds),
  finalizeAdditive: (suite, state, evaluated, verify) => pool.finalizeAdditive(suite.id, suite.mode, state, evaluated, verify),
  blindEvaluateVerifiable: (suite, secretKey, blinded, rng) => pool.blindEvaluateVerifiable(suite.id, suite.mode, secretKey, blinded, rng),
});
