/**
 * What both session roles share, in the sans-I/O style of h11 and quinn-proto: bytes
 * and events go in through `handle(bytes, now)` and `handleTimeout(now)`; bytes, events
 * and the next deadline come out through `pollTransmit()`, `pollEvent()` and
 * `pollTimeout()`. A session never does I/O and never reads a clock.
 *
 * Failure is terminal: the first error queues one coded `error` message for the peer
 * (unless the peer sent the error), emits one `failed` event, and every later input is
 * ignored. Transitions live in one table per role; a message the table does not allow
 * fails the session with `unexpected_message` naming role, state and message.
 */
import { GroupError, OprfError, SetEncodingError } from '../errors.js';
import { encodeMessage, decodeMessage, type WireMessage } from './codec.js';
import { ProtocolError, isProtocolErrorCode } from './errors.js';
import type { MessageSchema } from './schema.js';

export type SessionEvent<R> =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'result'; result: R }
  | { type: 'failed'; error: ProtocolError };

export type Role = 'client' | 'server';

/**
 * Work a session hands to its driver instead of doing it inside `handle()`: group work a
 * worker pool can run on other cores, and every read or write of the directory store
 * (label lookups, tag deltas, quota charges), so the session itself never does I/O and one
 * session runs over any store. The session has already decided what to do; the driver
 * calls the function with its clock and, once the promise settles (the result has
 * re-entered the session by then), pulls output and events again. Work that settles after
 * the session ended is dropped. While work is pending the peer is waiting for us, so its
 * silence is not held against it: the idle deadline restarts when the work settles.
 */
export type DeferredWork = (now: () => number) => Promise<void>;

/**
 * What a transport needs from any session (session PSI, directory discovery): the
 * transport only pumps bytes and clock ticks, and never looks inside a message.
 */
export interface SansIoSession<R = unknown> {
  handle(bytes: Uint8Array, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(): Uint8Array | undefined;
  pollEvent(): SessionEvent<R> | undefined;
  pollTimeout(): number | undefined;
  abort(error: ProtocolError): void;
  isFinished(): boolean;
  /**
   * Deferred work (see DeferredWork). A driver must run every piece it polls, and may start
   * them in any order and run them concurrently: a session that needs an order among its
   * pieces (the discovery server charges chunks one after another) keeps it itself.
   * Session PSI defers only when given an offload, so runSessionPair (which refuses
   * deferred work) can drive it without one; the discovery server defers every store access.
   */
  pollWork?(): DeferredWork | undefined;
  readonly currentState: string;
  readonly error: ProtocolError | undefined;
}

export abstract class SessionCore<State extends string, Msg extends WireMessage, R> implements SansIoSession<R> {
  protected abstract readonly role: Role;
  protected abstract state: State;
  /** Which message types each state accepts, and the method that handles each. */
  protected abstract readonly transitions: Partial<Record<State, Partial<Record<Msg['t'], (msg: Msg, now: number) => void>>>>;

  private readonly outbox: Uint8Array[] = [];
  private readonly events: SessionEvent<R>[] = [];
  private readonly work: DeferredWork[] = [];
  private pendingWork = 0;
  private deadline: number | undefined;
  private failure: ProtocolError | undefined;
  /** The schemas of what this role receives (see inboundSchemas); built on first use. */
  private inbound: Readonly<Record<string, MessageSchema>> | undefined;

  protected constructor(
    private readonly maxMessageBytes: number,
    private readonly schemas: Readonly<Record<string, MessageSchema>>,
    /** Milliseconds of silence from the peer before the session fails with `timeout`. */
    private readonly idleTimeoutMs: number,
  ) {}

  get currentState(): State | 'failed' {
    return this.failure ? 'failed' : this.state;
  }

  get error(): ProtocolError | undefined {
    return this.failure;
  }

  handle(bytes: Uint8Array, now: number): void {
    if (this.failure || this.isFinished()) return;
    try {
      const msg = decodeMessage<Msg>(bytes, this.inboundSchemas(), this.maxMessageBytes, { otherTypes: this.schemas });
      if (msg.t === 'error') {
        const { code, message, retryAfterMs } = msg as unknown as { code: string; message: string; retryAfterMs?: number };
        const known = isProtocolErrorCode(code) ? code : 'internal';
        this.fail(new ProtocolError(known, `peer reported ${code}: ${message}`, { remote: true, retryAfterMs }));
        return;
      }
      const handler = this.transitions[this.state]?.[msg.t as Msg['t']];
      if (!handler) {
        throw new ProtocolError('unexpected_message', `${this.role} in state ${this.state} cannot accept ${msg.t}`);
      }
      this.touch(now);
      handler.call(this, msg, now);
    } catch (err) {
      this.fail(toProtocolError(err));
    }
  }

  /**
   * Only the types some state of this role accepts, and `error`: decoding (its pre-scan
   * bounds) is shaped by what this role receives, not by every message of the protocol.
   * Otherwise a server would decode, at full cost, the 100,000-item arrays only its clients
   * are ever sent, before the transition table refused them (issue 9 §1). Built lazily:
   * `transitions` is a field of the subclass, set after this constructor runs.
   */
  private inboundSchemas(): Readonly<Record<string, MessageSchema>> {
    if (!this.inbound) {
      const inbound: Record<string, MessageSchema> = {};
      const accepted = (type: string) => {
        if (Object.hasOwn(this.schemas, type)) inbound[type] = this.schemas[type]!;
      };
      accepted('error');
      for (const table of Object.values<object | undefined>(this.transitions)) for (const type of Object.keys(table ?? {})) accepted(type);
      this.inbound = Object.freeze(inbound);
    }
    return this.inbound;
  }

  handleTimeout(now: number): void {
    if (this.failure || this.isFinished() || this.deadline === undefined) return;
    if (this.pendingWork > 0) return; // our own work is pending: the peer is waiting for us
    if (now >= this.deadline) this.fail(new ProtocolError('timeout', `${this.role} saw no message for ${this.idleTimeoutMs} ms in state ${this.state}`));
  }

  pollTransmit(): Uint8Array | undefined {
    return this.outbox.shift();
  }

  pollEvent(): SessionEvent<R> | undefined {
    return this.events.shift();
  }

  pollWork(): DeferredWork | undefined {
    return this.work.shift();
  }

  /**
   * Queue `start` for the driver; `done` runs with its value if the session is still live,
   * and anything either throws fails the session exactly as an error inside `handle()`.
   * `skipped` runs instead of `start` when the session ended before the driver got to the
   * piece (to release what a later piece waits on).
   */
  protected defer<T>(start: () => Promise<T>, done: (value: T) => void, skipped?: () => void): void {
    this.pendingWork++;
    this.work.push(async (now) => {
      let value: T;
      if (this.failure || this.isFinished()) {
        this.pendingWork--; // ended before the driver got to it: nothing to compute
        skipped?.();
        return;
      }
      try {
        value = await start();
      } catch (err) {
        this.pendingWork--;
        if (!this.failure && !this.isFinished()) this.fail(toProtocolError(err));
        return;
      }
      this.pendingWork--;
      if (this.failure || this.isFinished()) return;
      this.touch(now());
      try {
        done(value);
      } catch (err) {
        this.fail(toProtocolError(err));
      }
    });
  }

  pollTimeout(): number | undefined {
    return this.failure || this.isFinished() || this.pendingWork > 0 ? undefined : this.deadline;
  }

  /** Fail from outside (transport closed, local cancel); idempotent. */
  abort(error: ProtocolError): void {
    if (!this.failure && !this.isFinished()) this.fail(error);
  }

  abstract isFinished(): boolean;

  /** Failed or finished: deferred work must not start anything more. */
  protected get ended(): boolean {
    return this.failure !== undefined || this.isFinished();
  }

  protected send(message: Msg): void {
    this.outbox.push(encodeMessage(message));
  }

  protected emit(event: SessionEvent<R>): void {
    this.events.push(event);
  }

  protected touch(now: number): void {
    this.deadline = now + this.idleTimeoutMs;
  }

  private fail(error: ProtocolError): void {
    this.failure = error;
    // Messages queued before the failure (evaluations, a quota receipt) still go out, then the error.
    if (!error.remote) {
      const report = { t: 'error', code: error.code, message: error.message.slice(0, 1024), retryAfterMs: error.retryAfterMs };
      this.outbox.push(encodeMessage(report));
    }
    this.emit({ type: 'failed', error });
  }
}

/** Map anything thrown while handling a message to a coded protocol error. */
export function toProtocolError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  if (err instanceof GroupError) return new ProtocolError('bad_element', err.message, { cause: err });
  if (err instanceof OprfError) {
    return new ProtocolError(err.code === 'proof_invalid' ? 'proof_invalid' : 'bad_element', err.message, { cause: err });
  }
  if (err instanceof SetEncodingError) {
    return new ProtocolError(err.code === 'too_large' ? 'too_large' : 'bad_encoding', err.message, { cause: err });
  }
  // Never echo an unexpected exception's text to the peer: it may carry internal state.
  return new ProtocolError('internal', 'internal error', { cause: err });
}
