/**
 * Time for the client SDK. Every timer the SDK arms goes through a Clock, so tests (and
 * apps with their own scheduler, e.g. a mobile background-task API) can drive it.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The host's clock. Globals are looked up at call time (so fake timers installed after
 * construction still apply). By default Node timers are unref'd: a pending background sync
 * does not keep a process alive, so a CLI or a test exits when its own work is done, and
 * an app that wants syncs to go on must keep itself alive (a server, a UI loop) or ask for
 * `keepAlive`. With `keepAlive: true` the timers are ordinary ones: the next sync holds the
 * process open (a sync daemon with nothing else to do). Browsers have no such notion.
 */
export function hostClock(options: { keepAlive?: boolean } = {}): Clock {
  const keepAlive = options.keepAlive ?? false;
  return Object.freeze({
    now: () => Date.now(),
    setTimeout(callback: () => void, ms: number): unknown {
      const handle = globalThis.setTimeout(callback, ms) as unknown as { unref?: () => void };
      if (!keepAlive) handle.unref?.();
      return handle;
    },
    clearTimeout(handle: unknown): void {
      globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]);
    },
  });
}

/** The host's clock, timers unref'd (they do not keep a process alive): the SDK's default. */
export const systemClock: Clock = hostClock();
