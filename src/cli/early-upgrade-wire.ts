/**
 * The WebSocket opening handshake written and read by hand (RFC 6455 §4.1, §4.2.2), for
 * the connection `contact-psi sync` opens before it loads anything else (sync-entry.ts,
 * early-upgrade.ts; issue 13 §1, start-up): ws pulls in http, https, tls, zlib and stream
 * before its first byte, the handshake needs none of them. No I/O here: the request's
 * text, the response head's parse and the checks a client must make of a 101.
 *
 * The request is the one ws writes for the transport (openSocket in
 * src/transport/ws/client-socket.ts: one subprotocol, an Authorization header when there is
 * a token, no extension offered), so the server sees the same upgrade either way. The
 * response is checked as strictly as ws checks it, and more (Connection must name
 * Upgrade, §4.1 item 3; no header given twice): a 101 that fails any check is not used.
 */

/** RFC 6455 §1.3: the GUID appended to the key before hashing it into Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A response head larger than this is not read (the transport then connects afresh and
 * meets it itself). Node's own HTTP client refuses heads over 16 KiB by default
 * (--max-http-header-size), so no response ws would accept is refused here.
 */
export const DEFAULT_MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

/** Where and how to connect, from a ws:// or wss:// URL. */
export interface UpgradeTarget {
  readonly secure: boolean;
  /** For net/tls connect: an IPv6 address without its brackets. */
  readonly host: string;
  readonly port: number;
  /** The Host header: host[:port], the port left out when it is the scheme's default (as URL.host does). */
  readonly hostHeader: string;
  /** The request target: path and query, percent-encoded by the URL parser. */
  readonly path: string;
}

/**
 * The target of a URL the hand-written handshake takes; undefined for any other (not ws: or
 * wss:, credentials in the URL, a fragment: those go through ws, which reports them as
 * today).
 */
export function upgradeTarget(url: string): UpgradeTarget | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return undefined;
  // ws turns credentials into Basic auth and refuses a fragment: left to it.
  if (u.username !== '' || u.password !== '' || u.hash !== '' || u.hostname === '') return undefined;
  const secure = u.protocol === 'wss:';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { secure, host, port: u.port === '' ? (secure ? 443 : 80) : Number(u.port), hostHeader: u.host, path: `${u.pathname || '/'}${u.search}` };
}

/** A header value that cannot end the line or the head (what resolveClientToken guarantees for a token). */
const HEADER_VALUE = /^[\x21-\x7e]+$/;

/**
 * The upgrade request (RFC 6455 §4.1): GET, Host, Upgrade, Connection, a fresh
 * Sec-WebSocket-Key (16 random bytes, base64), version 13, the one subprotocol, and the
 * bearer token in the Authorization header.
 */
export function upgradeRequest(target: UpgradeTarget, key: string, protocol: string, token: string | undefined): string {
  for (const v of [key, protocol, token ?? 'x', target.hostHeader, target.path]) {
    // Never a second header or a second request through a value.
    if (!HEADER_VALUE.test(v)) throw new TypeError('upgrade request: a header value must be printable ASCII without spaces');
  }
  return (
    `GET ${target.path} HTTP/1.1\r\n` +
    `Host: ${target.hostHeader}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n' +
    `Sec-WebSocket-Protocol: ${protocol}\r\n` +
    (token === undefined ? '' : `Authorization: Bearer ${token}\r\n`) +
    '\r\n'
  );
}

export type ResponseHead =
  /** The head has not ended yet: read more. */
  | { readonly kind: 'partial' }
  /** No end of head within the limit. */
  | { readonly kind: 'too-large' }
  /**
   * A complete head: the status (undefined when the status line is not HTTP/1.1's), the
   * headers (undefined when a line is malformed), its bytes, and what came after it.
   */
  | { readonly kind: 'head'; readonly status: number | undefined; readonly headers: ReadonlyMap<string, string[]> | undefined; readonly headBytes: number; readonly rest: Uint8Array };

const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.1 (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/** RFC 9110 §5.1 token, then the value without leading or trailing blanks; no obsolete line folding. */
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?[ \t]*$/;

/** Reads the response head from the bytes received so far. */
export function parseResponseHead(received: Buffer, maxHeadBytes = DEFAULT_MAX_RESPONSE_HEAD_BYTES): ResponseHead {
  const end = received.subarray(0, maxHeadBytes).indexOf(HEAD_END);
  if (end < 0) return received.length >= maxHeadBytes ? { kind: 'too-large' } : { kind: 'partial' };
  const headBytes = end + HEAD_END.length;
  const lines = received.subarray(0, end).toString('latin1').split('\r\n');
  const status = STATUS_LINE.exec(lines[0]);
  let headers: Map<string, string[]> | undefined = new Map();
  for (const line of lines.slice(1)) {
    const m = HEADER_LINE.exec(line);
    if (!m) {
      headers = undefined;
      break;
    }
    const name = m[1].toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), m[2] ?? '']);
  }
  return { kind: 'head', status: status ? Number(status[1]) : undefined, headers, headBytes, rest: received.subarray(headBytes) };
}

/** What a client must check of a 101 (RFC 6455 §4.1, the client's items 1-6); the reason it fails, or undefined when it passes. */
export function switchRefusal(head: Extract<ResponseHead, { kind: 'head' }>, expectedAccept: string, protocol: string): string | undefined {
  if (head.status !== 101) return 'not a 101 response';
  const h = head.headers;
  if (!h) return 'a malformed header line';
  const one = (name: string): string | undefined => (h.get(name)?.length === 1 ? h.get(name)![0] : undefined);
  if (one('upgrade')?.toLowerCase() !== 'websocket') return 'Upgrade is not websocket';
  if (!(one('connection') ?? '').split(',').some((t) => t.trim().toLowerCase() === 'upgrade')) return 'Connection does not name Upgrade';
  if (one('sec-websocket-accept') !== expectedAccept) return 'Sec-WebSocket-Accept is not the key\'s';
  if (one('sec-websocket-protocol') !== protocol) return 'not the subprotocol offered';
  // None was offered (the transport sets perMessageDeflate: false).
  if (h.has('sec-websocket-extensions')) return 'an extension that was not offered';
  return undefined;
}
