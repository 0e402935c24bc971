/**
 * A server checks a chunk of blinded elements (validatePacked) when it arrives and evaluates
 * it after charging it; the sodium group keeps the coordinates the check decoded
 * (src/group/decoded-batches.ts) so the evaluation (multiplyPacked, and
 * multiplyPackedComposite for the VOPRF's k * C_i and M = sum d_i C_i) decodes nothing again.
 * Properties: the results are noble's byte for byte whether the coordinates are found or
 * not (bytes changed after the check, other bytes, evicted entries); the evaluation of
 * checked bytes runs from the coordinates (the SIMD module's mulCommonFromXY, counted
 * through a wrapper), once; the cache holds at most its bound and wipes what it drops.
 */
import { ristretto255_hasher } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodedBatches, DEFAULT_DECODED_BATCH_ELEMENTS, DEFAULT_DECODED_BATCHES } from '../src/group/decoded-batches.js';
import { nobleRistretto255 } from '../src/group/noble.js';
import { makeSodiumGroup } from '../src/group/sodium-group.js';
import { loadSodiumPrimitives, type SodiumPrimitives } from '../src/group/sodium.js';
import type { Group } from '../src/group/types.js';
import { loadWasmMsm, type WasmMsm } from '../src/group/wasm-msm.js';
import { loadWasmX4, type WasmX4 } from '../src/group/wasm-x4.js';
import { scalarToBytes } from '../src/group/wasm-bytes.js';

const noble = nobleRistretto255;
const L = noble.scalar.order;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let prims: SodiumPrimitives;
let msm: WasmMsm;
let x4: WasmX4;

beforeAll(async () => {
  prims = await loadSodiumPrimitives();
  const m = await loadWasmMsm();
  const x = await loadWasmX4();
  if (m === null || x === null) throw new Error('the WASM modules did not load');
  msm = m;
  x4 = x;
}, 120_000);

/** A sodium group over a wrapper of the SIMD module that counts the calls of each function. */
function countedGroup(): { group: Group; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const counted = Object.fromEntries(
    Object.entries(x4).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as WasmX4;
  return { group: makeSodiumGroup(prims, msm, counted), calls };
}

const elementArb = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => ristretto255_hasher.deriveToCurve!(b).toBytes());
const packedArb = fc.array(elementArb, { minLength: 3, maxLength: 12 }).map((els) => {
  const out = new Uint8Array(els.length * 32);
  els.forEach((e, i) => out.set(e, i * 32));
  return out;
});
const scalarArb = fc.bigInt({ min: 1n, max: L - 1n });
/** DLEQ-like weights: one valid scalar per element, as packed bytes. */
const weightsOf = (n: number) => (): Uint8Array => {
  const out = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) out.set(scalarToBytes((BigInt(i + 3) * 0x9e3779b97f4a7c15n) % L), i * 32);
  return out;
};

describe('decoded batches: the check decodes, the evaluation does not', () => {
  it('validatePacked then multiplyPackedComposite of the same bytes: noble\'s products and composite, from the coordinates, once', () => {
    fc.assert(
      fc.property(packedArb, scalarArb, (packed, k) => {
        const { group, calls } = countedGroup();
        const n = packed.length / 32;
        expect(group.validatePacked(packed)).toBe(n);
        const copy = packed.slice(); // the server evaluates its own copy of the chunk
        const both = group.multiplyPackedComposite!(k, copy, weightsOf(n));
        expect(hex(both.evaluated)).toBe(hex(noble.multiplyPacked(k, packed)));
        expect(hex(both.composite!)).toBe(hex(noble.multiScalarMultiply(weightsOf(n)(), packed)));
        expect(calls.mulCommonFromXY).toBe(1);
        expect(calls.mulCommonXY).toBeUndefined();
        // used once: a second evaluation decodes
        group.multiplyPackedComposite!(k, copy, weightsOf(n));
        expect(calls.mulCommonXY).toBe(1);
      }),
      { numRuns: 15 },
    );
  });

  it('validatePacked then multiplyPacked (OPRF BlindEvaluate) runs from the coordinates too', () => {
    const { group, calls } = countedGroup();
    const packed = fc.sample(packedArb, { numRuns: 1, seed: 7 })[0];
    group.validatePacked(packed);
    expect(hex(group.multiplyPacked(5n, packed))).toBe(hex(noble.multiplyPacked(5n, packed)));
    expect(calls.mulCommonFromXY).toBe(1);
    expect(calls.mulCommon).toBeUndefined();
  });

  it('bytes changed after the check are decoded again, and give their own products', () => {
    fc.assert(
      fc.property(packedArb, elementArb, fc.nat(), scalarArb, (packed, other, at, k) => {
        const { group, calls } = countedGroup();
        group.validatePacked(packed);
        const i = at % (packed.length / 32);
        fc.pre(hex(packed.subarray(i * 32, i * 32 + 32)) !== hex(other));
        packed.set(other, i * 32); // the caller reused its buffer
        expect(hex(group.multiplyPacked(k, packed))).toBe(hex(noble.multiplyPacked(k, packed)));
        expect(calls.mulCommonFromXY).toBeUndefined();
        expect(calls.mulCommon).toBe(1);
      }),
      { numRuns: 10 },
    );
  });

  it('a batch that failed its check leaves nothing behind', () => {
    const { group, calls } = countedGroup();
    const packed = fc.sample(packedArb, { numRuns: 1, seed: 3 })[0];
    const bad = packed.slice();
    bad.fill(0xff, 32, 64);
    expect(() => group.validatePacked(bad)).toThrow(/element at index 1/);
    bad.set(packed.subarray(32, 64), 32); // repaired: now valid, but never checked
    group.multiplyPacked(3n, bad);
    expect(calls.mulCommonFromXY).toBeUndefined();
  });
});

describe('decoded batches: the cache itself', () => {
  const batch = (tag: number, n = 3) => new Uint8Array(32 * n).fill(tag);
  const coords = (tag: number, n = 3) => new Uint8Array(64 * n).fill(tag);

  it(`holds at most ${DEFAULT_DECODED_BATCHES} batches: the oldest goes (wiped) when one more comes`, () => {
    const cache = new DecodedBatches();
    const xys = Array.from({ length: DEFAULT_DECODED_BATCHES + 1 }, (_, i) => coords(i + 1));
    for (let i = 0; i < DEFAULT_DECODED_BATCHES; i++) cache.remember(batch(i + 1), xys[i]);
    expect(cache.size).toBe(DEFAULT_DECODED_BATCHES);
    cache.remember(batch(DEFAULT_DECODED_BATCHES + 1), xys[DEFAULT_DECODED_BATCHES]);
    expect(cache.size).toBe(DEFAULT_DECODED_BATCHES);
    expect(cache.take(batch(1))).toBeUndefined();
    expect(xys[0].every((b) => b === 0)).toBe(true); // wiped on eviction
    expect(cache.take(batch(2))).toBe(xys[1]);
    expect(cache.take(batch(2))).toBeUndefined(); // used once
  });

  it(`keeps batches of up to ${DEFAULT_DECODED_BATCH_ELEMENTS} elements; one more element is checked but not kept`, () => {
    const cache = new DecodedBatches();
    const at = DEFAULT_DECODED_BATCH_ELEMENTS;
    cache.remember(batch(1, at), coords(1, at));
    cache.remember(batch(2, at + 1), coords(2, at + 1));
    expect(cache.size).toBe(1);
    expect(cache.take(batch(2, at + 1))).toBeUndefined();
    expect(cache.take(batch(1, at))).toBeDefined();
    // through the group: a batch just past the bound is validated, then evaluated by decoding
    const { group, calls } = countedGroup();
    const g = nobleRistretto255.generator;
    const big = new Uint8Array(32 * (at + 1));
    for (let i = 0; i <= at; i++) big.set(g, 32 * i);
    expect(group.validatePacked(big)).toBe(at + 1);
    expect(calls.validateXY).toBeUndefined();
    expect(calls.firstInvalid).toBe(1);
  });

  it('finds only the exact bytes (same length, every byte), and a bound of 0 keeps nothing', () => {
    const cache = new DecodedBatches(4);
    const b = batch(9);
    cache.remember(b, coords(9));
    b[0] = 1; // the caller's buffer changed: the private copy still says 9s
    expect(cache.take(b)).toBeUndefined();
    expect(cache.take(batch(9, 4))).toBeUndefined();
    expect(cache.take(batch(9))).toEqual(coords(9));
    const none = new DecodedBatches(0);
    none.remember(batch(1), coords(1));
    expect(none.size).toBe(0);
  });
});
