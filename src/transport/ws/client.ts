/**
 * Run one client session over a WebSocket: open, start the session, pump bytes both
 * ways, and settle with the session's result or its error. Works with ws in Node and the
 * WebSocket of browsers and React Native.
 */
import { DEFAULT_LIMITS } from '../../protocol/limits.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { SansIoSession, SessionEvent } from '../../protocol/session-core.js';
import { clientPumpSocket, defaultWebSocket, openSocket, type WebSocketConstructor } from './client-socket.js';
import { systemClock, type Clock } from './clock.js';
import { connectFailure } from './client-connect-error.js';
import { ConnectionClosedError, UpgradeRejectedError } from './errors.js';
import { SessionPump } from './pump.js';

export interface ClientOptions<R> {
  /** Bearer token: an Authorization header from Node, a `bearer.<token>` subprotocol from browsers. */
  token?: string;
  /** WebSocket constructor; default: ws in Node, the global WebSocket elsewhere. */
  WebSocket?: WebSocketConstructor;
  /** Whole run, connecting included; the session then fails with `timeout`. Default 300,000 ms. */
  timeoutMs?: number;
  /** Every session event (progress, result, failed), in order. */
  onEvent?: (event: SessionEvent<R>) => void;
  /** Send backpressure: pull from the session only while bufferedAmount is below this. Default 1 MiB. */
  highWaterMarkBytes?: number;
  /** Largest message accepted from the server (ws only). Default: the protocol's maxMessageBytes. */
  maxPayloadBytes?: number;
  /** Time and timers (default: the system's); tests inject a fake clock instead of sleeping. */
  clock?: Clock;
}

export const CLIENT_DEFAULTS = Object.freeze({
  timeoutMs: 300_000,
  highWaterMarkBytes: 1024 * 1024,
  maxPayloadBytes: DEFAULT_LIMITS.maxMessageBytes,
});

/** A session that must be told to begin (a PSI client sends its hello on start). */
interface Startable {
  start(now: number): void;
}

const needsStart = (session: SansIoSession<unknown>): session is SansIoSession<unknown> & Startable =>
  typeof (session as Partial<Startable>).start === 'function' && session.currentState === 'idle';

/**
 * Resolves with the session's result; rejects with the session's ProtocolError (`remote:
 * true` when the server reported it), an UpgradeRejectedError (HTTP 401/429/503: Node
 * only; browsers see a close 1006), a ConnectFailedError when the socket never opened and
 * Node gave the cause (`connect_refused`, `dns_failure`, `tls_failure`, `connect_failed`;
 * client-connect-error.ts), or a ConnectionClosedError with the close code.
 * A session in state `idle` with a `start(now)` method is started once the socket opens.
 */
export async function runClientSession<R>(url: string, session: SansIoSession<R>, options: ClientOptions<R> = {}): Promise<R> {
  const { timeoutMs, highWaterMarkBytes, maxPayloadBytes } = { ...CLIENT_DEFAULTS, ...stripUndefined(options) };
  const clock = options.clock ?? systemClock;
  const ctor = options.WebSocket ?? (await defaultWebSocket());
  const opened = openSocket(ctor, url, options.token, maxPayloadBytes);
  const { socket, node } = opened;

  return new Promise<R>((resolve, reject) => {
    let pump: SessionPump<R> | undefined;
    let settled = false;
    let refusedStatus: number | undefined;
    /** The socket error seen before the socket opened (ws reports it just before the close 1006). */
    let connectError: unknown;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      finish();
    };

    const timer = clock.setTimeout(() => {
      const error = new ProtocolError('timeout', `no result within ${timeoutMs} ms`);
      if (pump) return pump.abort(error); // sends the error, closes 4408, rejects via the event
      settle(() => reject(error));
      socket.close();
    }, timeoutMs);

    socket.addEventListener('open', () => {
      pump = new SessionPump<R>(session, clientPumpSocket(opened), {
        highWaterMarkBytes,
        now: () => clock.now(),
        timers: clock,
        onEvent: (event) => {
          options.onEvent?.(event);
          if (event.type === 'result') settle(() => resolve(event.result));
          if (event.type === 'failed') settle(() => reject(event.error));
        },
      });
      try {
        if (needsStart(session)) session.start(clock.now());
      } catch (err) {
        pump.abort(err instanceof ProtocolError ? err : new ProtocolError('internal', 'session failed to start', { cause: err }));
      }
      pump.drive();
    });

    socket.addEventListener('message', (event: { data: unknown }) => {
      if (!pump) return;
      if (typeof event.data === 'string') pump.abort(new ProtocolError('malformed', 'server sent a text frame'));
      else pump.receive(toBytes(event.data));
    });

    socket.addEventListener('close', (event: { code: number; reason: string }) => {
      if (pump) return pump.socketClosed(event.code, event.reason); // rejects via the failed event, if not settled
      const error = refusedStatus
        ? new UpgradeRejectedError(refusedStatus)
        : connectError !== undefined
          ? connectFailure(url, connectError)
          : new ConnectionClosedError(event.code, event.reason, 'before the session started');
      settle(() => reject(error));
    });

    // Errors are followed by a close event, which settles; without a listener ws would throw.
    // ws passes the cause as `event.error` (browsers pass none): kept to name why it never opened.
    socket.addEventListener('error', (event: { error?: unknown }) => {
      if (!pump && refusedStatus === undefined && event.error !== undefined) connectError ??= event.error;
    });

    node?.on('unexpected-response', (_req, res) => {
      refusedStatus = res.statusCode;
      res.resume();
      node.terminate();
    });
  });
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new ProtocolError('malformed', 'unexpected message data type');
}

const stripUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
