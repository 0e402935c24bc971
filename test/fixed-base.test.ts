/**
 * The fixed-base comb of the four-lane SIMD module (asm/ristretto255-x4/fixed-base4.ts,
 * src/group/fixed-base-x4.ts) against the variable-base ladder of the same module and
 * against @noble/curves: s B for random and edge scalars (1, 2, L - 1, L - 2, top bits
 * set, every digit magnitude) and random bases, each lane its own scalar (batches of
 * 1..9 elements: full passes, partial passes, padding); the fused additive-blinding passes
 * H(u) + r G and D - r PK; scalar 0 gives the identity; bad inputs keep their codes.
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { GroupError } from '../src/errors.js';
import { bytesToScalar, scalarToBytes, toHex } from '../src/group/wasm-bytes.js';
import { loadWasmX4Internals, type WasmX4, type WasmX4Exports } from '../src/group/wasm-x4.js';

const { Point } = ristretto255;
const L = Point.Fn.ORDER;

let x4: WasmX4;
let ex: WasmX4Exports;
beforeAll(async () => {
  const loaded = await loadWasmX4Internals();
  if (loaded === null) throw new Error('the SIMD module did not load');
  x4 = loaded.api;
  ex = loaded.exports;
});

/** Edge scalars: the ends of [1, L), powers of two near the top, top bits set, all-ones digits. */
const EDGE = [1n, 2n, 3n, 8n, 9n, 15n, 16n, 17n, L - 1n, L - 2n, L - 8n, 2n ** 252n, 2n ** 252n - 1n, 2n ** 251n + 2n ** 250n, (L - 1n) / 2n, (L + 1n) / 2n, 0x0888888888888888888888888888888888888888888888888888888888888888n % L];
const scalarArb = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...EDGE) }, { weight: 3, arbitrary: fc.bigInt({ min: 1n, max: L - 1n }) });
const baseArb = fc.bigInt({ min: 1n, max: L - 1n }).map((k) => Point.BASE.multiply(k));
const batchArb = fc.array(scalarArb, { minLength: 1, maxLength: 9 });

const pack = (xs: readonly bigint[]): Uint8Array => {
  const out = new Uint8Array(32 * xs.length);
  xs.forEach((s, i) => out.set(scalarToBytes(s), 32 * i));
  return out;
};
const repeat = (bytes: Uint8Array, n: number): Uint8Array => {
  const out = new Uint8Array(bytes.length * n);
  for (let i = 0; i < n; i++) out.set(bytes, i * bytes.length);
  return out;
};
const chunks = (bytes: Uint8Array, size: number): string[] => {
  const out: string[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(toHex(bytes.subarray(at, at + size)));
  return out;
};

describe('fixed-base comb', () => {
  it('the generators reach the edge scalars, top-bit scalars and every lane count', () => {
    const sample = fc.sample(fc.tuple(batchArb, baseArb), { numRuns: 300, seed: 7 });
    const scalars = new Set(sample.flatMap(([xs]) => xs));
    for (const e of [1n, L - 1n, 2n ** 252n]) expect(scalars.has(e)).toBe(true);
    expect([...scalars].some((s) => s >= 2n ** 252n)).toBe(true);
    const lengths = new Set(sample.map(([xs]) => xs.length));
    for (let n = 1; n <= 9; n++) expect(lengths.has(n)).toBe(true);
  });

  it('comb == variable-base ladder == noble, each lane its own scalar', () => {
    fc.assert(
      fc.property(batchArb, baseArb, (xs, base) => {
        const b = base.toBytes();
        const comb = x4.fixedBase.mulBaseEach(b, pack(xs));
        const ladder = x4.mulEach(pack(xs), repeat(b, xs.length));
        const noble = xs.map((s) => toHex(base.multiply(s).toBytes()));
        expect(chunks(comb, 32)).toEqual(noble);
        expect(chunks(ladder, 32)).toEqual(noble);
      }),
      { numRuns: 60 },
    );
  });

  it('H(u) + r G (the fused blinding pass) == noble', () => {
    fc.assert(
      fc.property(batchArb, fc.uint8Array({ minLength: 64 * 9, maxLength: 64 * 9 }), (xs, bytes) => {
        const uniform = bytes.subarray(0, 64 * xs.length);
        const got = x4.fixedBase.hashAddBaseEach(pack(xs), uniform);
        const want = xs.map((s, i) => toHex(ristretto255_hasher.deriveToCurve!(uniform.subarray(64 * i, 64 * i + 64)).add(Point.BASE.multiply(s)).toBytes()));
        expect(chunks(got, 32)).toEqual(want);
      }),
      { numRuns: 40 },
    );
  });

  it('D - r PK from decoded coordinates (the fused unblinding pass) == noble', () => {
    fc.assert(
      fc.property(batchArb, baseArb, fc.array(fc.bigInt({ min: 1n, max: L - 1n }), { minLength: 9, maxLength: 9 }), (xs, pk, ds) => {
        const D = ds.slice(0, xs.length).map((d) => Point.BASE.multiply(d));
        const packed = new Uint8Array(32 * xs.length);
        D.forEach((p, i) => packed.set(p.toBytes(), 32 * i));
        const { firstInvalid, xy } = x4.validateXY(packed);
        expect(firstInvalid).toBe(-1);
        const got = x4.fixedBase.subBaseEachFromXY(pk.toBytes(), pack(xs), xy!);
        const want = xs.map((s, i) => toHex(D[i].subtract(pk.multiply(s)).toBytes()));
        expect(chunks(got, 32)).toEqual(want);
      }),
      { numRuns: 40 },
    );
  });

  it('scalar 0 gives the identity (status +(i + 1)); the API refuses 0 and L as bad_scalar', () => {
    const TB = ex.tableBytes();
    const g = Point.BASE.toBytes();
    let at = ex.alloc(32 + TB);
    new Uint8Array(ex.memory.buffer).set(g, at);
    expect(ex.baseTable(at, at + 32)).toBe(0);
    const table = new Uint8Array(ex.memory.buffer).slice(at + 32, at + 32 + TB);
    // Lanes: 5, 0, 7 -> the second result is the identity.
    at = ex.alloc(TB + 3 * 64);
    const H = new Uint8Array(ex.memory.buffer);
    H.set(table, at);
    H.set(pack([5n]), at + TB);
    H.set(pack([7n]), at + TB + 64);
    expect(ex.mulBaseEach(3, at, at + TB, at + TB + 96)).toBe(2);
    for (const bad of [0n, L]) {
      const bytes = new Uint8Array(32);
      let v = bad;
      for (let i = 0; i < 32; i++, v >>= 8n) bytes[i] = Number(v & 0xffn);
      expect(() => x4.fixedBase.mulBaseEach(g, bytes)).toThrow(expect.objectContaining({ code: 'bad_scalar' }));
      expect(bytesToScalar(bytes)).toBe(bad);
    }
  });

  it('a base that is not a valid element, or the identity, is refused (bad_element)', () => {
    const one = pack([1n]);
    expect(() => x4.fixedBase.mulBaseEach(new Uint8Array(32), one)).toThrow(GroupError);
    const nonCanonical = new Uint8Array(32).fill(0xff);
    expect(() => x4.fixedBase.mulBaseEach(nonCanonical, one)).toThrow(expect.objectContaining({ code: 'bad_element' }));
    expect(() => x4.fixedBase.mulBaseEach(Point.BASE.toBytes().subarray(0, 31), one)).toThrow(expect.objectContaining({ code: 'bad_length' }));
  });

  it('a batch past one module call (4,096 elements) stays right at the slice border', () => {
    const n = 4100;
    const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1) * 0x1234567n);
    const base = Point.BASE.multiply(99n);
    const got = chunks(x4.fixedBase.mulBaseEach(base.toBytes(), pack(xs)), 32);
    for (const i of [0, 4094, 4095, 4096, 4099]) expect(got[i]).toBe(toHex(base.multiply(xs[i]).toBytes()));
  });
});
