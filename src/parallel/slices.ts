/** How a batch of n elements is cut into tasks, and how the slices' outputs are put back together. */
import { concat } from '../oprf/encoding.js';

export interface SlicePlan {
  /** Workers available. */
  readonly workers: number;
  /** No slice smaller than this (the per-message overhead must stay small next to the work). */
  readonly minSlice: number;
  /** No slice larger than this, so one loaded core does not hold up the whole batch. */
  readonly maxSlice: number;
}

/** [start, end) bounds, in order, of near-equal slices; a multiple of `workers` slices when the batch is big. */
export function sliceBounds(n: number, plan: SlicePlan): [number, number][] {
  if (n === 0) return [];
  let count = Math.min(plan.workers, Math.ceil(n / plan.minSlice));
  count = Math.max(count, plan.workers * Math.ceil(n / (plan.workers * plan.maxSlice)));
  count = Math.min(count, n);
  const bounds: [number, number][] = [];
  for (let i = 0; i < count; i++) bounds.push([Math.floor((i * n) / count), Math.floor(((i + 1) * n) / count)]);
  return bounds;
}

/** One part is returned as is (no copy); several are joined. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concat(...parts);
}

/** Fixed-size outputs as views into the slices' buffers (no copy per element). */
export function splitFixed(parts: readonly Uint8Array[], size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of parts) for (let at = 0; at < p.length; at += size) out.push(p.subarray(at, at + size));
  return out;
}
