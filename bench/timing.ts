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

/** Microseconds per operation: a warm-up, then `repeats` runs of fn(count); the best run. */
export function perOpMicros(fn: (count: number) => void, count: number, repeats = 3): number {
  let best = Infinity;
  fn(Math.max(1, Math.floor(count / 10))); // warm-up (JIT, WASM tier-up)
  for (let r = 0; r < repeats; r++) {
    const { ms } = timeMs(() => fn(count));
    best = Math.min(best, (ms * 1000) / count);
  }
  return best;
}

/** The same for asynchronous work (a worker pool). */
export async function perOpMicrosAsync(fn: (count: number) => Promise<unknown>, count: number, repeats = 3): Promise<number> {
  let best = Infinity;
  await fn(Math.max(1, Math.floor(count / 10)));
  for (let r = 0; r < repeats; r++) {
    const { ms } = await timeMsAsync(() => fn(count));
    best = Math.min(best, (ms * 1000) / count);
  }
  return best;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Rounds for tables: 4 significant digits, integers kept. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value;
  return Number(value.toPrecision(digits));
}
