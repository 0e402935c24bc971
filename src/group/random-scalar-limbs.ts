/**
 * RFC 9497 §2.1 RandomScalar, the same scalars as scalar-bytes.ts `reduceRandomScalar`
 * ((v mod (order - 1)) + 1 for the big-endian integer v of the wide random string), three
 * bytes per step instead of one: a client draws one blind per contact (10,000 on a first
 * sync), and the byte-serial division was ~8 µs of the main thread each, ahead of the
 * first chunk sent (issue 13 §1). One step is one 24-bit limb: r = 2^24 r + limb, then
 * r -= q (order - 1) with q estimated from the top limbs, then one masked add-back and one
 * masked subtraction, as the byte-serial code does.
 *
 * Why the estimate is enough: r < (order - 1) 2^24 after the shift (so q < 2^25), the top
 * four limbs hold every bit above 2^(24 (n - 4)) (at least 2^168 for a 32-byte field,
 * against an order of at least 2^248), and the double arithmetic is exact to ~2^-50
 * relative, so floor(top / (order - 1)) is the true quotient or one off: r - q (order - 1)
 * lies in (-(order - 1), 2 (order - 1)), which the two masked corrections bring into range.
 * Every product q · limb < 2^49 and every intermediate stays an exact integer in a double.
 *
 * Constant-time in the same sense as scalar-bytes.ts: no branch or memory index depends
 * on the value (loops run a number of times fixed by the lengths; selections are masks),
 * and no secret becomes a BigInt. The wide string and the work limbs are wiped.
 */
import type { ScalarField } from './types.js';
import { byteModulus, finishRandomScalar, mulAddReduce, type ByteModulus } from './scalar-bytes.js';

/** Reusable work limbs for one modulus (wiped after every reduction). */
interface Work {
  readonly r: Float64Array;
  readonly t: Float64Array;
}

/**
 * `reduceRandomScalar(m, wide)` three bytes at a time: the same bytes for every input
 * (test/random-scalar-limbs.test.ts). `wide` is wiped.
 */
export function reduceRandomScalarLimbs(m: ByteModulus, wide: Uint8Array, work: Work = newWork(m)): Uint8Array {
  const { r, t } = work;
  r.fill(0);
  // The first step takes the leading len mod 3 bytes (3 when it divides): the rest are whole limbs.
  const len = wide.length;
  let at = 0;
  let take = len % 3 === 0 ? 3 : len % 3;
  while (at < len) {
    let v = 0;
    for (let k = 0; k < take; k++) v = v * 256 + wide[at + k];
    const scale = 2 ** (8 * take);
    at += take;
    take = 3;
    // r = scale r + v, reduced (r < order - 1, so scale r + v < (order - 1) 2^24 fits the limbs)
    mulAddReduce(m, r, t, scale, v);
  }
  const out = finishRandomScalar(m, r);
  t.fill(0);
  wide.fill(0);
  return out;
}

function newWork(m: ByteModulus): Work {
  return { r: new Float64Array(m.orderMinusOneLimbs.length), t: new Float64Array(m.orderMinusOneLimbs.length) };
}

const moduli = new WeakMap<ScalarField, { modulus: ByteModulus; work: Work }>();

/**
 * `count` scalars exactly as `count` calls of `field.random(rng)` give them (the same rng
 * draws, in order, of byteLength + 16 bytes each, and the same reduction), three bytes per
 * step. For fields whose modulus the byte helpers do not take, it is those calls.
 */
export function randomScalars(field: ScalarField, rng: (n: number) => Uint8Array, count: number): Uint8Array[] {
  let entry = moduli.get(field);
  if (entry === undefined) {
    let modulus: ByteModulus;
    try {
      modulus = byteModulus(field.order, field.byteLength, field.littleEndian);
    } catch {
      return Array.from({ length: count }, () => field.random(rng));
    }
    entry = { modulus, work: newWork(modulus) };
    moduli.set(field, entry);
  }
  const out = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) out[i] = reduceRandomScalarLimbs(entry.modulus, rng(field.byteLength + 16), entry.work);
  return out;
}
