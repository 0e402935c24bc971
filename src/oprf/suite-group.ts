import type { GroupId } from '../group/types.js';
import type { SuiteId } from './suite.js';

/** RFC 9497 §4: each ciphersuite fixes its prime-order group. */
export const groupIdOf = (suite: SuiteId): GroupId => (suite === 'ristretto255-SHA512' ? 'ristretto255' : 'P256');
