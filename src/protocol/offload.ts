/**
 * Where a session may send its group work: the OPRF steps of a large batch, run elsewhere
 * (src/parallel's worker pool implements this with `poolOffload`). Every method must return
 * exactly the bytes the suite's own method returns, with the same error codes, so a session
 * behaves the same with or without an offload; only the event loop stays free.
 */
import type { Rng } from '../group/types.js';
import type { BlindState, OprfSuite, VerifiableEvaluation } from '../oprf/suite.js';

export interface OprfOffload {
  /** `suite.blindWith(inputs, blinds)`. */
  blindWith(suite: OprfSuite, inputs: readonly Uint8Array[], blinds: readonly Uint8Array[]): Promise<BlindState>;
  /** `suite.finalize(state, evaluated, verify)`, the DLEQ proof checked over the whole batch. */
  finalize(suite: OprfSuite, state: BlindState, evaluated: Uint8Array, verify: { proof: Uint8Array; publicKey: Uint8Array }): Promise<Uint8Array[]>;
  /** src/oprf/additive.ts `blindAdditive(suite, inputs, blinds)` (VOPRF clients; absent: multiplicative blinding only). */
  blindAdditive?(suite: OprfSuite, inputs: readonly Uint8Array[], blinds: readonly Uint8Array[]): Promise<BlindState>;
  /** src/oprf/additive.ts `finalizeAdditive`: nothing is unblinded before the batch's proof verifies. */
  finalizeAdditive?(suite: OprfSuite, state: BlindState, evaluated: Uint8Array, verify: { proof: Uint8Array; publicKey: Uint8Array }): Promise<Uint8Array[]>;
  /** `suite.blindEvaluateVerifiable(secretKey, blinded, rng)`. */
  blindEvaluateVerifiable(suite: OprfSuite, secretKey: Uint8Array, blinded: Uint8Array, rng: Rng): Promise<VerifiableEvaluation>;
}
