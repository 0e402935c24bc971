/**
 * Two multi-scalar multiplications with the same scalars, four lanes at once: the DLEQ
 * composites M = sum d_i C_i and Z = sum d_i D_i of RFC 9497 §2.2.2 (the client's proof
 * check). Public inputs only (weights, blinded and evaluated elements): this code is
 * variable time (table addresses depend on the weights' bytes), like the scalar MSM of
 * asm/ristretto255/.
 *
 * Pippenger with 8-bit windows (the weights' bytes, w = 0..31, as every d_i < L < 2^253,
 * recoded to signed digits in [-128, 128]: 128 buckets, a negative digit adds the negated
 * point). Lanes: 0 = C in window w, 1 = D in window w, 2 = C in window w + 16,
 * 3 = D in window w + 16, so one pass of field operations adds a point pair into the
 * buckets of two windows, and lanes 0-1 and 2-3 each need one bucket index: a bucket is a
 * P3 whose low 64 bits of every limb vector belong to window w and the high 64 bits to
 * window w + 16, gathered and scattered with 64-bit lane loads and stores. Digit 0 goes to
 * bucket 0, which is never summed. Each window pair's buckets are summed by the running-sum
 * trick, the pairs combined by Horner's rule (8 doublings per pair), and finally the high
 * lanes moved down and multiplied by 2^128.
 */
import { D2 } from './constants';
import { FE4, fe4Add, fe4Carry, fe4FromBytes, fe4Mul, fe4Reduce, fe4Sub } from './fe4';
import { encode4 } from './ristretto4';
import { P1P1, P3, T, X, Y, Z, CACHED, ge4AddCached, ge4P1P1ToP2, ge4P1P1ToP3, ge4P2Dbl, ge4P3Identity, ge4P3ToCached } from './ge4';

/** Bytes of one point's Niels form (y + x, y - x, 2dxy), lanes (C_i, D_i, C_i, D_i). */
const NIELS: usize = 3 * FE4;
/** Signed 8-bit digits in [-128, 128]: buckets 1..128 (bucket 0 takes digit 0 and is never summed). */
const BUCKETS: i32 = 129;

const STAGE: usize = memory.data(256, 16);
const ACC: usize = memory.data(<i32>P3, 16);
const SUM: usize = memory.data(<i32>P1P1, 16);
const RUNNING: usize = memory.data(<i32>P3, 16);
const TOTAL: usize = memory.data(<i32>P3, 16);
const R: usize = memory.data(<i32>P3, 16);
const CACHE: usize = memory.data(<i32>CACHED, 16);
const T0: usize = memory.data(<i32>FE4, 16);
const XX: usize = memory.data(<i32>FE4, 16);
const YY: usize = memory.data(<i32>FE4, 16);
/** A point's Niels form with the signs of its two digits applied (lanes 0-1, lanes 2-3). */
const SIGNED: usize = memory.data(<i32>NIELS, 16);

/** Scratch bytes compositePair needs for n points (the caller provides them, 16-aligned). */
export function pairScratchBytes(n: i32): i32 {
  return n * <i32>NIELS + BUCKETS * <i32>P3 + n * 32;
}

/**
 * The weight's 32 bytes as signed digits e_j in [-128, 128], sum e_j 256^j = the weight
 * (a digit of 128 or more borrows 256 from the next byte), into 32 bytes at dst (i8; the
 * top digit, below 0x20 + 1, never borrows).
 */
function recode(dst: usize, weight: usize): void {
  let carry: i32 = 0;
  for (let j: usize = 0; j < 32; j++) {
    let e = <i32>load<u8>(weight + j) + carry;
    carry = e >= 128 && j < 31 ? 1 : 0;
    e -= carry << 8;
    store<i8>(dst + j, <i8>e);
  }
}

/** SIGNED = the Niels point at q, negated in lanes 0-1 when a < 0 and in lanes 2-3 when h < 0. */
function signed(q: usize, a: i32, h: i32): void {
  const neg = i64x2(a < 0 ? -1 : 0, h < 0 ? -1 : 0);
  for (let off: usize = 0; off < FE4; off += 16) {
    const ypx = v128.load(q + off);
    const ymx = v128.load(q + FE4 + off);
    const xy2d = v128.load(q + 2 * FE4 + off);
    v128.store(SIGNED + off, v128.bitselect(ymx, ypx, neg));
    v128.store(SIGNED + FE4 + off, v128.bitselect(ypx, ymx, neg));
    v128.store(SIGNED + 2 * FE4 + off, v128.bitselect(i32x4.neg(xy2d), xy2d, neg));
  }
}

/** ge25519_madd of the Niels point at q into the P3 p: r (P1P1) = p + q. */
function madd(r: usize, p: usize, q: usize): void {
  fe4Add(r + X, p + Y, p + X);
  fe4Sub(r + Y, p + Y, p + X);
  fe4Mul(r + Z, r + X, q);
  fe4Mul(r + Y, r + Y, q + FE4);
  fe4Mul(r + T, q + 2 * FE4, p + T);
  fe4Add(T0, p + Z, p + Z);
  fe4Sub(r + X, r + Z, r + Y);
  fe4Add(r + Y, r + Z, r + Y);
  fe4Add(r + Z, T0, r + T);
  fe4Sub(r + T, T0, r + T);
}

/** p (P3) += q (P3), complete. */
function addP3(p: usize, q: usize): void {
  ge4P3ToCached(CACHE, q);
  ge4AddCached(SUM, p, CACHE);
  ge4P1P1ToP3(p, SUM);
}

/** p = 2^times p (P3). */
function doubleTimes(p: usize, times: i32): void {
  for (let i = 0; i < times; i++) {
    ge4P2Dbl(SUM, p);
    if (i + 1 < times) ge4P1P1ToP2(p, SUM);
    else ge4P1P1ToP3(p, SUM);
  }
}

/** The Niels form of (C_i, D_i, C_i, D_i) for point i into niels + i NIELS. */
function prepare(niels: usize, cxy: usize, dxy: usize, i: i32): void {
  const c = cxy + ((<usize>i) << 6);
  const d = dxy + ((<usize>i) << 6);
  memory.copy(STAGE, c, 64);
  memory.copy(STAGE + 64, d, 64);
  memory.copy(STAGE + 128, c, 64);
  memory.copy(STAGE + 192, d, 64);
  fe4FromBytes(XX, STAGE, 64);
  fe4Carry(XX, XX);
  fe4FromBytes(YY, STAGE + 32, 64);
  fe4Carry(YY, YY);
  const q = niels + (<usize>i) * NIELS;
  fe4Add(q, YY, XX);
  fe4Reduce(q, q);
  fe4Sub(q + FE4, YY, XX);
  fe4Reduce(q + FE4, q + FE4);
  fe4Mul(q + 2 * FE4, XX, YY);
  fe4Mul(q + 2 * FE4, q + 2 * FE4, D2);
}

/** ACC = lanes 0-1 of bucket a, lanes 2-3 of bucket b (the high 64 bits of each limb vector). */
function gather(buckets: usize, a: usize, b: usize): void {
  const pa = buckets + a * P3;
  const pb = buckets + b * P3;
  for (let off: usize = 0; off < P3; off += 16) {
    v128.store(ACC + off, v128.load64_lane(pb + off + 8, v128.load64_zero(pa + off), 1));
  }
}

/** The inverse of gather: lanes 0-1 of ACC into bucket a, lanes 2-3 into bucket b. */
function scatter(buckets: usize, a: usize, b: usize): void {
  const pa = buckets + a * P3;
  const pb = buckets + b * P3;
  for (let off: usize = 0; off < P3; off += 16) {
    const v = v128.load(ACC + off);
    v128.store64_lane(pa + off, v, 0);
    v128.store64_lane(pb + off + 8, v, 1);
  }
}

/**
 * Writes encode(M) at out and encode(Z) at out + 32, for n >= 1 points: weights at
 * `weights` (32 bytes each, little-endian, < 2^253), C and D as affine coordinates (x || y,
 * 64 bytes each, from this module's decoding). Returns a bit mask: 1 when M is the
 * identity, 2 when Z is (their bytes are then 32 zero bytes).
 */
export function compositePair(n: i32, weights: usize, cxy: usize, dxy: usize, out: usize, scratch: usize): i32 {
  const niels = scratch;
  const buckets = scratch + (<usize>n) * NIELS;
  const digits = buckets + (<usize>BUCKETS) * P3;
  for (let i = 0; i < n; i++) {
    prepare(niels, cxy, dxy, i);
    recode(digits + ((<usize>i) << 5), weights + ((<usize>i) << 5));
  }
  ge4P3Identity(R);
  for (let w = 15; w >= 0; w--) {
    if (w < 15) doubleTimes(R, 8);
    for (let b = 0; b < BUCKETS; b++) ge4P3Identity(buckets + (<usize>b) * P3);
    for (let i = 0; i < n; i++) {
      const e = digits + ((<usize>i) << 5);
      const a = <i32>load<i8>(e + <usize>w);
      const h = <i32>load<i8>(e + <usize>w + 16);
      if ((a | h) == 0) continue;
      const ba = <usize>(a < 0 ? -a : a);
      const bh = <usize>(h < 0 ? -h : h);
      let q = niels + (<usize>i) * NIELS;
      if ((a | h) < 0) {
        signed(q, a, h);
        q = SIGNED;
      }
      gather(buckets, ba, bh);
      madd(SUM, ACC, q);
      ge4P1P1ToP3(ACC, SUM);
      scatter(buckets, ba, bh);
    }
    // sum_b b * bucket_b = sum over b of the running sums from the top.
    ge4P3Identity(RUNNING);
    ge4P3Identity(TOTAL);
    for (let b = BUCKETS - 1; b >= 1; b--) {
      addP3(RUNNING, buckets + (<usize>b) * P3);
      addP3(TOTAL, RUNNING);
    }
    addP3(R, TOTAL);
  }
  // M = R_0 + 2^128 R_2, Z = R_1 + 2^128 R_3.
  for (let off: usize = 0; off < P3; off += 16) {
    const v = v128.load(R + off);
    v128.store(ACC + off, i32x4.shuffle(v, v, 2, 3, 2, 3));
  }
  doubleTimes(ACC, 128);
  addP3(R, ACC);
  const identity = encode4(STAGE, 32, R);
  memory.copy(out, STAGE, 64);
  return (i32x4.extract_lane(identity, 0) & 1) | (i32x4.extract_lane(identity, 1) & 2);
}

/** Wipes the static intermediates (public data: tidiness). */
export function pairWipe(): void {
  memory.fill(STAGE, 0, 256);
  memory.fill(ACC, 0, P3);
  memory.fill(SUM, 0, P1P1);
  memory.fill(RUNNING, 0, P3);
  memory.fill(TOTAL, 0, P3);
  memory.fill(R, 0, P3);
  memory.fill(CACHE, 0, CACHED);
  memory.fill(T0, 0, FE4);
  memory.fill(XX, 0, FE4);
  memory.fill(YY, 0, FE4);
  memory.fill(SIGNED, 0, NIELS);
}
