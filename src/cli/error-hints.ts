/**
 * What to do about an error, printed under it by main.ts (`hint: ...`). Codes come from
 * the transport client (ConnectFailedError, UpgradeRejectedError); the hint names the
 * option that fixes it. A hint never quotes a token.
 */
export interface HintContext {
  /** Whether the command sent a bearer token (from --token, --token-file or CONTACT_PSI_TOKEN). */
  readonly tokenSent: boolean;
}

/** The hint for an error, by its `code` (and, for rate_limited, whether HTTP refused it and when to retry). */
export function hintFor(err: unknown, context: HintContext): string | undefined {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; status?: unknown; retryAfterMs?: unknown };
  switch (e.code) {
    case 'connect_refused':
      return 'nothing listens there: check the host and port of --server, and that `contact-psi serve` is running';
    case 'dns_failure':
      return 'check the host name in --server (and this machine\'s DNS)';
    case 'tls_failure':
      return 'wss:// needs a server with TLS (often behind a proxy); a plain `contact-psi serve` is ws://. A certificate error names the certificate problem above';
    case 'connect_failed':
      return 'the server could not be reached: check --server and the network';
    case 'unauthorized':
      return context.tokenSent
        ? 'the server did not accept the token: check the file given to --token-file (or CONTACT_PSI_TOKEN) against the server\'s tokens file'
        : 'the server wants a bearer token: pass --token-file <file> (one line, the token) or set CONTACT_PSI_TOKEN';
    case 'rate_limited': {
      const when = typeof e.retryAfterMs === 'number' ? `retry in ${Math.ceil(e.retryAfterMs / 1000)} s` : 'retry later';
      return e.status === 429
        ? `the server turned the connection away (HTTP 429): too many connections at once from this address or for this account; ${when}`
        : `this account's query quota is used up for now (contacts seen before are not charged again); ${when}`;
    }
    case 'overloaded':
      return 'the server is at its connection limit or shutting down (HTTP 503); retry later';
    default:
      return undefined;
  }
}
