/**
 * Why a client could not reach the server at all. A WebSocket that never opens reports
 * only a close 1006 ("abnormal"), which reads the same for a server that is down, a host
 * name that does not resolve and TLS spoken to a plain server; Node's ws hands the socket
 * error to the `error` event just before, and that cause is kept here with a stable code.
 * Browsers give no cause (their error event carries none, by design): they still see
 * ConnectionClosedError 1006.
 */
import { ContactPsiError } from '../../errors.js';

export const ConnectFailureCodes = [
  'connect_refused', // nothing listens on that host and port (ECONNREFUSED)
  'dns_failure', // the host name does not resolve (ENOTFOUND, EAI_AGAIN)
  'tls_failure', // the TLS handshake failed: wss:// to a plain server, a certificate not trusted, expired or for another name
  'connect_failed', // any other failure before the WebSocket opened (unreachable network, reset, timeout at the TCP level)
] as const;
export type ConnectFailureCode = (typeof ConnectFailureCodes)[number];

export class ConnectFailedError extends ContactPsiError {
  declare readonly code: ConnectFailureCode;
  /** The system's code for the cause (ECONNREFUSED, ENOTFOUND, ERR_SSL_WRONG_VERSION_NUMBER...), when it gave one. */
  readonly systemCode: string | undefined;

  constructor(code: ConnectFailureCode, message: string, systemCode: string | undefined, cause: unknown) {
    super(code, message, { cause });
    this.systemCode = systemCode;
  }
}

/** Certificate errors of Node's TLS (X509_V_ERR_* names without the prefix). */
const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
]);

const DESCRIPTIONS: Record<ConnectFailureCode, string> = {
  connect_refused: 'connection refused (is the server running, on this host and port?)',
  dns_failure: 'the host name does not resolve',
  tls_failure: 'the TLS handshake failed (wss:// needs a TLS server; ws:// is for a plain one)',
  connect_failed: 'the connection failed',
};

export function connectFailureCodeOf(systemCode: string | undefined, err: { library?: unknown } = {}): ConnectFailureCode {
  if (systemCode === 'ECONNREFUSED') return 'connect_refused';
  if (systemCode === 'ENOTFOUND' || systemCode === 'EAI_AGAIN' || systemCode === 'EAI_FAIL' || systemCode === 'EAI_NONAME') return 'dns_failure';
  if (systemCode !== undefined && (systemCode.startsWith('ERR_SSL_') || systemCode.startsWith('ERR_TLS_') || systemCode === 'EPROTO' || CERT_CODES.has(systemCode))) return 'tls_failure';
  if (typeof err.library === 'string' && /ssl|tls/i.test(err.library)) return 'tls_failure';
  return 'connect_failed';
}

/** `scheme://host:port` of a URL, without a path, query or credentials that may hold a secret. */
export function urlOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the server';
  }
}

/** The typed error for a socket error seen before the WebSocket opened. */
export function connectFailure(url: string, cause: unknown): ConnectFailedError {
  const err = (typeof cause === 'object' && cause !== null ? cause : {}) as { code?: unknown; library?: unknown; message?: unknown };
  const systemCode = typeof err.code === 'string' ? err.code : undefined;
  const code = connectFailureCodeOf(systemCode, err);
  const detail = systemCode ?? (typeof err.message === 'string' ? err.message : undefined);
  return new ConnectFailedError(code, `cannot connect to ${urlOrigin(url)}: ${DESCRIPTIONS[code]}${detail ? ` [${detail}]` : ''}`, systemCode, cause);
}
