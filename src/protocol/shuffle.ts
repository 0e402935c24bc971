import type { Rng } from '../group/types.js';

/** Uniform integer in [0, bound) by rejection sampling (no modulo bias). */
export function randomBelow(bound: number, rng: Rng): number {
  if (bound <= 1) return 0;
  const limit = Math.floor(0x100000000 / bound) * bound;
  for (;;) {
    const b = rng(4);
    const v = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    if (v < limit) return v % bound;
  }
}

/** Fisher-Yates over the fixed-size records of a packed byte array. */
export function shuffleInPlace(packed: Uint8Array, recordSize: number, rng: Rng): void {
  const n = packed.length / recordSize;
  const tmp = new Uint8Array(recordSize);
  for (let i = n - 1; i > 0; i--) {
    const j = randomBelow(i + 1, rng);
    if (j === i) continue;
    tmp.set(packed.subarray(i * recordSize, (i + 1) * recordSize));
    packed.copyWithin(i * recordSize, j * recordSize, (j + 1) * recordSize);
    packed.set(tmp, j * recordSize);
  }
}
