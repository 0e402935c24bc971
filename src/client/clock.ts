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
 * construction still apply), and Node timers are unref'd: a pending background sync must
 * not keep a CLI or a test process alive.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = globalThis.setTimeout(callback, ms) as unknown as { unref?: () => void };
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle: unknown): void {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]);
  },
});
