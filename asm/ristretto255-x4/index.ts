/**
 * ristretto255 scalar multiplication, four points per pass in WebAssembly SIMD (loaded by
 * src/group/wasm-x4.ts). Elements are packed 32-byte RFC 9496 encodings, scalars 32-byte
 * little-endian values below the group order L (the loader checks 1 <= s < L), uniform
 * strings 64 bytes (the output of expand_message_xmd for hash_to_ristretto255).
 *
 * Calling convention: alloc(size) returns a pointer P with `size` bytes behind it (memory
 * grows as needed, so take a fresh view of memory afterwards); the caller lays out inputs
 * and output there and calls one of the batch functions with n >= 1.
 *
 * Batches run four elements per pass, element 4j + k in lane k. A tail of 1-3 elements is
 * staged in a 4-lane buffer padded with a valid dummy (the generator, scalar 1, or zero
 * uniform bytes) whose results are discarded and never reported.
 *
 * Every variable-base multiplication (and mulBaseEach) multiplies by s / 2 mod L and
 * encodes the doubled point, the encodings of up to 64 passes sharing one field inversion
 * (batch-encode4.ts): no inverse square root per result. validateXY / mulCommonFromXY
 * split a check from a later evaluation without decoding twice. The additive-blinding
 * passes (hashAddBaseEach, subBaseEachFromXY: a sum, not a product, so no halving) encode
 * each result with encode4, and take a fixed-base comb table (fixed-base4.ts, baseTable);
 * composites computes a client's two DLEQ composites on public data (msm2.ts).
 *
 * Return value: 0 on success; -(i + 1) when element i is not a valid encoding (RFC 9496
 * §4.3.1: non-canonical, negative, not on the curve) or is the identity (RFC 9497 §3.3
 * forbids it as an input); +(i + 1) when result i is the identity. Within one pass of
 * four, a bad input is reported before any result of that pass is computed. Every static
 * intermediate (digits, tables, points) is wiped before returning; the caller wipes its
 * own I/O area.
 */
import { initConstants } from './constants';
import { fe4Carry, fe4FromBytes, fe4Mul, fe4Neg, fe4One, fe4ToBytes, fe4WipeScratch } from './fe4';
import { powWipeScratch } from './fe4-pow';
import { CACHED, P1P1, P3, T, X, Y, Z, ge4AddCached, ge4P1P1ToP3, ge4P3ToCached, ge4WipeScratch } from './ge4';
import { ensureMemory, heapStart } from './memory';
import { decode4, encode4, oneWayMap4, ristrettoWipeScratch } from './ristretto4';
import { BATCH_PASSES, batchAdd, batchBegin, batchFlush, batchPasses, batchWipe } from './batch-encode4';
import { scalarmult4, scalarmultWipe, setCommonScalarHalf, setLaneScalar, setLaneScalarHalf } from './scalarmult4';
import { TABLE_BYTES, buildTable, comb4, fixedBaseWipe, tableBuildWipe } from './fixed-base4';
import { compositePair, pairScratchBytes, pairWipe } from './msm2';

initConstants();

/** Four points being worked on (P3, lane k = element k of the pass). */
const POINT: usize = memory.data(<i32>P3, 16);
/** Staging for a partial last pass: inputs (4 x 64 bytes), scalars, outputs (4 x 32). */
const STAGE_IN: usize = memory.data(256, 16);
const STAGE_SCALARS: usize = memory.data(128, 16);
const STAGE_OUT: usize = memory.data(128, 16);
/** Staging of a partial pass's affine coordinates (4 x 64 bytes). */
const STAGE_XY: usize = memory.data(256, 16);
/** The fixed-base product of a pass, and the sum's intermediates (fixed-base4.ts). */
const COMB: usize = memory.data(<i32>P3, 16);
const COMB_CACHED: usize = memory.data(<i32>CACHED, 16);
const COMB_SUM: usize = memory.data(<i32>P1P1, 16);

/** RFC 9496 A.1: the generator's encoding, the padding element. */
const GENERATOR: usize = memory.data<u8>([
  0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
  0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76,
]);

/** Pointer to `size` bytes of I/O space for the next call; 0 when memory cannot grow. */
export function alloc(size: i32): usize {
  if (size < 0) return 0;
  const base = heapStart();
  return ensureMemory(base + <usize>size) ? base : 0;
}

/** Lane bits of a mask (bit k = lane k), restricted to the first `lanes` lanes. */
@inline
function laneBits(mask: v128, lanes: i32): i32 {
  return i32x4.bitmask(mask) & ((1 << lanes) - 1);
}

/** Copies `lanes` records of `size` bytes into the staging buffer and pads the rest with `pad` (0 = zeros). */
function stage(dst: usize, src: usize, lanes: i32, size: usize, pad: usize): void {
  memory.copy(dst, src, <usize>lanes * size);
  for (let k = lanes; k < 4; k++) {
    const at = dst + <usize>k * size;
    if (pad == 0) memory.fill(at, 0, size);
    else memory.copy(at, pad, size);
  }
}

/**
 * Decodes the four encodings at pts into POINT; returns the bad-lane bits: invalid
 * encodings and the identity, which RFC 9497 §3.3 rejects as an input. After decode4, X is
 * canonical (x = CT_ABS(2 s den_x)), and x = 0 exactly when s = 0, the identity.
 */
function decodePass(pts: usize, lanes: i32): i32 {
  const invalid = decode4(POINT, pts, 32);
  let x = v128.load(POINT);
  for (let off: usize = 16; off < 160; off += 16) x = v128.or(x, v128.load(POINT + off));
  return laneBits(v128.or(invalid, i32x4.eq(x, i32x4.splat(0))), lanes);
}

function wipeAll(): void {
  batchWipe();
  scalarmultWipe();
  ristrettoWipeScratch();
  ge4WipeScratch();
  powWipeScratch();
  fe4WipeScratch();
  memory.fill(POINT, 0, P3);
  memory.fill(STAGE_IN, 0, 256);
  memory.fill(STAGE_SCALARS, 0, 128);
  memory.fill(STAGE_OUT, 0, 128);
  memory.fill(STAGE_XY, 0, 256);
  fixedBaseWipe();
  memory.fill(COMB, 0, P3);
  memory.fill(COMB_CACHED, 0, CACHED);
  memory.fill(COMB_SUM, 0, P1P1);
}

@inline
function firstLane(bits: i32): i32 {
  return ctz(bits);
}

/** Shared tail of the multiplying passes: encode POINT, copy out a partial pass, report identities. */
function finishPass(out: usize, i: i32, lanes: i32): i32 {
  const dst = lanes < 4 ? STAGE_OUT : out + ((<usize>i) << 5);
  const identity = laneBits(encode4(dst, 32, POINT), lanes);
  if (lanes < 4) memory.copy(out + ((<usize>i) << 5), STAGE_OUT, (<usize>lanes) << 5);
  return identity == 0 ? 0 : i + firstLane(identity) + 1;
}

/** Index of the first element of the batch encoding's current group of passes. */
let groupFirst: i32 = 0;

function startBatch(): void {
  batchBegin();
  groupFirst = 0;
}

/**
 * The multiplying passes end here: POINT holds Q = (s / 2) P for the pass of elements i..,
 * recorded for the batch encoding of 2Q = s P (batch-encode4.ts); a full group is encoded
 * into out. Returns +(j + 1) for the first element j whose result is the identity, else 0.
 */
function batchPass(out: usize, i: i32, n: i32): i32 {
  const lanes = min(4, n - i);
  const identity = laneBits(batchAdd(POINT), lanes);
  if (identity != 0) return i + firstLane(identity) + 1;
  if (batchPasses() == BATCH_PASSES) {
    batchFlush(out, groupFirst, n, STAGE_OUT);
    groupFirst = i + 4;
  }
  return 0;
}

/** Encodes the passes left in the group (nothing after an error: the caller discards out). */
function endBatch(out: usize, n: i32, status: i32): void {
  if (status == 0 && batchPasses() > 0) batchFlush(out, groupFirst, n, STAGE_OUT);
}

/**
 * 0 when every element of points[0..n) decodes (RFC 9496 §4.3.1) to a point other than the
 * identity (RFC 9497 §3.3), else -(i + 1) for the first bad element i: the batch check of
 * received elements, four per pass (decoding is a square root per element, the cost of
 * the check), with no multiplication.
 */
export function validate(n: i32, points: usize): i32 {
  let status = 0;
  for (let i = 0; i < n; i += 4) {
    const lanes = min(4, n - i);
    let pts = points + ((<usize>i) << 5);
    if (lanes < 4) {
      stage(STAGE_IN, pts, lanes, 32, GENERATOR);
      pts = STAGE_IN;
    }
    const bad = decodePass(pts, lanes);
    if (bad != 0) {
      status = -(i + firstLane(bad) + 1);
      break;
    }
  }
  wipeAll();
  return status;
}

/**
 * validate, and also the affine coordinates (x || y, 64 canonical bytes) of each element at
 * xy + 64 i, for mulCommonFromXY: a server checks a chunk of blinded elements when it
 * arrives and evaluates it later, and keeps the coordinates in between so that each
 * element is decoded (a square root) once, not twice. On failure xy is incomplete.
 */
export function validateXY(n: i32, points: usize, xy: usize): i32 {
  let status = 0;
  for (let i = 0; i < n; i += 4) {
    const lanes = min(4, n - i);
    let pts = points + ((<usize>i) << 5);
    if (lanes < 4) {
      stage(STAGE_IN, pts, lanes, 32, GENERATOR);
      pts = STAGE_IN;
    }
    const bad = decodePass(pts, lanes);
    if (bad != 0) {
      status = -(i + firstLane(bad) + 1);
      break;
    }
    const dst = lanes < 4 ? STAGE_XY : xy + ((<usize>i) << 6);
    fe4ToBytes(dst, 64, POINT + X);
    fe4ToBytes(dst + 32, 64, POINT + Y);
    if (lanes < 4) memory.copy(xy + ((<usize>i) << 6), STAGE_XY, (<usize>lanes) << 6);
  }
  wipeAll();
  return status;
}

/**
 * out[i] = encode(scalar * P_i) for the points given by their affine coordinates (x || y at
 * xy + 64 i, as validateXY and mulCommonXY write them: decoded, checked, never the
 * identity). The extended coordinates are (x : y : 1 : x y). Only for coordinates this
 * module wrote: nothing here checks that they are on the curve.
 */
export function mulCommonFromXY(n: i32, scalar: usize, xy: usize, out: usize): i32 {
  let status = 0;
  startBatch();
  setCommonScalarHalf(scalar);
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let src = xy + ((<usize>i) << 6);
    if (lanes < 4) {
      // Padding lanes repeat the first point of the pass (results discarded).
      memory.copy(STAGE_XY, src, (<usize>lanes) << 6);
      for (let k = lanes; k < 4; k++) memory.copy(STAGE_XY + ((<usize>k) << 6), src, 64);
      src = STAGE_XY;
    }
    // Loaded limbs are unsigned 26/25-bit fields; carried into ref10's signed range, as
    // the point formulas add two coordinates before multiplying (X + Y in a doubling).
    fe4FromBytes(POINT + X, src, 64);
    fe4Carry(POINT + X, POINT + X);
    fe4FromBytes(POINT + Y, src + 32, 64);
    fe4Carry(POINT + Y, POINT + Y);
    fe4One(POINT + Z);
    fe4Mul(POINT + T, POINT + X, POINT + Y);
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/** out[i] = encode(scalars[i] * decode(points[i])) for i < n; see the file comment for the result. */
export function mulEach(n: i32, scalars: usize, points: usize, out: usize): i32 {
  let status = 0;
  startBatch();
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let sc = scalars + ((<usize>i) << 5);
    let pts = points + ((<usize>i) << 5);
    if (lanes < 4) {
      stage(STAGE_IN, pts, lanes, 32, GENERATOR);
      stage(STAGE_SCALARS, sc, lanes, 32, 0);
      for (let k = lanes; k < 4; k++) store<u8>(STAGE_SCALARS + (<usize>k << 5), 1); // scalar 1
      sc = STAGE_SCALARS;
      pts = STAGE_IN;
    }
    const bad = decodePass(pts, lanes);
    if (bad != 0) {
      status = -(i + firstLane(bad) + 1);
      break;
    }
    for (let k = 0; k < 4; k++) setLaneScalarHalf(k, sc + ((<usize>k) << 5));
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/**
 * mulEach, and also the affine coordinates (x || y, 64 canonical bytes) of each decoded
 * input at xy + 64 i: the client's unblinding (RFC 9497 Finalize) and its proof's
 * composite Z = sum d_i D_i (§2.2.2, the MSM's msmAffine) from one decoding of each D_i.
 */
export function mulEachXY(n: i32, scalars: usize, points: usize, out: usize, xy: usize): i32 {
  let status = 0;
  startBatch();
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let sc = scalars + ((<usize>i) << 5);
    let pts = points + ((<usize>i) << 5);
    if (lanes < 4) {
      stage(STAGE_IN, pts, lanes, 32, GENERATOR);
      stage(STAGE_SCALARS, sc, lanes, 32, 0);
      for (let k = lanes; k < 4; k++) store<u8>(STAGE_SCALARS + (<usize>k << 5), 1); // scalar 1
      sc = STAGE_SCALARS;
      pts = STAGE_IN;
    }
    const bad = decodePass(pts, lanes);
    if (bad != 0) {
      status = -(i + firstLane(bad) + 1);
      break;
    }
    const dst = lanes < 4 ? STAGE_XY : xy + ((<usize>i) << 6);
    fe4ToBytes(dst, 64, POINT + X);
    fe4ToBytes(dst + 32, 64, POINT + Y);
    if (lanes < 4) memory.copy(xy + ((<usize>i) << 6), STAGE_XY, (<usize>lanes) << 6);
    for (let k = 0; k < 4; k++) setLaneScalarHalf(k, sc + ((<usize>k) << 5));
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/** out[i] = encode(scalar * decode(points[i])) for i < n, one scalar (recoded once). */
export function mulCommon(n: i32, scalar: usize, points: usize, out: usize): i32 {
  let status = 0;
  startBatch();
  setCommonScalarHalf(scalar);
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let pts = points + ((<usize>i) << 5);
    if (lanes < 4) {
      stage(STAGE_IN, pts, lanes, 32, GENERATOR);
      pts = STAGE_IN;
    }
    const bad = decodePass(pts, lanes);
    if (bad != 0) {
      status = -(i + firstLane(bad) + 1);
      break;
    }
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/**
 * mulCommon, and also the affine coordinates of each decoded input: x then y, 32 canonical
 * bytes each, at xy + 64 i (RFC 9496 §4.3.1 decoding yields Z = 1). The server's DLEQ
 * composite M = sum d_i C_i (RFC 9497 §2.2.1) is computed from them (the MSM's msmAffine)
 * without decoding each blinded element a second time.
 */
export function mulCommonXY(n: i32, scalar: usize, points: usize, out: usize, xy: usize): i32 {
  let status = 0;
  startBatch();
  setCommonScalarHalf(scalar);
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let pts = points + ((<usize>i) << 5);
    if (lanes < 4) {
      stage(STAGE_IN, pts, lanes, 32, GENERATOR);
      pts = STAGE_IN;
    }
    const bad = decodePass(pts, lanes);
    if (bad != 0) {
      status = -(i + firstLane(bad) + 1);
      break;
    }
    const dst = lanes < 4 ? STAGE_XY : xy + ((<usize>i) << 6);
    fe4ToBytes(dst, 64, POINT + X);
    fe4ToBytes(dst + 32, 64, POINT + Y);
    if (lanes < 4) memory.copy(xy + ((<usize>i) << 6), STAGE_XY, (<usize>lanes) << 6);
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/**
 * out[i] = encode(scalar * OneWayMap(uniform[i])) for i < n (RFC 9496 §4.3.4 fused with
 * the multiplication, no intermediate encoding). An identity map output gives an
 * identity result, reported as +(i + 1).
 */
export function hashMulCommon(n: i32, scalar: usize, uniform: usize, out: usize): i32 {
  let status = 0;
  startBatch();
  setCommonScalarHalf(scalar);
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let u = uniform + ((<usize>i) << 6);
    if (lanes < 4) {
      stage(STAGE_IN, u, lanes, 64, 0);
      u = STAGE_IN;
    }
    oneWayMap4(POINT, u, 64);
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/**
 * out[i] = encode(scalars[i] * OneWayMap(uniform[i])) for i < n: the client's blinding
 * (RFC 9497 Blind: r_i * H(x_i)) without encoding and decoding H(x_i) in between. An
 * identity map output gives an identity result, reported as +(i + 1).
 */
export function hashMulEach(n: i32, scalars: usize, uniform: usize, out: usize): i32 {
  let status = 0;
  startBatch();
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let sc = scalars + ((<usize>i) << 5);
    let u = uniform + ((<usize>i) << 6);
    if (lanes < 4) {
      stage(STAGE_IN, u, lanes, 64, 0);
      stage(STAGE_SCALARS, sc, lanes, 32, 0);
      for (let k = lanes; k < 4; k++) store<u8>(STAGE_SCALARS + (<usize>k << 5), 1); // scalar 1
      sc = STAGE_SCALARS;
      u = STAGE_IN;
    }
    oneWayMap4(POINT, u, 64);
    for (let k = 0; k < 4; k++) setLaneScalarHalf(k, sc + ((<usize>k) << 5));
    scalarmult4(POINT);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/** out[i] = encode(OneWayMap(uniform[i])) for i < n; +(i + 1) when output i is the identity. */
export function fromHash(n: i32, uniform: usize, out: usize): i32 {
  let status = 0;
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let u = uniform + ((<usize>i) << 6);
    if (lanes < 4) {
      stage(STAGE_IN, u, lanes, 64, 0);
      u = STAGE_IN;
    }
    oneWayMap4(POINT, u, 64);
    status = finishPass(out, i, lanes);
  }
  wipeAll();
  return status;
}

// ---------------------------------------------------------------------------------------
// Fixed-base multiplication (fixed-base4.ts): a comb table per base, built once and passed
// in by the caller with every call (TABLE_BYTES at `table`, as baseTable wrote it).

/** Bytes of a comb table (baseTable's output, the `table` argument below). */
export function tableBytes(): i32 {
  return TABLE_BYTES;
}

/**
 * Writes the comb table of the element at `point` (a 32-byte encoding) to `table`: 0, or
 * -1 when it is not a valid encoding or is the identity (nothing written then).
 */
export function baseTable(point: usize, table: usize): i32 {
  stage(STAGE_IN, point, 1, 32, point); // the base in all four lanes
  const bad = decodePass(STAGE_IN, 1);
  if (bad == 0) buildTable(table, POINT);
  tableBuildWipe();
  wipeAll();
  return bad == 0 ? 0 : -1;
}

/** Stages a partial pass's scalars (padding lanes get scalar 1); returns where the pass's scalars are. */
function passScalars(sc: usize, lanes: i32): usize {
  if (lanes == 4) return sc;
  stage(STAGE_SCALARS, sc, lanes, 32, 0);
  for (let k = lanes; k < 4; k++) store<u8>(STAGE_SCALARS + (<usize>k << 5), 1);
  return STAGE_SCALARS;
}

/**
 * out[i] = encode(scalars[i] * B) for the base B of `table`: the comb on s / 2 and the
 * batch encoding of the doubled point, as mulEach does with the variable-base ladder.
 * Scalars in [0, L) (0 gives an identity result, +(i + 1)).
 */
export function mulBaseEach(n: i32, table: usize, scalars: usize, out: usize): i32 {
  let status = 0;
  startBatch();
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    const sc = passScalars(scalars + ((<usize>i) << 5), lanes);
    for (let k = 0; k < 4; k++) setLaneScalarHalf(k, sc + ((<usize>k) << 5));
    comb4(POINT, table);
    status = batchPass(out, i, n);
  }
  endBatch(out, n, status);
  wipeAll();
  return status;
}

/**
 * out[i] = encode(OneWayMap(uniform[i]) + scalars[i] * B), B the base of `table` (the
 * generator): additive blinding H(x_i) + r_i G (spec/client.md), H(x_i) never encoded.
 * An identity result is reported as +(i + 1).
 */
export function hashAddBaseEach(n: i32, table: usize, scalars: usize, uniform: usize, out: usize): i32 {
  let status = 0;
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let u = uniform + ((<usize>i) << 6);
    if (lanes < 4) {
      stage(STAGE_IN, u, lanes, 64, 0);
      u = STAGE_IN;
    }
    const sc = passScalars(scalars + ((<usize>i) << 5), lanes);
    oneWayMap4(POINT, u, 64);
    for (let k = 0; k < 4; k++) setLaneScalar(k, sc + ((<usize>k) << 5));
    comb4(COMB, table);
    ge4P3ToCached(COMB_CACHED, COMB);
    ge4AddCached(COMB_SUM, POINT, COMB_CACHED);
    ge4P1P1ToP3(POINT, COMB_SUM);
    status = finishPass(out, i, lanes);
  }
  wipeAll();
  return status;
}

/**
 * out[i] = encode(D_i - scalars[i] * B), B the base of `table` (the server's public key)
 * and D_i given by its affine coordinates (x || y at xy + 64 i, as validateXY writes
 * them: decoded, checked): additive unblinding Z_i - r_i PK = k H(x_i) (spec/client.md).
 * Only for coordinates this module wrote. An identity result is reported as +(i + 1).
 */
export function subBaseEachFromXY(n: i32, table: usize, scalars: usize, xy: usize, out: usize): i32 {
  let status = 0;
  for (let i = 0; i < n && status == 0; i += 4) {
    const lanes = min(4, n - i);
    let src = xy + ((<usize>i) << 6);
    if (lanes < 4) {
      // Padding lanes repeat the first point of the pass (results discarded).
      memory.copy(STAGE_XY, src, (<usize>lanes) << 6);
      for (let k = lanes; k < 4; k++) memory.copy(STAGE_XY + ((<usize>k) << 6), src, 64);
      src = STAGE_XY;
    }
    fe4FromBytes(POINT + X, src, 64);
    fe4Carry(POINT + X, POINT + X);
    fe4FromBytes(POINT + Y, src + 32, 64);
    fe4Carry(POINT + Y, POINT + Y);
    fe4One(POINT + Z);
    fe4Mul(POINT + T, POINT + X, POINT + Y);
    const sc = passScalars(scalars + ((<usize>i) << 5), lanes);
    for (let k = 0; k < 4; k++) setLaneScalar(k, sc + ((<usize>k) << 5));
    comb4(COMB, table);
    // -(X : Y : Z : T) = (-X : Y : Z : -T)
    fe4Neg(COMB + X, COMB + X);
    fe4Neg(COMB + T, COMB + T);
    ge4P3ToCached(COMB_CACHED, COMB);
    ge4AddCached(COMB_SUM, POINT, COMB_CACHED);
    ge4P1P1ToP3(POINT, COMB_SUM);
    status = finishPass(out, i, lanes);
  }
  wipeAll();
  return status;
}

// ---------------------------------------------------------------------------------------
// The DLEQ composites of a client's proof check (msm2.ts): public data, variable time.

/** Scratch bytes `composites` needs for n elements. */
export function compositeScratch(n: i32): i32 {
  return pairScratchBytes(n);
}

/**
 * encode(sum weights_i C_i) at out and encode(sum weights_i D_i) at out + 32, C and D as
 * affine coordinates (validateXY's), weights 32 bytes each below 2^253, scratch of
 * compositeScratch(n) bytes at a 16-aligned address; returns 1 | 2 for an identity M | Z.
 */
export function composites(n: i32, weights: usize, cxy: usize, dxy: usize, out: usize, scratch: usize): i32 {
  const status = compositePair(n, weights, cxy, dxy, out, scratch);
  pairWipe();
  wipeAll();
  return status;
}
