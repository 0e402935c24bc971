/**
 * Server options and their documented defaults (spec/transport.md §Limits). Every limit
 * is an explicit option; the defaults are generous for real address books.
 */
import type { SansIoSession } from '../../protocol/session-core.js';
import type { AuthRequest } from './auth.js';

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
  /** Largest WebSocket message, checked by ws as soon as the frame length is known (close 1009). */
  maxPayloadBytes?: number;
  /** Open connections plus upgrades in progress; one more is refused with HTTP 503. */
  maxConnections?: number;
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

export const SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxPayloadBytes: 64 * 1024 * 1024,
  maxConnections: 1_000,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxConnectionMs: 10 * 60_000,
  heartbeatIntervalMs: 15_000,
  highWaterMarkBytes: 1024 * 1024,
  closeTimeoutMs: 5_000,
});

const positive = ['maxPayloadBytes', 'maxConnections', 'handshakeTimeoutMs', 'idleTimeoutMs', 'maxConnectionMs', 'highWaterMarkBytes', 'closeTimeoutMs'] as const;

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
