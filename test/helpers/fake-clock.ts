/**
 * A manual clock for the transport (src/transport/ws/clock.ts): time moves only when a
 * test calls advance(), which runs every timer that falls due, in order. Tests of
 * heartbeats, deadlines and graceful close drive it instead of sleeping.
 */
import type { Clock, TimerHandle } from '../../src/transport/ws/clock.js';

interface Timer {
  id: number;
  at: number;
  every?: number;
  fn(): void;
}

export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 1_000_000) {
    this.t = start;
  }

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): TimerHandle => this.add(fn, ms);
  setInterval = (fn: () => void, ms: number): TimerHandle => this.add(fn, ms, Math.max(1, ms));
  clearTimeout = (h: TimerHandle): void => void this.timers.delete(h as number);
  clearInterval = (h: TimerHandle): void => void this.timers.delete(h as number);

  /** Timers pending (intervals included). */
  get pending(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, firing each due timer at its own time, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.timers.values()) if (timer.at <= end && (!next || timer.at < next.at || (timer.at === next.at && timer.id < next.id))) next = timer;
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.every !== undefined) next.at += next.every;
      else this.timers.delete(next.id);
      next.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every?: number): number {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), every, fn });
    return id;
  }
}
