/**
 * Server options and their documented defaults (spec/transport.md §Limits). Every limit
 * is an explicit option; the defaults are generous for real address books.
 */
import type { SansIoSession } from '../../protocol/session-core.js';
import type { AuthRequest } from './auth.js';
import { systemClock, type Clock } from './clock.js';
import { defaultServerMaxPayloadBytes } from './payload-size.js';

export interface SessionContext {
  /** What authenticate() returned (undefined when there is no authenticate). */
  auth: unknown;
  connectionId: number;
  now: number;
}

export interface ServerOptions {
  host?: string;
  /** 0 picks a free port; read it back from `server.port` / `server.url`. */
  port?: number;
  /** One session per connection; the application decides which protocol it speaks. */
  createSession(ctx: SessionContext): SansIoSession | Promise<SansIoSession>;
  /**
   * Decide on the upgrade request; a falsy result or a throw refuses it with HTTP 401
   * (429 / 503 if it throws a ProtocolError `rate_limited` / `overloaded`). The result is
   * handed to createSession as `auth`. Without it every client is accepted.
   */
  authenticate?(req: AuthRequest): unknown | Promise<unknown>;
  /**
   * Largest WebSocket message, checked by ws as soon as the frame length is known (close
   * 1009). Default: the largest message a client legitimately sends under the default
   * protocol limits (dir.quota, 8,000,243 bytes) rounded up to a MiB, plus 1 MiB = 9 MiB
   * (payload-size.ts). Raise it with the protocol limits (maxChargedSet).
   */
  maxPayloadBytes?: number;
  /** Open connections plus upgrades in progress; one more is refused with HTTP 503. */
  maxConnections?: number;
  /**
   * Connections (open plus upgrading) from one remote IP address (an IPv6 peer: its /64,
   * address-key.ts); one more is refused with HTTP 429 (`rejected` reason
   * `too_many_from_address`) before authenticate() runs. Separately, TCP connections of one
   * address whose HTTP request is not complete yet (slowloris) are capped at the same number,
   * and all of them at maxConnections: past either a new one is destroyed at accept.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Connections (open plus upgrading) of one account, as named by `accountOf(auth)`; one
   * more is refused with HTTP 429 (`too_many_for_account`) after authenticate().
   */
  maxConnectionsPerAccount?: number;
  /**
   * The account an authenticate() result belongs to, for maxConnectionsPerAccount.
   * Default: the result itself if it is a string, else its string `account` property;
   * undefined (no account) is not capped per account.
   */
  accountOf?(auth: unknown): string | undefined;
  /**
   * Bytes of partially received messages across all connections (what ws holds of frames
   * not yet complete) plus complete messages queued for busy sessions. Past it, the
   * connection holding the most is closed with `overloaded` (close 4503) and its buffers freed.
   */
  maxInboundBufferedBytes?: number;
  /**
   * A connection that makes no progress for this long is failed with `timeout` (close
   * 4408): progress is a complete message from the peer, the peer reading our output, the
   * session's deferred work settling, or at least `minProgressBytes` of a message arriving.
   * Pongs and a trickle of bytes do not count (slowloris), unlike for idleTimeoutMs.
   */
  noProgressTimeoutMs?: number;
  /** Bytes of a partial message that count as progress (so a slow honest upload is not cut). */
  minProgressBytes?: number;
  /** Time and timers (default: the system's). Tests inject a fake clock instead of sleeping. */
  clock?: Clock;
  /** From TCP accept to a completed upgrade, authenticate() included. */
  handshakeTimeoutMs?: number;
  /** No message from the peer and no progress sending to it: fail with `timeout`. */
  idleTimeoutMs?: number;
  /** Total lifetime of one connection. */
  maxConnectionMs?: number;
  /** Ping period; a peer that showed no sign of life for a whole period is terminated. 0 disables. */
  heartbeatIntervalMs?: number;
  /** Pull from the session only while bufferedAmount is below this; pause reading above it. */
  highWaterMarkBytes?: number;
  /** How long to wait for the peer's close frame after ours before dropping the socket. */
  closeTimeoutMs?: number;
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'authenticate'>> & Pick<ServerOptions, 'authenticate'>;

/** The default accountOf: a string result is the account; else its string `account` property. */
export function defaultAccountOf(auth: unknown): string | undefined {
  if (typeof auth === 'string') return auth;
  const account = (auth as { account?: unknown } | null | undefined)?.account;
  return typeof account === 'string' ? account : undefined;
}

export const SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxPayloadBytes: defaultServerMaxPayloadBytes(),
  maxConnections: 1_000,
  // Generous for carrier-grade NAT and offices behind one address, a quarter of
  // maxConnections: one address alone cannot lock everyone out (issue 9 §2: 500 from one).
  maxConnectionsPerAddress: 256,
  // An account syncs one book at a time; a few devices, retries and lookups fit in 8.
  maxConnectionsPerAccount: 8,
  accountOf: defaultAccountOf,
  // 256 MiB: 28 messages of the largest legitimate size in flight at once.
  maxInboundBufferedBytes: 256 * 1024 * 1024,
  noProgressTimeoutMs: 60_000,
  // 16 KiB per 60 s (~270 B/s) is progress: a poor mobile link uploads far faster.
  minProgressBytes: 16 * 1024,
  clock: systemClock,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxConnectionMs: 10 * 60_000,
  heartbeatIntervalMs: 15_000,
  highWaterMarkBytes: 1024 * 1024,
  closeTimeoutMs: 5_000,
});

const positive = [
  'maxPayloadBytes',
  'maxConnections',
  'maxConnectionsPerAddress',
  'maxConnectionsPerAccount',
  'maxInboundBufferedBytes',
  'noProgressTimeoutMs',
  'minProgressBytes',
  'handshakeTimeoutMs',
  'idleTimeoutMs',
  'maxConnectionMs',
  'highWaterMarkBytes',
  'closeTimeoutMs',
] as const;

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options.createSession !== 'function') throw new TypeError('createSession is required');
  const resolved: ResolvedServerOptions = { ...SERVER_DEFAULTS, ...stripUndefined(options) } as ResolvedServerOptions;
  for (const key of positive) {
    const v = resolved[key];
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${key} must be a positive integer, got ${String(v)}`);
  }
  if (!Number.isSafeInteger(resolved.heartbeatIntervalMs) || resolved.heartbeatIntervalMs < 0) {
    throw new RangeError(`heartbeatIntervalMs must be a non-negative integer, got ${String(resolved.heartbeatIntervalMs)}`);
  }
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) throw new RangeError(`port ${String(resolved.port)} is out of range`);
  return resolved;
}

const stripUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
