/**
 * The transport's clock: the time and the timers, injectable so that tests drive
 * heartbeats, idle windows, no-progress deadlines and graceful close by advancing a fake
 * clock instead of sleeping (issue 9 §6). Production uses the system clock.
 */

/** An opaque timer handle: whatever the clock's setTimeout/setInterval returned. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic enough for deadlines (Date.now() in production). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: TimerHandle) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
  clearInterval: (h: TimerHandle) => clearInterval(h as ReturnType<typeof setInterval>),
});
