/**
 * One accepted WebSocket on the server: creates its session, feeds it through a
 * SessionPump, and enforces the per-connection limits (idle, lifetime, heartbeat).
 * Reports the outcome once, with counts only: never the result or any message bytes,
 * which hold blinded elements derived from contacts.
 */
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import { encodeMessage } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { SansIoSession, SessionEvent } from '../../protocol/session-core.js';
import { closeCodeFor, StandardCloseCodes } from './close-codes.js';
import { ConnectionClosedError, fromWsError } from './errors.js';
import type { BudgetHolder, InboundBudget } from './inbound-budget.js';
import { partialInboundBytes, receiverOf } from './inbound-probe.js';
import type { ResolvedServerOptions } from './options.js';
import { SessionPump, type PumpSocket } from './pump.js';

export interface SessionReport {
  connectionId: number;
  outcome: 'result' | 'failed';
  /** For a failed session: the error code, and whether the peer reported it. */
  code?: ProtocolError['code'];
  remote?: boolean;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export interface ConnectionStats {
  connectionId: number;
  ageMs: number;
  bufferedAmount: number;
  readingPaused: boolean;
  /** Since the last sign of life (message, pong, write progress), for idleTimeoutMs. */
  idleMs: number;
  /** Since the last progress, for noProgressTimeoutMs. */
  noProgressMs: number;
  /** Inbound bytes held for this connection (partial messages + queued ones), as the budget counts them. */
  inboundHeldBytes: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export interface ConnectionHooks {
  onReport(report: SessionReport): void;
  onBackpressure(paused: boolean, bufferedAmount: number): void;
  onClosed(): void;
  /** The global inbound budget this connection reports what it holds to. */
  budget: InboundBudget;
  onEvicted(totalBytes: number, limitBytes: number): void;
}

type Input = { bytes: Uint8Array } | { text: true };

export class ServerConnection implements BudgetHolder {
  private pump: SessionPump<unknown> | undefined;
  /** Input that arrived while an async createSession was still running (reading is paused). */
  private early: Input[] | undefined = [];
  private closed = false;
  private reported = false;
  /** The session's outcome, reported once its output is all sent (so the counts are final). */
  private outcome: { type: 'result' } | { type: 'failed'; error: ProtocolError } | undefined;
  private lastActivity: number;
  /** Set by any sign of life (message, pong, write progress); cleared at every ping. */
  private alive = true;
  readonly startedAt: number;
  /** Last progress (see noProgressTimeoutMs), and the socket byte count at that moment. */
  private lastProgress: number;
  private rawBytes = 0;
  private rawAtProgress = 0;
  /** Socket bytes since the last complete message: the fallback if ws internals change. */
  private rawAtMessage = 0;
  private inboundHeld = 0;
  private evicted = false;

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    private readonly auth: unknown,
    private readonly options: ResolvedServerOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.startedAt = options.clock.now();
    this.lastActivity = this.startedAt;
    this.lastProgress = this.startedAt;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.rawAtMessage = this.rawBytes;
      this.markProgress();
      this.onInput(isBinary ? { bytes: toBytes(data) } : { text: true });
    });
    // Added after ws's own 'data' listener, so ws has parsed the chunk when this runs.
    const socket = (ws as unknown as { _socket?: Socket })._socket;
    socket?.on('data', (chunk: Buffer) => this.onSocketData(chunk.length));
    ws.on('pong', () => this.markAlive());
    ws.on('error', (err: Error) => this.pump?.kill(fromWsError(err)));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString('utf8')));
  }

  start(): void {
    let created: SansIoSession | Promise<SansIoSession>;
    try {
      created = this.options.createSession({ auth: this.auth, connectionId: this.id, now: this.options.clock.now() });
    } catch (err) {
      return this.refuse(err);
    }
    if (!isPromise(created)) return this.attach(created);
    this.ws.pause();
    created.then(
      (session) => this.attach(session),
      (err: unknown) => this.refuse(err),
    );
  }

  get stats(): ConnectionStats {
    const counts = this.pump?.stats ?? { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
    return {
      connectionId: this.id,
      ageMs: this.options.clock.now() - this.startedAt,
      bufferedAmount: this.ws.bufferedAmount,
      readingPaused: this.pump?.isReadingPaused ?? false,
      inboundHeldBytes: this.inboundHeld,
      idleMs: this.options.clock.now() - this.lastActivity,
      noProgressMs: this.options.clock.now() - this.lastProgress,
      ...counts,
    };
  }

  /** Heartbeat tick: terminate a peer silent for a whole period (if `judge`), else ping it. */
  heartbeat(judge: boolean): void {
    if (this.closed) return;
    if (!this.alive && judge) return this.terminate(new ProtocolError('timeout', 'peer missed a heartbeat'));
    this.alive = false;
    this.ws.ping();
  }

  /** Graceful shutdown: fail the session (its error message is sent) and close with 1001. */
  shutdown(): void {
    const error = new ProtocolError('closed', 'server is shutting down');
    if (this.pump?.isOpen) return this.pump.abort(error, { code: StandardCloseCodes.goingAway, reason: 'server shutting down' });
    if (!this.closed) this.ws.close(StandardCloseCodes.goingAway, 'server shutting down');
  }

  terminate(error: ProtocolError): void {
    this.pump?.kill(error);
    this.ws.terminate();
  }

  /**
   * The inbound budget is exhausted and this connection holds the most: fail its session
   * with `overloaded`, send the error message and close frame (best effort), and destroy
   * the socket once they are written, which frees what ws buffered. A graceful close would
   * keep reading (and buffering) until the peer's close frame, which a hostile peer never sends.
   */
  evictForBudget(total: number, limit: number): void {
    if (this.evicted || this.closed) return;
    this.evicted = true;
    this.inboundHeld = 0;
    this.hooks.onEvicted(total, limit);
    const error = new ProtocolError('overloaded', `server inbound buffer budget exceeded (${total} > ${limit} bytes); this connection held the most`);
    if (this.early) this.early = undefined;
    this.outcome ??= { type: 'failed', error };
    if (this.pump?.isOpen) this.pump.kill(error);
    else if (!this.reported) this.report({ type: 'failed', error });
    const socket = (this.ws as unknown as { _socket?: Socket })._socket;
    socket?.pause();
    try {
      this.ws.send(encodeMessage({ t: 'error', code: error.code, message: error.message.slice(0, 1024) }));
      this.ws.close(closeCodeFor(error.code), error.code);
    } catch {
      // the socket is already closing; destroying it below is all that is left
    }
    if (socket && !socket.destroyed) socket.end(() => this.ws.terminate());
    else this.ws.terminate();
  }

  private onSocketData(length: number): void {
    this.rawBytes += length;
    // A trickle is not progress; a real upload of a large message is (minProgressBytes per window).
    if (this.rawBytes - this.rawAtProgress >= this.options.minProgressBytes) this.markProgress();
    this.updateBudget();
  }

  private markProgress(): void {
    this.lastProgress = this.options.clock.now();
    this.rawAtProgress = this.rawBytes;
  }

  /** Report what this connection holds to the global inbound budget (which may evict it). */
  private updateBudget(): void {
    if (this.evicted || this.closed) return;
    const receiver = receiverOf(this.ws);
    const partial = receiver ? partialInboundBytes(receiver) : this.rawBytes - this.rawAtMessage;
    let queued = this.pump?.queuedInputBytes ?? 0;
    for (const input of this.early ?? []) if ('bytes' in input) queued += input.bytes.length;
    this.inboundHeld = partial + queued;
    this.hooks.budget.set(this, this.inboundHeld);
  }

  private attach(session: SansIoSession): void {
    const { clock } = this.options;
    const pump = new SessionPump<unknown>(session, this.pumpSocket(), {
      highWaterMarkBytes: this.options.highWaterMarkBytes,
      now: () => clock.now(),
      timers: clock,
      onEvent: (e) => this.onEvent(e),
      onWriteProgress: () => {
        this.markAlive();
        this.markProgress();
      },
      onWorkSettled: () => {
        this.markAlive();
        this.markProgress();
        // The pump hands held messages to the session right after this call: count after it.
        queueMicrotask(() => this.updateBudget());
      },
      onBackpressure: (paused) => this.hooks.onBackpressure(paused, this.ws.bufferedAmount),
      onStopped: () => this.report(this.outcome ?? { type: 'failed', error: new ProtocolError('internal', 'session ended without an outcome') }),
    });
    const { idleTimeoutMs, maxConnectionMs, noProgressTimeoutMs } = this.options;
    pump.addDeadline(
      () => this.lastActivity + idleTimeoutMs,
      () => new ProtocolError('timeout', `no message or progress for ${idleTimeoutMs} ms`),
      // While the session's evaluations wait for the worker pool, the client is waiting for us.
      { suspendedDuringWork: true },
    );
    pump.addDeadline(
      () => this.lastProgress + noProgressTimeoutMs,
      () => new ProtocolError('timeout', `no progress for ${noProgressTimeoutMs} ms (no complete message, nothing read by the peer)`),
      // Our own deferred work is not the peer's fault.
      { suspendedDuringWork: true },
    );
    pump.addDeadline(
      () => this.startedAt + maxConnectionMs,
      () => new ProtocolError('timeout', `connection open longer than ${maxConnectionMs} ms`),
    );
    this.pump = pump;
    if (this.closed) return pump.socketClosed(StandardCloseCodes.goingAway, 'closed before the session started');
    const early = this.early ?? [];
    this.early = undefined;
    this.ws.resume();
    for (const input of early) this.deliver(input);
    pump.drive();
  }

  /** createSession failed: tell the peer in a coded error message, then close. */
  private refuse(err: unknown): void {
    // Never echo an unexpected exception's text: it may carry internal state.
    const error = err instanceof ProtocolError ? err : new ProtocolError('internal', 'internal error', { cause: err });
    this.early = undefined;
    this.report({ type: 'failed', error });
    if (this.closed) return;
    this.ws.resume();
    this.ws.send(encodeMessage({ t: 'error', code: error.code, message: error.message.slice(0, 1024) }));
    this.ws.close(closeCodeFor(error.code), error.code);
  }

  private onInput(input: Input): void {
    this.markAlive();
    if (this.early) this.early.push(input);
    else this.deliver(input);
    this.updateBudget();
  }

  private deliver(input: Input): void {
    if (!this.pump) return;
    if ('text' in input) this.pump.abort(new ProtocolError('malformed', 'text frames are not accepted; send binary messages'));
    else this.pump.receive(input.bytes);
  }

  private onEvent(event: SessionEvent<unknown>): void {
    if (event.type !== 'progress') this.outcome ??= event;
  }

  private report(event: { type: 'result' } | { type: 'failed'; error: ProtocolError }): void {
    if (this.reported) return;
    this.reported = true;
    const counts = this.pump?.stats ?? { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
    this.hooks.onReport({
      connectionId: this.id,
      outcome: event.type === 'result' ? 'result' : 'failed',
      ...(event.type === 'failed' ? { code: event.error.code, remote: event.error.remote } : {}),
      durationMs: this.options.clock.now() - this.startedAt,
      ...counts,
    });
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.inboundHeld = 0;
    this.hooks.budget.release(this);
    this.pump?.socketClosed(code, reason);
    // A session still being created, or one that ended without an event: report once.
    if (!this.reported) this.report({ type: 'failed', error: new ConnectionClosedError(code, reason, 'before the session ended') });
    this.hooks.onClosed();
  }

  private markAlive(): void {
    this.alive = true;
    this.lastActivity = this.options.clock.now();
  }

  private pumpSocket(): PumpSocket {
    const ws = this.ws;
    return {
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      reportsWrites: true,
      send: (bytes, written) => ws.send(bytes, { binary: true }, () => written()),
      close: (code, reason) => ws.close(code, reason),
      pauseReading: () => ws.pause(),
      resumeReading: () => ws.resume(),
    };
  }
}

function toBytes(data: RawData): Uint8Array {
  // binaryType is 'nodebuffer', so a message is one Buffer; the other shapes are for safety.
  const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';
