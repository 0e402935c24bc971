/**
 * The DLEQ composites of a client's proof check on the four-lane SIMD module
 * (asm/ristretto255-x4/msm2.ts): M = sum d_i C_i and Z = sum d_i D_i in one Pippenger pass
 * whose lanes carry C and D of two windows at once. Public data only (weights, blinded and
 * evaluated elements): variable time. Against two one-lane MSMs (wasm-msm.ts msmAffine)
 * ~25-30% less CPU from 768 points on; below PAIR_MIN_POINTS its fixed cost (summing 128
 * buckets for 16 window pairs) does not pay, and the caller keeps the one-lane MSMs.
 */
import { ContactPsiError, GroupError } from '../errors.js';

export interface CompositesExports {
  readonly memory: WebAssembly.Memory;
  alloc(size: number): number;
  compositeScratch(n: number): number;
  composites(n: number, weights: number, cxy: number, dxy: number, out: number, scratch: number): number;
}

export const COMPOSITES_EXPORTS = ['compositeScratch', 'composites'] as const;

/** From this many points the paired pass beats two one-lane MSMs (bench, load ~7: 768 -> 0.70x, 1,024 -> 0.75x). */
export const PAIR_MIN_POINTS = 512;

export type CompositePair = (weights: Uint8Array, cxy: Uint8Array, dxy: Uint8Array) => { m: Uint8Array | null; z: Uint8Array | null };

export function makeCompositePair(ex: CompositesExports): CompositePair {
  return (weights, cxy, dxy) => {
    const n = cxy.length / 64;
    if (!Number.isInteger(n) || n < 1 || dxy.length !== cxy.length || weights.length !== 32 * n) throw new GroupError('bad_length', 'one weight and one point of each batch expected');
    const scratch = ex.compositeScratch(n);
    const used = 32 * n + 128 * n + 64 + 16 + scratch;
    const at = ex.alloc(used);
    if (at === 0) throw new ContactPsiError('backend_unavailable', 'the WebAssembly SIMD multiplier could not grow its memory');
    const wAt = at;
    const cAt = wAt + 32 * n;
    const dAt = cAt + 64 * n;
    const out = dAt + 64 * n;
    const sAt = (out + 64 + 15) & ~15;
    try {
      const H = new Uint8Array(ex.memory.buffer);
      H.set(weights, wAt);
      H.set(cxy, cAt);
      H.set(dxy, dAt);
      const identity = ex.composites(n, wAt, cAt, dAt, out, sAt);
      const R = new Uint8Array(ex.memory.buffer);
      return { m: identity & 1 ? null : R.slice(out, out + 32), z: identity & 2 ? null : R.slice(out + 32, out + 64) };
    } finally {
      new Uint8Array(ex.memory.buffer).fill(0, at, at + used);
    }
  };
}
