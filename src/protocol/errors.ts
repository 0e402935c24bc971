import { ContactPsiError } from '../errors.js';

/**
 * Stable error codes of the wire protocol (spec/protocol.md §Errors). A code received in
 * an `error` message is raised as a ProtocolError with `remote: true`; one found locally
 * has `remote: false`, so an integrator can tell "the peer said no" from "the peer is broken".
 */
export const ProtocolErrorCodes = [
  'malformed', // bytes are not a msgpack map of the expected shape
  'bad_version', // protocol version not supported
  'unknown_type', // message type not known
  'bad_field', // a field is missing, of the wrong type, or out of range
  'too_large', // a count or length above the limits
  'unexpected_message', // valid message, wrong state
  'bad_element', // an invalid or identity group element
  'unsupported', // suite, mode or encoding not offered
  'proof_invalid', // VOPRF proof did not verify
  'bad_encoding', // the set encoding did not parse
  'timeout',
  'internal',
  'unauthorized',
  'rate_limited',
  'overloaded',
  'closed',
  'split_view', // two different snapshots for one (epoch, version): the directory is lying to someone
  'bad_signature', // a directory identity signature that does not verify (spec/verifiability.md)
  'identity_mismatch', // signed by another directory identity key than the pinned one
  'key_conflict', // an epoch key for an epoch lower than or equal to one seen, with other bytes
  'rollback', // an announcement older than one already seen (lower epoch, or lower version in an epoch)
  'unknown_epoch', // an announcement for an epoch whose signed key statement was not seen
  'bad_log', // an announcement log out of order, with a gap, a duplicate or a broken chain
] as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCodes)[number];

export class ProtocolError extends ContactPsiError {
  declare readonly code: ProtocolErrorCode;
  /** With `rate_limited`: how long until the request can succeed. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ProtocolErrorCode, message: string, options: { remote?: boolean; cause?: unknown; retryAfterMs?: number } = {}) {
    super(code, message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The codec's own error: anything wrong with bytes from the wire. */
export class CodecError extends ProtocolError {}

export const isProtocolErrorCode = (code: unknown): code is ProtocolErrorCode =>
  typeof code === 'string' && (ProtocolErrorCodes as readonly string[]).includes(code);
