export { createSuite, randomScalar, Modes, SuiteIds, MAX_INPUT_BYTES, MAX_PROOF_BATCH } from './suite.js';
export type { OprfSuite, SuiteId, Mode, KeyPair, BlindState, VerifiableEvaluation } from './suite.js';
export { groupIdOf } from './suite-group.js';
