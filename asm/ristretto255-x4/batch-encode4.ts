/**
 * Batch encoding of doubled points: the RFC 9496 §4.3.2 encodings of 2Q for a run of
 * passes of four points Q each, with one field inversion per group of passes instead of an
 * inverse square root per element (curve25519-dalek's `double_and_compress_batch`, from
 * the Decaf/Ristretto papers: the encoding of a doubled point needs no square root).
 *
 * The multiplications use it by computing Q = (s / 2 mod L) P and encoding 2Q = s P
 * (scalarmult4.ts halves the scalar, branch-free): the doubling is folded into the
 * encoding's formulas, and the ~265 field operations of encode4's SQRT_RATIO_M1 become ~22
 * plus a share of one inversion.
 *
 * For each pass, batchAdd records e = 2XY, f = Z^2 + dT^2, g = Y^2 + X^2, h = Z^2 - dT^2
 * (2Q = (e h : g f : f h : e g)), eg, fh, efgh and the running product of the efgh before
 * it (Montgomery's trick, per lane); batchFlush inverts the product once and walks the
 * passes backwards, each getting 1/(efgh) from the running inverse and its prefix.
 *
 * The identity. f and h are never zero (d is not a square), and e g = 0 exactly when 2Q is
 * a torsion point, i.e. when the result is the identity (its encoding is 32 zero bytes).
 * Such a lane's efgh is replaced by 1 (a lane mask, no branch) so that the other passes'
 * inverses stay right, and batchAdd reports it: the caller returns +(i + 1) as encode4's
 * identity test did, and the bytes written for that element are never used.
 *
 * Constant time: the same operations for every value; comparisons are lane masks. The
 * records hold multiples of the (public or secret) inputs and are wiped by batchWipe.
 */
import { D, INVSQRT_A_MINUS_D, ONE, SQRT_M1 } from './constants';
import { FE4, fe4Abs, fe4Add, fe4Carry, fe4CondNeg, fe4IsNegative, fe4IsZero, fe4Mul, fe4Neg, fe4Select, fe4Sq, fe4Sub, fe4ToBytes } from './fe4';
import { fe4Invert } from './fe4-pow';
import { T, X, Y, Z } from './ge4';

/** Passes per inversion: the inversion (~265 operations) costs about one per element at 64 x 4. */
export const BATCH_PASSES: i32 = 64;

// One record per pass: eight fe4 values.
const RE: usize = 0;
const RF: usize = FE4;
const RG: usize = 2 * FE4;
const RH: usize = 3 * FE4;
const REG: usize = 4 * FE4;
const RFH: usize = 5 * FE4;
const REFGH: usize = 6 * FE4;
const RPREFIX: usize = 7 * FE4;
const RECORD: usize = 8 * FE4;

const RECORDS: usize = memory.data(BATCH_PASSES * <i32>RECORD, 16);
const RUNNING: usize = memory.data(<i32>FE4, 16);
const INV: usize = memory.data(<i32>FE4, 16);
const INVJ: usize = memory.data(<i32>FE4, 16);
const ZINV: usize = memory.data(<i32>FE4, 16);
const TINV: usize = memory.data(<i32>FE4, 16);
const A: usize = memory.data(<i32>FE4, 16);
const B: usize = memory.data(<i32>FE4, 16);
const C: usize = memory.data(<i32>FE4, 16);
const E2: usize = memory.data(<i32>FE4, 16);
const G2: usize = memory.data(<i32>FE4, 16);
const H2: usize = memory.data(<i32>FE4, 16);
const MAGIC: usize = memory.data(<i32>FE4, 16);

let passes: i32 = 0;

/** Starts a group (no pass recorded). */
export function batchBegin(): void {
  memory.copy(RUNNING, ONE, FE4);
  passes = 0;
}

/** Passes recorded in the current group. */
export function batchPasses(): i32 {
  return passes;
}

/**
 * Records the pass whose four points (P3) are at p, to be encoded doubled; returns the
 * lane mask of the lanes whose result 2Q is the identity. At most BATCH_PASSES per group.
 */
export function batchAdd(p: usize): v128 {
  const r = RECORDS + (<usize>passes) * RECORD;
  fe4Sq(A, p + X); // X^2
  fe4Sq(B, p + Y); // Y^2
  fe4Sq(C, p + Z); // Z^2
  fe4Sq(E2, p + T);
  fe4Mul(E2, E2, D); // d T^2
  fe4Add(G2, p + Y, p + Y);
  fe4Mul(r + RE, p + X, G2); // e = 2 X Y
  fe4Add(r + RF, C, E2);
  fe4Carry(r + RF, r + RF); // f = Z^2 + d T^2
  fe4Add(r + RG, B, A);
  fe4Carry(r + RG, r + RG); // g = Y^2 + X^2 (= Y^2 - a X^2)
  fe4Sub(r + RH, C, E2);
  fe4Carry(r + RH, r + RH); // h = Z^2 - d T^2
  fe4Mul(r + REG, r + RE, r + RG);
  fe4Mul(r + RFH, r + RF, r + RH);
  fe4Mul(r + REFGH, r + REG, r + RFH);
  const identity = fe4IsZero(r + REFGH);
  fe4Select(r + REFGH, ONE, r + REFGH, identity); // keeps the other passes' inverses right
  memory.copy(r + RPREFIX, RUNNING, FE4);
  fe4Mul(RUNNING, RUNNING, r + REFGH);
  passes++;
  return identity;
}

/**
 * Encodes 2Q of recorded pass j into 32 bytes per lane at dst + 32 k, given INVJ =
 * 1/(efgh) of that pass (dalek's double_and_compress_batch, step for step).
 */
function finish(j: i32, dst: usize): void {
  const r = RECORDS + (<usize>j) * RECORD;
  fe4Mul(ZINV, r + REG, INVJ); // 1 / (f h) = 1/Z of 2Q
  fe4Mul(TINV, r + RFH, INVJ); // 1 / (e g) = 1/T of 2Q
  fe4Mul(A, r + REG, ZINV);
  const rotate = fe4IsNegative(A); // IS_NEGATIVE(T/Z)
  fe4Neg(B, r + RE); // -e
  fe4Mul(C, r + RF, SQRT_M1); // f sqrt(-1)
  fe4Select(E2, r + RG, r + RE, rotate);
  fe4Select(G2, B, r + RG, rotate);
  fe4Select(H2, C, r + RH, rotate);
  fe4Select(MAGIC, SQRT_M1, INVSQRT_A_MINUS_D, rotate);
  fe4Mul(A, H2, E2);
  fe4Mul(A, A, ZINV);
  fe4CondNeg(G2, G2, fe4IsNegative(A));
  fe4Mul(A, G2, TINV);
  fe4Mul(A, MAGIC, A);
  fe4Sub(B, H2, G2);
  fe4Mul(A, B, A);
  fe4Abs(A, A); // s
  fe4ToBytes(dst, 32, A);
}

/**
 * Writes the encodings of every recorded pass and starts a new group: pass j of the group
 * holds elements first + 4j .. (of n in all), written at out + 32 (first + 4j); a partial
 * last pass is encoded into `stage` (4 x 32 bytes) and only its real lanes are copied.
 */
export function batchFlush(out: usize, first: i32, n: i32, stage: usize): void {
  fe4Invert(INV, RUNNING);
  for (let j = passes - 1; j >= 0; j--) {
    const r = RECORDS + (<usize>j) * RECORD;
    fe4Mul(INVJ, INV, r + RPREFIX); // 1 / efgh_j
    fe4Mul(INV, INV, r + REFGH); // 1 / (efgh_0 .. efgh_(j-1))
    const i = first + 4 * j;
    const lanes = min(4, n - i);
    if (lanes < 4) {
      finish(j, stage);
      memory.copy(out + ((<usize>i) << 5), stage, (<usize>lanes) << 5);
    } else {
      finish(j, out + ((<usize>i) << 5));
    }
  }
  batchBegin();
}

/** Wipes the records and every temporary. */
export function batchWipe(): void {
  memory.fill(RECORDS, 0, <usize>BATCH_PASSES * RECORD);
  memory.fill(RUNNING, 0, FE4);
  memory.fill(INV, 0, FE4);
  memory.fill(INVJ, 0, FE4);
  memory.fill(ZINV, 0, FE4);
  memory.fill(TINV, 0, FE4);
  memory.fill(A, 0, FE4);
  memory.fill(B, 0, FE4);
  memory.fill(C, 0, FE4);
  memory.fill(E2, 0, FE4);
  memory.fill(G2, 0, FE4);
  memory.fill(H2, 0, FE4);
  memory.fill(MAGIC, 0, FE4);
  passes = 0;
}
