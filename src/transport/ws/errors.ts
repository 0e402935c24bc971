/**
 * Transport-level failures, all ProtocolErrors with a stable code so callers branch on
 * `code` whichever layer found the problem.
 */
import { ProtocolError, type ProtocolErrorCode } from '../../protocol/errors.js';

/** The connection ended before the session did; `closeCode` is what the socket reported. */
export class ConnectionClosedError extends ProtocolError {
  readonly closeCode: number;
  readonly closeReason: string;

  constructor(closeCode: number, closeReason: string, context: string) {
    super('closed', `connection closed with ${closeCode}${closeReason ? ` (${closeReason})` : ''} ${context}`);
    this.closeCode = closeCode;
    this.closeReason = closeReason;
  }
}

/** The server refused the WebSocket upgrade with an HTTP status (seen by Node clients only). */
export class UpgradeRejectedError extends ProtocolError {
  readonly status: number;

  constructor(status: number) {
    super(statusCodes[status] ?? 'closed', `server refused the upgrade with HTTP ${status}`, { remote: true });
    this.status = status;
  }
}

const statusCodes: Record<number, ProtocolErrorCode> = { 401: 'unauthorized', 429: 'rate_limited', 503: 'overloaded' };

/** HTTP status for a refused upgrade: an authenticate() callback may throw these codes. */
export function statusForRejection(err: unknown): 401 | 429 | 503 {
  if (err instanceof ProtocolError && err.code === 'rate_limited') return 429;
  if (err instanceof ProtocolError && err.code === 'overloaded') return 503;
  return 401;
}

/**
 * Errors ws raises while parsing frames (it has already started closing the socket with
 * its own close code, so no error message can follow). Only the length error has its own
 * protocol code; any other frame error is `malformed`, a socket error is `closed`.
 */
export function fromWsError(err: Error & { code?: string }): ProtocolError {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return new ProtocolError('too_large', 'frame exceeds maxPayloadBytes', { cause: err });
  if (err.code?.startsWith('WS_ERR_')) return new ProtocolError('malformed', `invalid WebSocket frame (${err.code})`, { cause: err });
  return new ProtocolError('closed', `socket error (${err.code ?? 'unknown'})`, { cause: err });
}
