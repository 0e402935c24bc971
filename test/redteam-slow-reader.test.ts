/**
 * Red team, slow readers (issue 9 §2): a peer that pipelines requests and never reads.
 * The server paused reading once its output reached the high-water mark, but the messages
 * ws had already parsed from the last TCP read (one 64 KiB read holds ~1,600 pipelined
 * 40-byte `dir.snapshot.get`) still reached the session, and each queued its answer (a
 * part of up to 4 MiB) in the session's outbox: per connection, up to the session's
 * download cap (2x the snapshot: ~226 MB for a 100M-entry directory), held for as long as
 * the peer reads nothing. Now input waits while output is backed up (and counts in the
 * inbound budget): output queued beyond the mark is at most one message's answer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SansIoSession, SessionEvent } from '../src/protocol/session-core.js';
import { SessionPump, type PumpSocket } from '../src/transport/ws/pump.js';
import { FakeClock } from './helpers/fake-clock.js';

/** A session that answers every message with `answerBytes` bytes and never ends. */
function answeringSession(answerBytes: number) {
  const outbox: Uint8Array[] = [];
  const counters = { handled: 0 };
  const session: SansIoSession = {
    handle: () => {
      counters.handled++;
      outbox.push(new Uint8Array(answerBytes));
    },
    handleTimeout: () => {},
    pollTransmit: () => outbox.shift(),
    pollEvent: (): SessionEvent<unknown> | undefined => undefined,
    pollTimeout: () => undefined,
    abort: () => {},
    isFinished: () => false,
    currentState: 'serving',
    error: undefined,
  };
  const queued = () => outbox.reduce((n, b) => n + b.length, 0);
  return { session, counters, queued };
}

/** A server-side socket whose peer reads nothing until `drain()`: every send stays buffered. */
function stuckSocket() {
  const pending: { bytes: number; written: () => void }[] = [];
  let paused = false;
  const socket: PumpSocket = {
    get bufferedAmount() {
      return pending.reduce((n, p) => n + p.bytes, 0);
    },
    reportsWrites: true,
    send: (bytes, written) => void pending.push({ bytes: bytes.length, written }),
    close: () => {},
    pauseReading: () => void (paused = true),
    resumeReading: () => void (paused = false),
  };
  const drain = () => {
    for (const p of pending.splice(0)) p.written();
  };
  return { socket, drain, isPaused: () => paused };
}

const MiB = 1024 * 1024;

describe('a peer that pipelines requests and reads nothing', () => {
  it('property: the session sees no message while output is backed up; what it queued beyond the mark is one answer; all is answered once the peer reads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 400 }), fc.integer({ min: 1, max: 256 * 1024 }), fc.integer({ min: 1024, max: 128 * 1024 }), (requests, answerBytes, mark) => {
        const clock = new FakeClock();
        const { session, counters, queued } = answeringSession(answerBytes);
        const { socket, drain, isPaused } = stuckSocket();
        const pump = new SessionPump(session, socket, { highWaterMarkBytes: mark, now: () => clock.now(), timers: clock, onEvent: () => {} });
        pump.drive();
        // Everything ws parsed from one TCP read arrives in one go, whatever the pause.
        for (let i = 0; i < requests; i++) pump.receive(new Uint8Array(40));
        const handledWhileStuck = counters.handled;
        // Until the socket's buffer reaches the mark, each message is answered; then nothing more.
        expect(handledWhileStuck).toBeLessThanOrEqual(Math.ceil(mark / answerBytes) + 1);
        expect(socket.bufferedAmount + queued()).toBeLessThanOrEqual(mark + 2 * answerBytes);
        expect(pump.queuedInputBytes).toBe((requests - handledWhileStuck) * 40);
        expect(isPaused()).toBe(socket.bufferedAmount >= mark);
        // The peer reads: everything is answered, in order, none lost.
        for (let rounds = 0; counters.handled < requests && rounds < requests + 2; rounds++) drain();
        expect(counters.handled).toBe(requests);
        expect(pump.queuedInputBytes).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('one TCP read of 1,600 snapshot requests for 4 MiB parts queues at most the mark plus one part', () => {
    const clock = new FakeClock();
    const { session, counters, queued } = answeringSession(4 * MiB);
    const { socket } = stuckSocket();
    const pump = new SessionPump(session, socket, { highWaterMarkBytes: MiB, now: () => clock.now(), timers: clock, onEvent: () => {} });
    pump.drive();
    for (let i = 0; i < 1600; i++) pump.receive(new Uint8Array(40));
    expect(counters.handled).toBe(1);
    expect(socket.bufferedAmount + queued()).toBe(4 * MiB);
  });
});
