import { performance } from 'node:perf_hooks';

/** Wall time of fn in milliseconds (one run; callers choose batch sizes large enough to time). */
export function timeMs<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}

export async function timeMsAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** Microseconds per operation: runs fn(count) until at least minMs elapsed, reports the best run. */
export function perOpMicros(fn: (count: number) => void, count: number, repeats = 3): number {
  let best = Infinity;
  fn(Math.max(1, Math.floor(count / 10))); // warm-up (JIT, WASM tier-up)
  for (let r = 0; r < repeats; r++) {
    const { ms } = timeMs(() => fn(count));
    best = Math.min(best, (ms * 1000) / count);
  }
  return best;
}
