/**
 * The WebSocket upgrade of `contact-psi sync`, opened by the bin's entry (sync-entry.ts)
 * with node:net / node:tls alone, before commander, ws, http or the client are loaded
 * (issue 13 §1: the first byte within 150 ms of the spawn). early-connect.ts hands its
 * outcome to the transport later, as a ws socket (connectForSync):
 *
 * - open: a 101 that passed every check of early-upgrade-wire.ts, nothing received after
 *   it: ws takes the socket as is;
 * - refused: a complete final response head, 200 or more (401, 429, 503...): its bytes are
 *   replayed to ws, which reports it as it would have (unexpected-response, then close);
 * - dropped: anything else (the connection failed, a 101 that fails a check, an interim
 *   1xx or a status line that is not HTTP/1.1's, a head larger than the limit, the server closed, or it spoke before the handover: the client
 *   speaks first in this protocol, red team wave 3): the socket is destroyed, nothing it
 *   sent is kept, and the transport connects afresh and meets that server itself.
 *
 * Nothing here is held without bound: the head is read up to maxResponseHeadBytes, and a
 * byte after the 101 before the handover ends the connection.
 *
 * Node's modules are taken with process.getBuiltinModule (Node >= 20.16; package.json asks
 * 20.19), not imported: an ES import of a built-in builds its module namespace, which reads
 * every export, and node:crypto's pull in node:stream and more. Only node:net is needed
 * before the first byte (node:tls for wss://): the key's bytes come from the kernel
 * (/dev/urandom) where there is one, and node:crypto (SHA-1 of the accept check) when the
 * answer arrives.
 */
import type { Socket } from 'node:net';
import { DEFAULT_MAX_RESPONSE_HEAD_BYTES, parseResponseHead, switchRefusal, upgradeRequest, WEBSOCKET_GUID, type UpgradeTarget } from './early-upgrade-wire.js';

export type UpgradeOutcome =
  | { readonly kind: 'open'; readonly socket: Socket }
  | { readonly kind: 'refused'; readonly response: Buffer }
  | { readonly kind: 'dropped'; readonly reason: string; readonly error?: Error };

export interface EarlyUpgradeOptions {
  /** The subprotocol offered (the transport's, SUBPROTOCOL). */
  readonly protocol: string;
  readonly token: string | undefined;
  /** Default DEFAULT_MAX_RESPONSE_HEAD_BYTES (16 KiB, Node's own limit). */
  readonly maxResponseHeadBytes?: number;
  /** The Sec-WebSocket-Key's 16 bytes (tests); default: fresh random bytes (RFC 6455 §4.1: a new nonce per connection). */
  readonly keyBytes?: Uint8Array;
}

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): string {
  return process.getBuiltinModule('node:crypto').createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/**
 * 16 bytes from the system's CSPRNG: /dev/urandom (what node:crypto's randomBytes draws
 * from too, through OpenSSL) without loading node:crypto; randomBytes where it is missing
 * (Windows) or unreadable.
 */
export function keyNonce(): Uint8Array {
  const fs = process.getBuiltinModule('node:fs');
  const bytes = Buffer.alloc(16);
  let fd: number | undefined;
  try {
    fd = fs.openSync('/dev/urandom', 'r');
    if (fs.readSync(fd, bytes, 0, 16, null) === 16) return bytes;
  } catch {
    // no /dev/urandom here
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return process.getBuiltinModule('node:crypto').randomBytes(16);
}

export class EarlyUpgrade {
  readonly key: string;
  private current: UpgradeOutcome | undefined;
  private readonly listeners: ((o: UpgradeOutcome) => void)[] = [];
  private readonly socket: Socket;
  private received: Buffer = Buffer.alloc(0);
  private handedOver = false;
  /** Settles when the socket has closed (whatever the outcome). */
  readonly closed: Promise<void>;

  constructor(
    readonly url: string,
    readonly target: UpgradeTarget,
    private readonly options: EarlyUpgradeOptions,
  ) {
    this.key = Buffer.from(options.keyBytes ?? keyNonce()).toString('base64');
    // Throws (before connecting) on a value that could break the request's lines.
    const request = upgradeRequest(target, this.key, options.protocol, options.token);
    const net = process.getBuiltinModule('node:net');
    if (target.secure) {
      // As ws connects (its tlsConnect): SNI for a host name, none for an address; Node's CAs.
      const servername = net.isIP(target.host) ? '' : target.host;
      this.socket = process.getBuiltinModule('node:tls').connect({ host: target.host, port: target.port, servername });
      this.socket.once('secureConnect', () => this.socket.write(request));
    } else {
      this.socket = net.connect({ host: target.host, port: target.port });
      this.socket.once('connect', () => this.socket.write(request));
    }
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
  }

  /** undefined while the upgrade travels; then its outcome (an open one can still become dropped before take()). */
  get outcome(): UpgradeOutcome | undefined {
    return this.current;
  }

  /** Called once with the first outcome, and again if an open one is dropped before take(). */
  onOutcome(listener: (o: UpgradeOutcome) => void): void {
    this.listeners.push(listener);
  }

  /** The socket, for ws, once open: no listener of this class left on it. */
  take(): Socket {
    if (this.current?.kind !== 'open' || this.handedOver) throw new Error('early upgrade: no open socket to take');
    this.handedOver = true;
    this.socket.off('data', this.onData).off('error', this.onError).off('close', this.onClose);
    return this.socket;
  }

  /** Closes the connection unless it was taken (the sync failed before connecting, or the transport gave up). */
  abort(reason = 'aborted'): void {
    if (this.handedOver) return;
    this.settle({ kind: 'dropped', reason });
    this.socket.destroy();
  }

  private settle(o: UpgradeOutcome): void {
    // Once refused or dropped, final; open may still become dropped.
    if (this.current && this.current.kind !== 'open') return;
    this.current = o;
    for (const l of this.listeners) l(o);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.current) {
      // After the 101, before the handover: out of turn (see above). Nothing is kept.
      this.drop('the server spoke before the client');
      return;
    }
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const max = this.options.maxResponseHeadBytes ?? DEFAULT_MAX_RESPONSE_HEAD_BYTES;
    const head = parseResponseHead(this.received, max);
    if (head.kind === 'partial') return;
    const received = this.received;
    this.received = Buffer.alloc(0);
    if (head.kind === 'too-large') return this.drop(`a response head over ${max} bytes`);
    if (head.status === undefined || head.status < 200) {
      // Not HTTP/1.1's status line, or an interim answer (1xx, whose final one would follow):
      // left to ws, which reads this server itself on its own connection.
      if (head.status !== 101) return this.drop('not a final HTTP/1.1 answer');
    } else {
      // The server's answer, kept for ws to read (its body only as far as it came with the head).
      this.settle({ kind: 'refused', response: received });
      this.socket.destroy();
      return;
    }
    const refusal = switchRefusal(head, acceptFor(this.key), this.options.protocol);
    if (refusal !== undefined) return this.drop(refusal);
    if (head.rest.length > 0) return this.drop('the server spoke before the client');
    this.settle({ kind: 'open', socket: this.socket });
  };

  private readonly onError = (error: Error): void => {
    this.settle({ kind: 'dropped', reason: 'the connection failed', error });
  };

  private readonly onClose = (): void => {
    this.settle({ kind: 'dropped', reason: 'the connection closed' });
  };

  private drop(reason: string): void {
    this.settle({ kind: 'dropped', reason });
    this.socket.destroy();
  }
}

/** What the bin's entry started for `sync` (sync-entry.ts), waiting for connectForSync (early-connect.ts). */
export interface StartedSync {
  /** The --server value it was started for. */
  readonly server: string;
  /** The bearer token resolved from the same options (its warnings already printed). */
  readonly token: string | undefined;
  readonly upgrade: EarlyUpgrade;
}

/**
 * Kept on globalThis, not in this module: the bin's entry is bundled on its own (one file,
 * scripts/bundle-cli.mjs), so it and main.ts's chunks each have a copy of this module.
 */
const STARTED = Symbol.for('contact-psi.started-sync');
const registry = globalThis as { [STARTED]?: StartedSync };

export function setStartedSync(s: StartedSync): void {
  registry[STARTED]?.upgrade.abort();
  registry[STARTED] = s;
}

/** The started upgrade for `server`, once; one for another server is closed (never used for a URL it was not opened to). */
export function takeStartedSync(server: string): StartedSync | undefined {
  const s = registry[STARTED];
  registry[STARTED] = undefined;
  if (s && s.server !== server) {
    s.upgrade.abort();
    return undefined;
  }
  return s;
}
