/**
 * A verifiability failure that carries its proof. When the directory's own signatures
 * contradict each other (two bodies for one (epoch, version), or one log position), both
 * signed envelopes are kept in `evidence`: anyone holding the pinned identity key can check
 * them, so a client can publish the equivocation instead of only refusing it.
 */
import { ProtocolError, type ProtocolErrorCode } from '../errors.js';

export class VerifiabilityError extends ProtocolError {
  /** Signed envelopes (announcement.ts) that together prove the failure, when there are any. */
  readonly evidence: readonly Uint8Array[];
  /** The witness whose answer disagreed or failed, when a witness was involved. */
  readonly witness: string | undefined;

  constructor(code: ProtocolErrorCode, message: string, options: { evidence?: readonly Uint8Array[]; witness?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.evidence = options.evidence ?? [];
    this.witness = options.witness;
  }
}
