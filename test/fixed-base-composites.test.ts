/**
 * The paired composites pass of the SIMD module (asm/ristretto255-x4/msm2.ts,
 * src/group/composites-x4.ts): M = sum d_i C_i and Z = sum d_i D_i equal the one-lane
 * WASM MSM's (and so RFC 9497 §2.2.2's) for random and edge weights (0, 1, L - 1, bytes of
 * 0x80 and 0xff that make the signed recoding borrow, the top byte) and any batch size,
 * including the sizes the client's proof check hands it (PAIR_MIN_POINTS and up); an
 * identity sum is null.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PAIR_MIN_POINTS } from '../src/group/composites-x4.js';
import { loadWasmMsm, type WasmMsm } from '../src/group/wasm-msm.js';
import { loadWasmX4, type WasmX4 } from '../src/group/wasm-x4.js';
import { scalarToBytes, toHex } from '../src/group/wasm-bytes.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
let x4: WasmX4;
let msm: WasmMsm;
beforeAll(async () => {
  const [a, b] = await Promise.all([loadWasmX4(), loadWasmMsm()]);
  if (a === null || b === null) throw new Error('the WASM modules did not load');
  x4 = a;
  msm = b;
});

const EDGE = [0n, 1n, 2n, 127n, 128n, 255n, 256n, L - 1n, (L - 1n) >> 1n, 0x80808080808080808080808080808080808080808080808080808080808080n, 2n ** 252n, 0xff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ffn % L];
const weightArb = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...EDGE) }, { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: L - 1n }) });

function points(seedBytes: Uint8Array, n: number): Uint8Array {
  const uniform = new Uint8Array(64 * n);
  for (let i = 0; i < uniform.length; i++) uniform[i] = seedBytes[i % seedBytes.length] ^ (i * 131) ^ (i >> 8);
  return x4.validateXY(x4.fromHash(uniform)).xy!;
}

function pack(ws: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(32 * ws.length);
  ws.forEach((w, i) => out.set(scalarToBytes(w), 32 * i));
  return out;
}

const oneLane = (weights: Uint8Array, xy: Uint8Array): string | null => {
  try {
    return toHex(msm.msmAffine(weights, xy));
  } catch (err) {
    if ((err as { code?: string }).code === 'identity_element') return null;
    throw err;
  }
};

describe('paired composites', () => {
  it('the generator reaches the edge weights', () => {
    const seen = new Set(fc.sample(weightArb, { numRuns: 2000, seed: 3 }));
    for (const e of [0n, 1n, L - 1n, 128n]) expect(seen.has(e)).toBe(true);
  });

  it('equal two one-lane MSMs for small batches (every lane and window path)', () => {
    fc.assert(
      fc.property(fc.array(weightArb, { minLength: 1, maxLength: 9 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (ws, seed) => {
        const weights = pack(ws);
        const c = points(seed, ws.length);
        const d = points(seed.map((b) => b ^ 0x5a), ws.length);
        const { m, z } = x4.compositePair(weights, c, d);
        expect(m === null ? null : toHex(m)).toBe(oneLane(weights, c));
        expect(z === null ? null : toHex(z)).toBe(oneLane(weights, d));
      }),
      { numRuns: 12 },
    );
  });

  it('equal two one-lane MSMs at the sizes the proof check uses', () => {
    fc.assert(
      fc.property(fc.integer({ min: PAIR_MIN_POINTS, max: PAIR_MIN_POINTS + 200 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(weightArb, { minLength: 32, maxLength: 32 }), (n, seed, some) => {
        const ws = Array.from({ length: n }, (_, i) => (i < some.length ? some[i] : BigInt(i) * 0x9e3779b97f4a7c15f39cc0605cedc834n % L));
        const weights = pack(ws);
        const c = points(seed, n);
        const d = points(seed.map((b) => b ^ 0xa5), n);
        const { m, z } = x4.compositePair(weights, c, d);
        expect(toHex(m!)).toBe(oneLane(weights, c));
        expect(toHex(z!)).toBe(oneLane(weights, d));
      }),
      { numRuns: 3 },
    );
  });

  it('an identity sum is null: zero weights, or P and -P with the same weight', () => {
    const c = points(new Uint8Array(16).fill(1), 3);
    const { m, z } = x4.compositePair(new Uint8Array(96), c, c);
    expect(m).toBeNull();
    expect(z).toBeNull();
  });
});
