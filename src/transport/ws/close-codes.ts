/**
 * WebSocket close codes (RFC 6455 §7.4). A failed session closes with one application
 * code (4000-4999, the private-use range) per ProtocolError code, so the close code alone
 * names the cause even where the `error` message before it is lost (a proxy, a browser
 * that only surfaces the close event). Where an HTTP status fits, the code is 4000 + it.
 */
import type { ProtocolErrorCode } from '../../protocol/errors.js';

/** Standard codes the transport uses. */
export const StandardCloseCodes = {
  /** The session finished. */
  normal: 1000,
  /** The server is shutting down (graceful close after the grace period). */
  goingAway: 1001,
  /** Sent by ws itself when a frame is longer than maxPayload; no error message precedes it. */
  messageTooBig: 1009,
} as const;

export const ErrorCloseCodes = {
  malformed: 4400, // 400 Bad Request (also: a text frame)
  unauthorized: 4401, // 401
  proof_invalid: 4403, // 403: the server's proof did not verify
  unknown_type: 4404, // 404: no such message type
  timeout: 4408, // 408 Request Timeout (idle, session deadline, lifetime, heartbeat)
  unexpected_message: 4409, // 409 Conflict: valid message in the wrong state
  too_large: 4413, // 413 Content Too Large
  bad_encoding: 4415, // 415: the set encoding did not parse
  split_view: 4417, // 417 Expectation Failed: two snapshots for one (epoch, version)
  bad_field: 4422, // 422 Unprocessable Content
  bad_element: 4424, // invalid or identity group element
  bad_version: 4426, // 426 Upgrade Required: protocol version not supported
  rate_limited: 4429, // 429 Too Many Requests
  closed: 4499, // 499 (nginx: client closed request)
  internal: 4500, // 500
  unsupported: 4501, // 501 Not Implemented: suite, mode or encoding not offered
  overloaded: 4503, // 503 Service Unavailable
  // Verifiability (spec/verifiability.md): no HTTP status fits, so 4460 and up.
  bad_signature: 4460,
  identity_mismatch: 4461,
  key_conflict: 4462,
  rollback: 4463,
  unknown_epoch: 4464,
  bad_log: 4465,
} as const satisfies Record<ProtocolErrorCode, number>;

export type ErrorCloseCode = (typeof ErrorCloseCodes)[ProtocolErrorCode];

export const closeCodeFor = (code: ProtocolErrorCode): ErrorCloseCode => ErrorCloseCodes[code];

const byCloseCode = new Map<number, ProtocolErrorCode>(
  Object.entries(ErrorCloseCodes).map(([code, close]) => [close, code as ProtocolErrorCode]),
);

/** The ProtocolError code an application close code stands for, if it is one of ours. */
export const errorCodeForClose = (closeCode: number): ProtocolErrorCode | undefined => byCloseCode.get(closeCode);
