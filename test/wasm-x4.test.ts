/**
 * The four-lane WebAssembly SIMD multiplier (src/group/wasm-x4.ts, asm/ristretto255-x4/)
 * must agree byte for byte with the noble reference: random batches of every size from 1
 * to 13 (so each tail of 1-3 padded lanes is covered) and one of 257, random and edge-case
 * scalars; the fused hash-to-group and the bare one-way map against noble's RFC 9496
 * element derivation and libsodium's from_hash; RFC 9496 Appendix A vectors; strict
 * decoding with the sodium backend's error codes, messages and order; wiping of secrets;
 * the batch encoding of doubled points across its groups of passes, torsion (identity)
 * results, and evaluation from the coordinates validateXY decoded.
 *
 * The .wasm is build output: if it is missing it is built here (scripts/build-wasm-x4.mjs).
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { GroupError } from '../src/errors.js';
import { nobleRistretto255 } from '../src/group/noble.js';
import { loadSodiumPrimitives, loadSodiumRistretto255, type SodiumPrimitives } from '../src/group/sodium.js';
import type { Group } from '../src/group/types.js';
import { loadWasmX4, loadWasmX4Internals, type WasmX4, type WasmX4Exports } from '../src/group/wasm-x4.js';
import { hex, readRfcVectors, toHex } from './helpers/vectors.js';

const noble = nobleRistretto255;
const L = noble.scalar.order;
const RUNS = { numRuns: 40 }; // noble costs ~0.5 ms per multiplication

const wasmFile = fileURLToPath(new URL('../src/group/wasm/ristretto255-x4.wasm', import.meta.url));
const buildScript = fileURLToPath(new URL('../scripts/build-wasm-x4.mjs', import.meta.url));

let x4: WasmX4;
let raw: WasmX4Exports;
let sodium: Group;
let sodiumPrims: SodiumPrimitives;

beforeAll(async () => {
  if (!existsSync(wasmFile)) execFileSync(process.execPath, [buildScript], { stdio: 'inherit' });
  const loaded = await loadWasmX4Internals();
  if (loaded === null) throw new Error('the WASM SIMD module did not load or failed its self-test');
  x4 = loaded.api;
  raw = loaded.exports;
  sodium = await loadSodiumRistretto255();
  sodiumPrims = await loadSodiumPrimitives();
}, 120_000);

// ---------------------------------------------------------------------------------------
// Generators

/** Scalars in [1, L): uniform, edge values, small values, long runs of zero or one bits. */
const scalarArb = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: L - 1n }) },
  { weight: 1, arbitrary: fc.constantFrom(1n, 2n, 3n, 8n, 9n, 16n, L - 1n, L - 2n, L - 8n, 2n ** 252n, 2n ** 252n - 1n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 255n }) },
  {
    weight: 2,
    // runs: a random window of ones (or a single one bit) inside zeros, or its complement mod L
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 251 }), fc.integer({ min: 1, max: 252 }), fc.boolean()).map(([lo, len, flip]) => {
      const width = Math.min(len, 252 - lo);
      const ones = ((1n << BigInt(Math.max(width, 1))) - 1n) << BigInt(lo);
      const s = flip ? (2n ** 252n - 1n) ^ ones : ones;
      return s === 0n ? 1n : s % L;
    }),
  },
);

/** Valid elements from noble alone: hash_to_ristretto255 of random bytes. */
const elementArb = fc.uint8Array({ minLength: 1, maxLength: 24 }).map((m) => noble.hashToGroup(m, new TextEncoder().encode('wasm-x4 test')));

const batchArb = (min: number, max: number) =>
  fc.integer({ min, max }).chain((n) => fc.tuple(fc.array(elementArb, { minLength: n, maxLength: n }), fc.array(scalarArb, { minLength: n, maxLength: n })));

const pack = (els: readonly Uint8Array[], size = 32): Uint8Array => {
  const out = new Uint8Array(els.length * size);
  els.forEach((e, i) => out.set(e, i * size));
  return out;
};
const le32 = (s: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  let v = s;
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};
const at = (packed: Uint8Array, i: number, size = 32) => packed.subarray(i * size, (i + 1) * size);

/** The thrown GroupError as "code: message", or 'ok'. */
function failure(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    if (err instanceof GroupError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------

describe('wasm-x4: agreement with noble', () => {
  it('loads (WebAssembly SIMD available here) and passes its self-test', async () => {
    expect(await loadWasmX4()).not.toBeNull();
  });

  it('mulEach equals noble multiply element by element, n = 1..13', () => {
    fc.assert(
      fc.property(batchArb(1, 13), ([els, scalars]) => {
        const out = x4.mulEach(scalars, pack(els));
        els.forEach((e, i) => expect(toHex(at(out, i))).toBe(toHex(noble.multiply(scalars[i], e))));
        // the byte form of the scalars gives the same result
        expect(toHex(x4.mulEach(pack(scalars.map(le32)), pack(els)))).toBe(toHex(out));
      }),
      RUNS,
    );
  });

  it('mulCommon equals noble multiplyPacked, n = 1..13', () => {
    fc.assert(
      fc.property(batchArb(1, 13), scalarArb, ([els], k) => {
        expect(toHex(x4.mulCommon(k, pack(els)))).toBe(toHex(noble.multiplyPacked(k, pack(els))));
      }),
      RUNS,
    );
  });

  it('every n from 1 to 13 and n = 257 (several 4-lane passes plus a tail)', () => {
    const els = Array.from({ length: 257 }, (_, i) => noble.hashToGroup(new Uint8Array([i & 0xff, i >> 8]), new Uint8Array([1])));
    const scalars = els.map((_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15f39cc0605cedc835n) % L);
    const k = 0x1234567890abcdef1234567890abcdef1234567890abcdefn;
    const wantEach = els.map((e, i) => toHex(noble.multiply(scalars[i], e)));
    const wantCommon = els.map((e) => toHex(noble.multiply(k, e)));
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 257]) {
      const each = x4.mulEach(scalars.slice(0, n), pack(els.slice(0, n)));
      const common = x4.mulCommon(k, pack(els.slice(0, n)));
      for (let i = 0; i < n; i++) {
        expect(toHex(at(each, i))).toBe(wantEach[i]);
        expect(toHex(at(common, i))).toBe(wantCommon[i]);
      }
    }
  });

  it('hashMulCommon equals noble k * OneWayMap(u); fromHash equals noble and libsodium', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 13 }).chain((n) => fc.uint8Array({ minLength: 64 * n, maxLength: 64 * n })), scalarArb, (uniform, k) => {
        const n = uniform.length / 64;
        const fused = x4.hashMulCommon(k, uniform);
        const mapped = x4.fromHash(uniform);
        for (let i = 0; i < n; i++) {
          const u = at(uniform, i, 64);
          const point = ristretto255_hasher.deriveToCurve!(u);
          expect(toHex(at(mapped, i))).toBe(toHex(point.toBytes()));
          expect(toHex(at(mapped, i))).toBe(toHex(sodiumPrims.fromHash(u)));
          expect(toHex(at(fused, i))).toBe(toHex(point.multiply(k).toBytes()));
        }
      }),
      RUNS,
    );
  });

  it('mulEach agrees with the sodium backend on a batch of 64', () => {
    const els = Array.from({ length: 64 }, (_, i) => noble.hashToGroup(new Uint8Array([i, 7]), new Uint8Array([2])));
    const scalars = els.map((_, i) => (BigInt(i + 3) ** 40n) % L);
    expect(toHex(x4.mulEach(scalars, pack(els)))).toBe(toHex(sodium.multiplyEach(scalars, pack(els))));
  });
});

describe('wasm-x4: batch encoding of doubled points and evaluation from decoded coordinates', () => {
  // The multiplications compute (s / 2) P and encode 2 (s / 2) P = s P with one inversion per
  // group of 64 passes (asm/ristretto255-x4/batch-encode4.ts); validateXY and
  // mulCommonFromXY let a server decode each element once between its check and its evaluation.
  const fieldP = 2n ** 255n - 19n;
  const fe = (v: bigint): Uint8Array => le32(((v % fieldP) + fieldP) % fieldP);
  // sqrt(-1) mod p (RFC 9496 §4.1 SQRT_M1)
  const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;

  it('sizes around the groups of 64 passes (255, 256, 257, 513, 1025): mulCommon, mulEach and hashMulCommon equal noble', () => {
    const els = Array.from({ length: 1025 }, (_, i) => noble.hashToGroup(new Uint8Array([i & 0xff, i >> 8, 3]), new Uint8Array([4])));
    const k = L - 0x1234567890abcdef1234567890abcdefn; // odd, near L: the halving adds L
    const scalars = els.map((_, i) => (BigInt(i + 5) * 0x9e3779b97f4a7c15f39cc0605cedc835n) % L);
    const uniform = new Uint8Array(64 * 1025).map((_, i) => (i * 131 + 17) & 0xff);
    const common = x4.mulCommon(k, pack(els));
    const each = x4.mulEach(scalars, pack(els));
    const fused = x4.hashMulCommon(k, uniform);
    for (let i = 0; i < 1025; i++) {
      expect(toHex(at(common, i))).toBe(toHex(noble.multiply(k, els[i])));
      if (i % 7 === 0) {
        expect(toHex(at(each, i))).toBe(toHex(noble.multiply(scalars[i], els[i])));
        expect(toHex(at(fused, i))).toBe(toHex(ristretto255_hasher.deriveToCurve!(at(uniform, i, 64)).multiply(k).toBytes()));
      }
    }
    for (const n of [255, 256, 257, 513]) {
      expect(toHex(x4.mulCommon(k, pack(els.slice(0, n))))).toBe(toHex(common.subarray(0, 32 * n)));
      expect(toHex(x4.mulEach(scalars.slice(0, n), pack(els.slice(0, n))))).toBe(toHex(each.subarray(0, 32 * n)));
    }
  });

  it('validateXY gives mulCommonXY\'s coordinates; mulCommonFromXY of them equals mulCommon and noble (random batches and scalars)', () => {
    fc.assert(
      fc.property(batchArb(1, 13), scalarArb, ([els], k) => {
        const packed = pack(els);
        const { firstInvalid, xy } = x4.validateXY(packed);
        expect(firstInvalid).toBe(-1);
        expect(toHex(xy!)).toBe(toHex(x4.mulCommonXY(k, packed).xy));
        expect(toHex(x4.mulCommonFromXY(k, xy!))).toBe(toHex(noble.multiplyPacked(k, packed)));
      }),
      RUNS,
    );
  });

  it('validateXY names the first bad element as firstInvalid does, at every lane position and past a slice', () => {
    const g = ristretto255.Point.BASE.toBytes();
    for (const n of [3, 6, 9]) {
      for (let index = 0; index < n; index++) {
        const els = Array.from({ length: n }, () => g);
        els[index] = index % 2 ? new Uint8Array(32) : Uint8Array.from([1, ...new Array<number>(31).fill(0)]);
        expect(x4.validateXY(pack(els))).toEqual({ firstInvalid: index, xy: null });
        expect(x4.firstInvalid(pack(els))).toBe(index);
      }
    }
    expect(x4.validateXY(new Uint8Array(0))).toEqual({ firstInvalid: -1, xy: new Uint8Array(0) });
    expect(failure(() => x4.validateXY(new Uint8Array(31)))).toMatch(/^bad_length/);
  });

  it('a torsion point gives an identity result (e g = 0 in the batch inversion), reported with its index; scalars are checked', () => {
    const g = ristretto255.Point.BASE;
    // Affine coordinates of points of order 1, 2 and 4: (0, 1), (0, -1), (sqrt(-1), 0).
    for (const [x, y] of [[0n, 1n], [0n, -1n], [SQRT_M1, 0n]] as const) {
      for (const index of [0, 3, 6, 300]) {
        const n = Math.max(8, index + 2);
        const coords = new Uint8Array(64 * n);
        for (let i = 0; i < n; i++) {
          const p = g.multiply(BigInt(i + 2)).toAffine();
          coords.set(i === index ? fe(x) : fe(p.x), 64 * i);
          coords.set(i === index ? fe(y) : fe(p.y), 64 * i + 32);
        }
        expect(failure(() => x4.mulCommonFromXY(3n, coords))).toBe('identity_element: result is the identity');
        const base = raw.alloc(32 + 96 * n);
        const H = new Uint8Array(raw.memory.buffer);
        H.set(le32(3n), base);
        H.set(coords, base + 32);
        expect(raw.mulCommonFromXY(n, base, base + 32, base + 32 + 64 * n)).toBe(index + 1);
        new Uint8Array(raw.memory.buffer).fill(0, base, base + 32 + 96 * n);
      }
    }
    const coords = x4.validateXY(pack([g.toBytes(), g.toBytes(), g.toBytes()])).xy!;
    for (const bad of [0n, L, -1n]) expect(failure(() => x4.mulCommonFromXY(bad, coords))).toMatch(/^bad_scalar/);
    expect(failure(() => x4.mulCommonFromXY(1n, new Uint8Array(65)))).toMatch(/^bad_length/);
    expect(x4.mulCommonFromXY(1n, new Uint8Array(0)).length).toBe(0);
  });
});

describe('wasm-x4: RFC 9496 Appendix A', () => {
  interface Rfc9496 {
    generatorMultiples: { encodings: string[] };
    invalidEncodings: { encodings: string[] };
    elementDerivation: { vectors: { label: string; input: string; output: string }[] };
  }
  const vectors = readRfcVectors<Rfc9496>('rfc9496-ristretto255.json');

  it('A.1: k * B for k = 1..15 (mulCommon and mulEach)', () => {
    const enc = vectors.generatorMultiples.encodings;
    const g = hex(enc[1]);
    for (let k = 1; k < 16; k++) expect(toHex(x4.mulCommon(BigInt(k), g))).toBe(enc[k]);
    const gs = pack(Array.from({ length: 15 }, () => g));
    const each = x4.mulEach(Array.from({ length: 15 }, (_, i) => BigInt(i + 1)), gs);
    for (let k = 1; k < 16; k++) expect(toHex(at(each, k - 1))).toBe(enc[k]);
    // and decode/encode round trips of the multiples themselves (scalar 1)
    const multiples = pack(enc.slice(1).map(hex));
    expect(toHex(x4.mulCommon(1n, multiples))).toBe(toHex(multiples));
  });

  it('A.2: every invalid encoding is rejected with its index, at every lane position', () => {
    const g = hex(vectors.generatorMultiples.encodings[1]);
    for (const bad of vectors.invalidEncodings.encodings) {
      for (const index of [0, 1, 2, 3, 5]) {
        const els = Array.from({ length: 6 }, () => g);
        els[index] = hex(bad);
        const message = `bad_element: element at index ${index} is not a canonical encoding of a group element`;
        expect(failure(() => x4.mulCommon(7n, pack(els)))).toBe(message);
        expect(failure(() => x4.mulEach(els.map(() => 5n), pack(els)))).toBe(message);
        expect(failure(() => sodium.multiplyPacked(7n, pack(els)))).toBe(message);
      }
    }
  });

  it('A.3: element derivation (fromHash) and its fused multiple', () => {
    const vs = vectors.elementDerivation.vectors;
    const uniform = pack(vs.map((v) => hex(v.input)), 64);
    const out = x4.fromHash(uniform);
    vs.forEach((v, i) => expect(toHex(at(out, i))).toBe(v.output));
    const k = 0xdeadbeefn;
    const fused = x4.hashMulCommon(k, uniform);
    vs.forEach((v, i) => expect(toHex(at(fused, i))).toBe(toHex(ristretto255.Point.fromHex(v.output).multiply(k).toBytes())));
  });
});

describe('wasm-x4: strict decoding and errors (as the sodium backend reports them)', () => {
  const g = ristretto255.Point.BASE.toBytes();
  const p = 2n ** 255n - 19n;

  it('non-canonical, negative, non-square and high-bit encodings are rejected with the right index', () => {
    const cases = [
      le32(p), // = 0 mod p, non-canonical
      le32(p + 2n), // non-canonical 2
      Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x7f : 0xff)), // 2^255 - 1
      Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)), // s = 1: negative
      (() => {
        const b = Uint8Array.from(g);
        b[31] |= 0x80; // bit 255 set
        return b;
      })(),
    ];
    // a non-square: the first even s whose decoding noble rejects
    for (let s = 2n; ; s += 2n) {
      let ok = true;
      try {
        ristretto255.Point.fromBytes(le32(s));
      } catch {
        ok = false;
      }
      if (!ok) {
        cases.push(le32(s));
        break;
      }
    }
    for (const bad of cases) {
      for (const n of [1, 4, 9]) {
        const index = n - 1;
        const els: Uint8Array[] = Array.from({ length: n }, () => g);
        els[index] = bad;
        const want = failure(() => sodium.multiplyPacked(3n, pack(els)));
        expect(want).toMatch(/^bad_element/);
        expect(failure(() => x4.mulCommon(3n, pack(els)))).toBe(want);
        expect(failure(() => x4.mulEach(els.map(() => 3n), pack(els)))).toBe(want);
      }
    }
  });

  it('the identity (32 zero bytes) is rejected as an input with identity_element and its index', () => {
    const els = [g, g, new Uint8Array(32), g, g];
    const want = failure(() => sodium.multiplyPacked(5n, pack(els)));
    expect(want).toBe('identity_element: element at index 2 is the identity');
    expect(failure(() => x4.mulCommon(5n, pack(els)))).toBe(want);
    expect(failure(() => x4.mulEach([1n, 2n, 3n, 4n, 5n], pack(els)))).toBe(failure(() => sodium.multiplyEach([1n, 2n, 3n, 4n, 5n], pack(els))));
  });

  it('an identity result is reported distinctly: the one-way map of 64 zero bytes is the identity', () => {
    expect(toHex(ristretto255_hasher.deriveToCurve!(new Uint8Array(64)).toBytes())).toBe('00'.repeat(32));
    const uniform = new Uint8Array(64 * 6).fill(1);
    uniform.fill(0, 64 * 4, 64 * 5); // element 4
    expect(failure(() => x4.fromHash(uniform))).toBe('identity_element: result is the identity');
    expect(failure(() => x4.hashMulCommon(3n, uniform))).toBe('identity_element: result is the identity');
  });

  it('raw status codes: -(i + 1) for a bad input, +(i + 1) for an identity result (scalar 0)', () => {
    const n = 6;
    const base = raw.alloc(32 * n * 3);
    const H = new Uint8Array(raw.memory.buffer);
    for (let i = 0; i < n; i++) H.set(g, base + 32 * n + 32 * i);
    H.fill(0, base, base + 32 * n); // scalars 0
    H[base] = 1; // scalar 0 of element 0 is 1; elements 1.. get scalar 0
    expect(raw.mulEach(n, base, base + 32 * n, base + 64 * n)).toBe(2); // result 1 is the identity
    H.fill(0, base, base + 32);
    expect(raw.mulCommon(n, base, base + 32 * n, base + 64 * n)).toBe(1);
    H[base + 32 * n + 32 * 5] ^= 1; // element 5: negative s
    H[base] = 1;
    expect(raw.mulCommon(n, base, base + 32 * n, base + 64 * n)).toBe(-6);
    H.fill(0, base, base + 32 * n * 3);
  });

  it('scalars must be in [1, L): bad_scalar, in sodium order (element i before scalar i)', () => {
    const els = [g, g, g];
    for (const bad of [0n, L, L + 1n, -1n]) {
      expect(failure(() => x4.mulCommon(bad, pack(els)))).toBe(failure(() => sodium.multiplyPacked(bad, pack(els))));
      expect(failure(() => x4.hashMulCommon(bad, new Uint8Array(64).fill(1)))).toMatch(/^bad_scalar/);
      expect(failure(() => x4.mulEach([1n, bad, 1n], pack(els)))).toBe(failure(() => sodium.multiplyEach([1n, bad, 1n], pack(els))));
      const bytes = pack([le32(1n), le32(((bad % 2n ** 256n) + 2n ** 256n) % 2n ** 256n), le32(1n)]);
      expect(failure(() => x4.mulEach(bytes, pack(els)))).toMatch(/^bad_scalar/);
    }
    const withBad = [g, new Uint8Array(32).fill(0xff), g];
    // bad element 1 after a bad scalar 0: the scalar is reported; before it: the element
    expect(failure(() => x4.mulEach([0n, 1n, 1n], pack(withBad)))).toBe(failure(() => sodium.multiplyEach([0n, 1n, 1n], pack(withBad))));
    expect(failure(() => x4.mulEach([1n, 1n, 0n], pack(withBad)))).toBe(failure(() => sodium.multiplyEach([1n, 1n, 0n], pack(withBad))));
    expect(failure(() => x4.mulEach([1n, 0n, 1n], pack(withBad)))).toBe(failure(() => sodium.multiplyEach([1n, 0n, 1n], pack(withBad))));
    // mulCommon: element 0 is checked before the scalar (sodium and noble agree on the code)
    expect(failure(() => x4.mulCommon(0n, pack([withBad[1], g])))).toBe(failure(() => sodium.multiplyPacked(0n, pack([withBad[1], g]))));
  });

  it('lengths: bad_length for a ragged batch or a scalar count mismatch; empty batches are empty', () => {
    expect(failure(() => x4.mulCommon(1n, new Uint8Array(33)))).toBe(failure(() => sodium.multiplyPacked(1n, new Uint8Array(33))));
    expect(failure(() => x4.mulEach([1n], pack([g, g])))).toBe(failure(() => sodium.multiplyEach([1n], pack([g, g]))));
    expect(failure(() => x4.mulEach(new Uint8Array(33), pack([g])))).toMatch(/^bad_length/);
    expect(failure(() => x4.fromHash(new Uint8Array(65)))).toMatch(/^bad_length/);
    expect(x4.mulCommon(1n, new Uint8Array(0)).length).toBe(0);
    expect(x4.mulEach([], new Uint8Array(0)).length).toBe(0);
    expect(x4.fromHash(new Uint8Array(0)).length).toBe(0);
  });
});

describe('wasm-x4: secrets do not stay in WASM memory', () => {
  const contains = (haystack: Uint8Array, needle: Uint8Array): boolean => {
    outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
      for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  };

  it('scalars, inputs and results are wiped after each call', () => {
    const k = 0x0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543n % L;
    const uniform = new Uint8Array(64 * 5).map((_, i) => (i * 29 + 7) & 0xff);
    const fused = x4.hashMulCommon(k, uniform);
    const els = pack([ristretto255.Point.BASE.toBytes(), ristretto255.Point.BASE.multiply(5n).toBytes()]);
    const each = x4.mulEach([k, k + 1n], els);
    const memory = new Uint8Array(raw.memory.buffer);
    expect(contains(memory, le32(k))).toBe(false);
    // the halved scalars of the batch encoding (k / 2 mod L) are secret too
    const half = (s: bigint) => (s % 2n === 0n ? s / 2n : (s + L) / 2n);
    expect(contains(memory, le32(half(k)))).toBe(false);
    expect(contains(memory, le32(half(k + 1n)))).toBe(false);
    expect(contains(memory, le32(k + 1n))).toBe(false);
    expect(contains(memory, at(uniform, 2, 64))).toBe(false);
    expect(contains(memory, at(fused, 3))).toBe(false);
    expect(contains(memory, at(each, 1))).toBe(false);
  });
});
