/**
 * Bearer tokens at the upgrade. Node clients send `Authorization: Bearer <token>`;
 * browsers cannot set headers on a WebSocket, so they offer a subprotocol
 * `bearer.<token>` next to `contact-psi` (RFC 6455 §1.9), and the server answers with
 * `contact-psi`, never echoing the token back when it can avoid it.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The subprotocol a client offers; the server selects it when offered. */
export const SUBPROTOCOL = 'contact-psi';
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

export interface AuthRequest {
  /** The bearer token, if the client sent one (header first, then subprotocol). */
  token?: string;
  headers: IncomingHttpHeaders;
  remoteAddress?: string;
}

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headers.authorization ?? '');
  if (match) return match[1];
  for (const protocol of offeredProtocols(headers)) {
    if (protocol.startsWith(BEARER_PROTOCOL_PREFIX) && protocol.length > BEARER_PROTOCOL_PREFIX.length) {
      return protocol.slice(BEARER_PROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}

function offeredProtocols(headers: IncomingHttpHeaders): string[] {
  const raw = headers['sec-websocket-protocol'];
  if (!raw) return [];
  return raw.split(',').map((p) => p.trim()).filter(Boolean);
}

/**
 * Which offered subprotocol to select. A browser fails the connection when it offered
 * protocols and none is selected, so if the client offered only its bearer protocol,
 * that one is echoed (to the same client, over the same connection).
 */
export function selectProtocol(offered: Set<string>): string | false {
  if (offered.has(SUBPROTOCOL)) return SUBPROTOCOL;
  for (const p of offered) if (!p.startsWith(BEARER_PROTOCOL_PREFIX)) return p;
  for (const p of offered) return p;
  return false;
}
