/**
 * Multi-scalar multiplication sum_i s_i * P_i over ristretto255 elements given as packed
 * 32-byte encodings, with 32-byte little-endian scalars (< 2^253; the callers pass values
 * reduced mod L).
 *
 * VARIABLE TIME, on purpose: the callers are the DLEQ proof's ComputeComposites
 * (RFC 9497 §2.2.1: M = sum d_i C_i, Z = sum d_i D_i) and VerifyProof's s*G + c*pkS and
 * s*M + c*Z (§2.2.2), and every input there is public: the weights d_i are hashes of the
 * public transcript, the points are the blinded and evaluated elements that crossed the
 * wire, (c, s) is the proof itself. Branches and memory accesses that depend on them leak
 * nothing that is not already known. Never use this for a secret scalar (blinds, keys,
 * the prover's nonce): the constant-time libsodium paths handle those.
 *
 * Two algorithms share the signed-digit recoding (digits in [-2^(c-1), 2^(c-1)]):
 * - Straus (interleaved double-and-add), for small n: a table of 1P..8P per point (c = 4),
 *   one shared chain of 252 doublings, one addition per non-zero digit;
 * - Pippenger (bucket method), for larger n: per window of c bits, each point is added to
 *   the bucket of its digit (mixed additions with affine NIELS points, 7 multiplications),
 *   the buckets are summed with the running-sum trick, windows combined by Horner.
 * The choice and the window size c come from a cost model in field multiplications.
 */
import { align16, ensureMemory, heapStart } from './memory';
import {
  CACHED,
  NIELS,
  P1P1,
  P3,
  T,
  X,
  Y,
  Z,
  affineToNiels,
  geAdd,
  geMadd,
  geMsub,
  geSub,
  nielsToP3,
  p1p1ToP3,
  p2Dbl,
  p3Copy,
  p3DblTimes,
  p3Identity,
  p3ToCached,
} from './point';
import { decode, encode } from './ristretto';
import { feFromBytes, feMul, feOne } from './field';

/** Status codes returned by msm(); the failing index is in errorIndex(). */
export const OK: i32 = 0;
export const IDENTITY: i32 = 1; // the sum is the identity (out holds its encoding, 32 zero bytes)
export const BAD_ENCODING: i32 = 2; // point errorIndex() is not a canonical ristretto255 encoding
export const IDENTITY_INPUT: i32 = 3; // point errorIndex() is the identity (RFC 9497 §3.3 rejects it)
export const BAD_SCALAR: i32 = 4; // scalar errorIndex() is >= 2^253
export const NO_MEMORY: i32 = 5; // linear memory could not grow
export const BAD_ARGUMENT: i32 = 6; // n < 0 or an unsupported window size

/** Straus's window: 16 multiples per point would not pay for their table at small n. */
const STRAUS_WINDOW: i32 = 4;
const STRAUS_TABLE: usize = 8 * CACHED; // 1P .. 8P
const MAX_WINDOW: i32 = 16; // digits are stored as i16
/**
 * Above 2^11 buckets (x 160 bytes) the bucket array leaves the L2 cache and the random
 * bucket accesses cost more than the model counts: measured, c = 13 was no faster than 12
 * at n = 65,535 and much slower at n = 16,384.
 */
const MAX_AUTO_WINDOW: i32 = 12;

let failedAt: i32 = -1;

export function errorIndex(): i32 {
  return failedAt;
}

// Static scratch points.
const ACC: usize = memory.data(<i32>P3, 16);
const RUN: usize = memory.data(<i32>P3, 16);
const SUM: usize = memory.data(<i32>P3, 16);
const CUR: usize = memory.data(<i32>P3, 16);
const PT: usize = memory.data(<i32>P3, 16);
const TMP: usize = memory.data(<i32>P1P1, 16);
const CACHE: usize = memory.data(<i32>CACHED, 16);
const SCALAR_PAD: usize = memory.data(40, 16); // a scalar and 8 zero bytes to read past its end

/** Windows of c bits that cover a scalar < 2^253 with signed digits (c * windows >= 254). */
@inline
function windowsFor(c: i32): i32 {
  return (254 + c - 1) / c;
}

/**
 * Signed-digit recoding of every scalar into digits[w * n + i] (i16, window-major so a
 * window's digits are contiguous): digit w of scalar i is bits [cw, cw + c) plus the carry
 * of digit w - 1, minus 2^c (carrying 1) when above 2^(c-1). The top window never borrows:
 * c * windows >= 254 and the scalar is < 2^253, so its bits are below 2^(c-1) and with the
 * carry at most 2^(c-1), still a bucket.
 */
function recode(digits: usize, scalars: usize, n: i32, c: i32): void {
  const windows = windowsFor(c);
  const half = 1 << (c - 1);
  const full = 1 << c;
  const mask = <u32>(full - 1);
  const stride = (<usize>n) << 1;
  for (let i = 0; i < n; i++) {
    memory.copy(SCALAR_PAD, scalars + ((<usize>i) << 5), 32);
    let carry = 0;
    let out = digits + ((<usize>i) << 1);
    for (let w = 0; w < windows; w++) {
      const bit = w * c;
      let d = <i32>((load<u32>(SCALAR_PAD + <usize>(bit >> 3)) >> (bit & 7)) & mask) + carry;
      if (d > half && w < windows - 1) {
        d -= full;
        carry = 1;
      } else carry = 0;
      store<i16>(out, <i16>d);
      out += stride;
    }
  }
}

/**
 * Decodes the points in order (so the error names the first bad index) and stores each as
 * its Straus table (1P..8P) or as a NIELS point for Pippenger, `entry` bytes apart.
 */
function decodeAll(points: usize, n: i32, table: usize, entry: usize, straus: bool): i32 {
  for (let i = 0; i < n; i++) {
    const p = points + ((<usize>i) << 5);
    if ((load<u64>(p, 0) | load<u64>(p, 8) | load<u64>(p, 16) | load<u64>(p, 24)) == 0) {
      failedAt = i;
      return IDENTITY_INPUT;
    }
    if (!decode(PT, p)) {
      failedAt = i;
      return BAD_ENCODING;
    }
    const dst = table + <usize>i * entry;
    if (straus) buildStrausTable(dst, PT);
    else affineToNiels(dst, PT);
  }
  return OK;
}

/**
 * As decodeAll, from affine coordinates (x, y: 32 canonical bytes each, 64 per point) that
 * a strict decoding produced already (the four-lane module's mulCommonXY): no square root.
 * The caller vouches for them; nothing here checks that they are on the curve.
 */
function affineAll(xy: usize, n: i32, table: usize, entry: usize, straus: bool): void {
  for (let i = 0; i < n; i++) {
    const p = xy + ((<usize>i) << 6);
    feFromBytes(PT + X, p);
    feFromBytes(PT + Y, p + 32);
    feOne(PT + Z);
    feMul(PT + T, PT + X, PT + Y);
    const dst = table + <usize>i * entry;
    if (straus) buildStrausTable(dst, PT);
    else affineToNiels(dst, PT);
  }
}

/** tab[k - 1] = k * p (CACHED) for k = 1..8. */
function buildStrausTable(tab: usize, p: usize): void {
  p3ToCached(tab, p);
  p2Dbl(TMP, p);
  p1p1ToP3(CUR, TMP);
  p3ToCached(tab + CACHED, CUR);
  for (let k: usize = 2; k < 8; k++) {
    geAdd(TMP, CUR, tab);
    p1p1ToP3(CUR, TMP);
    p3ToCached(tab + k * CACHED, CUR);
  }
}

/** Straus: ACC = sum over windows (top down) of 16 * ACC + sum_i digit_i * P_i. */
function straus(digits: usize, tables: usize, n: i32): bool {
  const windows = windowsFor(STRAUS_WINDOW);
  const stride = (<usize>n) << 1;
  let accSet = false;
  for (let w = windows - 1; w >= 0; w--) {
    if (accSet) p3DblTimes(ACC, STRAUS_WINDOW, TMP);
    const row = digits + <usize>w * stride;
    for (let i = 0; i < n; i++) {
      const d = <i32>load<i16>(row + ((<usize>i) << 1));
      if (d == 0) continue;
      if (!accSet) {
        p3Identity(ACC);
        accSet = true;
      }
      const tab = tables + <usize>i * STRAUS_TABLE;
      if (d > 0) geAdd(TMP, ACC, tab + <usize>(d - 1) * CACHED);
      else geSub(TMP, ACC, tab + <usize>(-d - 1) * CACHED);
      p1p1ToP3(ACC, TMP);
    }
  }
  return accSet;
}

/** into += p (both P3), through the CACHE scratch. */
@inline
function addP3(into: usize, p: usize): void {
  p3ToCached(CACHE, p);
  geAdd(TMP, into, CACHE);
  p1p1ToP3(into, TMP);
}

/** Pippenger with window c: buckets (P3) and their occupancy flags live in the work area. */
function pippenger(digits: usize, niels: usize, n: i32, c: i32, buckets: usize, flags: usize): bool {
  const windows = windowsFor(c);
  const count = 1 << (c - 1);
  const stride = (<usize>n) << 1;
  let accSet = false;
  for (let w = windows - 1; w >= 0; w--) {
    if (accSet) p3DblTimes(ACC, c, TMP);
    memory.fill(flags, 0, <usize>count);
    const row = digits + <usize>w * stride;
    for (let i = 0; i < n; i++) {
      const d = <i32>load<i16>(row + ((<usize>i) << 1));
      if (d == 0) continue;
      const b = <usize>(d > 0 ? d - 1 : -d - 1);
      const bucket = buckets + b * P3;
      const q = niels + <usize>i * NIELS;
      if (load<u8>(flags + b) == 0) {
        nielsToP3(bucket, q, d < 0);
        store<u8>(flags + b, 1);
      } else {
        if (d > 0) geMadd(TMP, bucket, q);
        else geMsub(TMP, bucket, q);
        p1p1ToP3(bucket, TMP);
      }
    }
    // sum_b (b + 1) * bucket_b as a sum of running sums, top bucket first.
    let runSet = false;
    let sumSet = false;
    for (let b = count - 1; b >= 0; b--) {
      const bucket = buckets + <usize>b * P3;
      if (load<u8>(flags + <usize>b) != 0) {
        if (runSet) addP3(RUN, bucket);
        else {
          p3Copy(RUN, bucket);
          runSet = true;
        }
      }
      if (!runSet) continue;
      if (sumSet) addP3(SUM, RUN);
      else {
        p3Copy(SUM, RUN);
        sumSet = true;
      }
    }
    if (!sumSet) continue;
    if (accSet) addP3(ACC, SUM);
    else {
      p3Copy(ACC, SUM);
      accSet = true;
    }
  }
  return accSet;
}

/**
 * Estimated cost in field multiplications (a squaring counted as ~0.6): Straus pays a
 * table per point and one addition per digit; Pippenger one mixed addition per digit and
 * per window, plus 2 additions per bucket and window. Both share ~252 doublings.
 */
function strausCost(n: f64): f64 {
  return 70 * n + 64 * (15.0 / 16.0) * 8 * n + 1400;
}

function pippengerCost(n: f64, c: i32): f64 {
  return <f64>windowsFor(c) * (7 * n + 18 * <f64>(1 << (c - 1))) + 1400;
}

/** 0 for Straus, else the Pippenger window size. */
export function chooseWindow(n: i32): i32 {
  let best = 0;
  let bestCost = strausCost(<f64>n);
  for (let c = 2; c <= MAX_AUTO_WINDOW; c++) {
    const cost = pippengerCost(<f64>n, c);
    if (cost < bestCost) {
      best = c;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * out = encoding of sum_i scalars[i] * points[i]; window 0 = Straus, 2..16 = Pippenger with
 * that window. Returns OK, IDENTITY (out = 32 zero bytes) or an error status.
 */
export function msmWith(n: i32, scalars: usize, points: usize, out: usize, window: i32, affine: bool = false): i32 {
  failedAt = -1;
  if (n < 0 || window < 0 || window == 1 || window > MAX_WINDOW) return BAD_ARGUMENT;
  for (let i = 0; i < n; i++) {
    if (load<u8>(scalars + ((<usize>i) << 5), 31) >= 0x20) {
      failedAt = i;
      return BAD_SCALAR;
    }
  }
  // The work area starts above every input and the output, wherever the caller put them.
  const size = (<usize>n) << 5;
  let end = heapStart();
  if (scalars + size > end) end = scalars + size;
  if (points + (affine ? size << 1 : size) > end) end = points + (affine ? size << 1 : size);
  if (out + 32 > end) end = out + 32;
  const c = window == 0 ? STRAUS_WINDOW : window;
  const digits = align16(end);
  const table = align16(digits + <usize>windowsFor(c) * ((<usize>n) << 1));
  const entry = window == 0 ? STRAUS_TABLE : NIELS;
  const buckets = align16(table + <usize>n * entry);
  const count: usize = window == 0 ? 0 : (<usize>1) << (c - 1);
  const flags = buckets + count * P3;
  if (!ensureMemory(flags + count)) return NO_MEMORY;

  if (affine) affineAll(points, n, table, entry, window == 0);
  else {
    const status = decodeAll(points, n, table, entry, window == 0);
    if (status != OK) return status;
  }
  recode(digits, scalars, n, c);
  const nonZero = window == 0 ? straus(digits, table, n) : pippenger(digits, table, n, c, buckets, flags);
  if (!nonZero) {
    memory.fill(out, 0, 32);
    return IDENTITY;
  }
  encode(out, ACC);
  const o = out;
  return (load<u64>(o, 0) | load<u64>(o, 8) | load<u64>(o, 16) | load<u64>(o, 24)) == 0 ? IDENTITY : OK;
}

/** Decodes and re-encodes one element (a test hook for the field and encoding code). */
export function roundTrip(input: usize, out: usize): i32 {
  failedAt = -1;
  if (!decode(PT, input)) {
    failedAt = 0;
    return BAD_ENCODING;
  }
  encode(out, PT);
  return OK;
}
