/**
 * Moves bytes between one socket and one sans-I/O session, and owns the clock for it:
 * the session never sees a socket or a timer. Shared by the server and the client.
 *
 * Output is pulled from `pollTransmit()` only while the socket's `bufferedAmount` is
 * below the high-water mark; while it is at or above the mark, reading from the peer is
 * paused too, and messages already read are held back from the session, so a peer that
 * sends requests but never reads the answers cannot make us buffer without bound (input
 * stops, so the session stops producing output). Reading
 * resumes when the buffer drains (a send callback, or polling where the socket has none).
 * Only the server pauses reading (see PumpSocket.pauseReading); the client just stops
 * pulling.
 *
 * Deferred work (a session's group operations on a worker pool, see DeferredWork) is
 * started as soon as the session queues it; when it settles the pump runs again to send
 * what it produced.
 *
 * When the session finishes or fails and its outbox is empty, the socket is closed: 1000
 * for a finished session, the close-code table for a failed one. A failed session's
 * outbox holds just its small `error` message, which is sent even over the mark so the
 * peer learns why.
 */
import { ProtocolError } from '../../protocol/errors.js';
import type { SansIoSession, SessionEvent } from '../../protocol/session-core.js';
import { closeCodeFor, StandardCloseCodes } from './close-codes.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { DeadlineTimer } from './deadline-timer.js';
import { ConnectionClosedError } from './errors.js';

/** What the pump needs from a socket: ws in Node and the browser WebSocket both fit. */
export interface PumpSocket {
  readonly bufferedAmount: number;
  /** True if send() calls `written` once the bytes left user space; otherwise the pump polls. */
  readonly reportsWrites: boolean;
  send(bytes: Uint8Array, written: () => void): void;
  close(code: number, reason: string): void;
  /**
   * Stop and restart reading from the peer while our output is backed up. Only the server
   * gives these: if both ends stopped reading while their own output was stuck, a client
   * pipelining queries and a server answering them would wait on each other forever.
   */
  pauseReading?(): void;
  resumeReading?(): void;
}

export interface PumpOptions<R> {
  highWaterMarkBytes: number;
  now(): number;
  /** Timers for the deadlines and the drain poll (default: the system's); tests inject a fake clock. */
  timers?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  onEvent(event: SessionEvent<R>): void;
  /** Bytes left our buffer: the peer is reading (counts as liveness for idle and heartbeat). */
  onWriteProgress?(): void;
  onBackpressure?(paused: boolean): void;
  /** Once, when the pump stops: all output was handed to the socket, or the socket is gone. */
  onStopped?(): void;
  /** Deferred work of the session settled (counts as liveness, like write progress). */
  onWorkSettled?(): void;
}

/** A transport deadline beside the session's own: when due, the session fails with `error()`. */
interface TransportDeadline {
  at(): number | undefined;
  error(): ProtocolError;
  /** Not enforced while the session's deferred work runs (an idle limit: we, not the peer, are busy). */
  suspendedDuringWork: boolean;
}

/**
 * Pieces of deferred work (evaluation chunks on a worker pool) one session may have running
 * before reading from its peer pauses: a peer that pipelines chunks cannot queue more work
 * than this on the shared pool, and reading resumes as pieces settle.
 */
const MAX_WORK_IN_FLIGHT = 4;

// Without write callbacks (browsers), check bufferedAmount this often while backed up.
const DRAIN_POLL_MS = 10;

export class SessionPump<R> {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private stopped = false;
  private readingPaused = false;
  private backedUp = false;
  private inFlight = 0;
  private workInFlight = 0;
  private readonly heldInput: Uint8Array[] = [];
  private outboxEmpty = true;
  private drainPoll: TimerHandle | undefined;
  private closeOverride: { code: number; reason: string } | undefined;
  private readonly deadlines: TransportDeadline[] = [];
  private readonly timer: DeadlineTimer;
  private readonly timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  readonly stats = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };

  constructor(
    readonly session: SansIoSession<R>,
    private readonly socket: PumpSocket,
    private readonly options: PumpOptions<R>,
  ) {
    this.timers = options.timers ?? systemClock;
    this.timer = new DeadlineTimer(() => this.onTimer(), options.now, this.timers);
  }

  /** Bytes of complete messages waiting for the session (counted in the inbound budget). */
  get queuedInputBytes(): number {
    let n = 0;
    for (const b of this.heldInput) n += b.length;
    return n;
  }

  get isReadingPaused(): boolean {
    return this.readingPaused;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  addDeadline(at: () => number | undefined, error: () => ProtocolError, options: { suspendedDuringWork?: boolean } = {}): void {
    this.deadlines.push({ at, error, suspendedDuringWork: options.suspendedDuringWork ?? false });
  }

  /**
   * One complete binary message from the peer. While the session has MAX_WORK_IN_FLIGHT
   * pieces of work running, it waits here (reading is paused too, so only what the socket
   * had already buffered can arrive) and is handed over as pieces settle, in order.
   */
  receive(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    this.stats.bytesIn += bytes.length;
    this.stats.messagesIn++;
    if (this.mustHoldInput() || this.heldInput.length > 0) {
      this.heldInput.push(bytes);
      return;
    }
    this.deliver(bytes);
  }

  private deliver(bytes: Uint8Array): void {
    this.guard(() => {
      this.session.handle(bytes, this.options.now());
      this.step();
    });
  }

  private releaseHeldInput(): void {
    while (this.state === 'open' && this.heldInput.length > 0 && !this.mustHoldInput()) this.deliver(this.heldInput.shift()!);
  }

  /**
   * Whether the next message must wait: the session's work is at its bound, or (where
   * reading pauses: the server) our output to the peer is backed up. Pausing the socket
   * stops new bytes, but what ws already read is still parsed into messages: handing those
   * to the session while the peer reads nothing let one 64 KiB TCP read of pipelined
   * 40-byte `dir.snapshot.get` queue that many 4 MiB parts in the session's outbox (up to
   * the session's download cap, 2x the snapshot, per connection). Held, they count in the
   * inbound budget, and the output queued beyond the high-water mark is at most one
   * message's answer.
   */
  private mustHoldInput(): boolean {
    return this.workInFlight >= MAX_WORK_IN_FLIGHT || (this.backedUp && this.socket.pauseReading !== undefined);
  }

  /** Fail the session from the transport side; its error message is sent, then the socket closes. */
  abort(error: ProtocolError, close?: { code: number; reason: string }): void {
    if (this.state !== 'open') return;
    this.closeOverride = close;
    this.guard(() => {
      this.session.abort(error);
      this.step();
    });
  }

  /** Fail the session without sending anything (the peer is gone or unresponsive). */
  kill(error: ProtocolError): void {
    if (this.state === 'closed') return;
    this.guard(() => {
      this.session.abort(error);
      this.drainEvents();
    });
    this.stop();
  }

  /** The socket closed (either side): a session that is not done fails with `closed`. */
  socketClosed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.guard(() => {
      this.session.abort(new ConnectionClosedError(code, reason, `in session state ${this.session.currentState}`));
      this.drainEvents();
    });
    this.stop();
  }

  /** Hand out events, send what the socket can take, close when done, re-arm the timer; then take held input if it may go on. */
  drive(): void {
    this.guard(() => this.step());
    this.releaseHeldInput();
  }

  /**
   * A session (or an onEvent callback) that throws must not take the process down from
   * inside a socket callback: the connection fails with `internal` and closes with 4500.
   */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      if (this.state === 'closed') return;
      const error = new ProtocolError('internal', 'internal error', { cause: err });
      try {
        this.options.onEvent({ type: 'failed', error });
      } catch {
        // already failing; nothing more to report
      }
      const open = this.state === 'open';
      this.stop();
      if (open) {
        this.state = 'closing';
        this.socket.close(closeCodeFor('internal'), 'internal');
      }
    }
  }

  private step(): void {
    if (this.state !== 'open') return;
    this.startWork();
    this.drainEvents();
    this.flush();
    const done = this.session.isFinished() || this.session.error !== undefined;
    if (done && this.outboxEmpty) return this.closeSocket();
    this.armTimer();
  }

  private flush(): void {
    // A failed session's outbox is its one error message: send it whatever the buffer holds.
    const failed = this.session.error !== undefined;
    this.backedUp = false;
    for (;;) {
      if (!failed && this.socket.bufferedAmount >= this.options.highWaterMarkBytes) {
        this.backedUp = true;
        this.outboxEmpty = false; // unknown until the next pull; assume more is queued
        break;
      }
      const bytes = this.session.pollTransmit();
      if (!bytes) {
        this.outboxEmpty = true;
        break;
      }
      this.stats.bytesOut += bytes.length;
      this.stats.messagesOut++;
      this.inFlight++;
      this.socket.send(bytes, () => this.onWritten());
    }
    this.setReadingPaused(this.backedUp || this.workInFlight >= MAX_WORK_IN_FLIGHT);
    if (this.backedUp && (this.inFlight === 0 || !this.socket.reportsWrites)) this.pollForDrain();
  }

  private startWork(): void {
    for (let work = this.session.pollWork?.(); work; work = this.session.pollWork?.()) {
      this.workInFlight++;
      const settled = () => {
        this.workInFlight--;
        this.options.onWorkSettled?.();
        this.drive();
      };
      // The session catches its own work's errors; `drive` guards whatever else happens.
      void work(this.options.now).then(settled, settled);
    }
  }

  /** The transport deadlines in force now. */
  private activeDeadlines(): TransportDeadline[] {
    return this.workInFlight > 0 ? this.deadlines.filter((d) => !d.suspendedDuringWork) : this.deadlines;
  }

  private onWritten(): void {
    this.inFlight--;
    this.options.onWriteProgress?.();
    if (this.backedUp) this.drive();
  }

  private pollForDrain(): void {
    if (this.drainPoll !== undefined) return;
    this.drainPoll = this.timers.setTimeout(() => {
      this.drainPoll = undefined;
      this.options.onWriteProgress?.();
      this.drive();
    }, DRAIN_POLL_MS);
  }

  private setReadingPaused(paused: boolean): void {
    if (paused === this.readingPaused || !this.socket.pauseReading || !this.socket.resumeReading) return;
    this.readingPaused = paused;
    if (paused) this.socket.pauseReading();
    else this.socket.resumeReading();
    this.options.onBackpressure?.(paused);
  }

  private drainEvents(): void {
    for (let e = this.session.pollEvent(); e; e = this.session.pollEvent()) this.options.onEvent(e);
  }

  private armTimer(): void {
    let at: number | undefined;
    for (const d of this.activeDeadlines()) at = earliest(at, d.at());
    // While we hold the peer's input back, the session cannot hear from it: its own
    // silence deadline would blame the peer for our pause. The transport deadlines
    // (idle counts write progress, lifetime) still apply.
    if (!this.readingPaused) at = earliest(at, this.session.pollTimeout());
    this.timer.arm(at);
  }

  private onTimer(): void {
    if (this.state !== 'open') return;
    const now = this.options.now();
    const due = this.activeDeadlines().find((d) => {
      const at = d.at();
      return at !== undefined && at <= now;
    });
    if (due) return this.abort(due.error());
    this.guard(() => {
      if (!this.readingPaused) this.session.handleTimeout(now);
      this.step();
    });
  }

  private closeSocket(): void {
    const error = this.session.error;
    const { code, reason } =
      this.closeOverride ?? (error ? { code: closeCodeFor(error.code), reason: error.code } : { code: StandardCloseCodes.normal, reason: 'done' });
    this.stop();
    this.state = 'closing';
    this.socket.close(code, reason);
  }

  /** No more timers; reading resumes so the peer's close frame can still arrive. */
  private stop(): void {
    this.state = 'closed';
    if (this.stopped) return;
    this.stopped = true;
    this.timer.clear();
    if (this.drainPoll !== undefined) this.timers.clearTimeout(this.drainPoll);
    this.drainPoll = undefined;
    this.setReadingPaused(false);
    this.options.onStopped?.();
  }
}

const earliest = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
