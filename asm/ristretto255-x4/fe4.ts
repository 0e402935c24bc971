/**
 * GF(2^255 - 19) for four field elements at once ("fe4"), ported from ref10/libsodium
 * fe25519 (radix 2^25.5: ten signed limbs, limb i holding 26 bits when i is even and 25
 * when i is odd, at bit positions 0, 26, 51, 77, 102, 128, 153, 179, 204, 230).
 *
 * Lane layout. An fe4 is 10 consecutive v128 values in linear memory (FE4 = 160 bytes):
 * v128 number i holds limb i of all four elements, as an i32x4 whose lane k belongs to
 * element k. Every operation works on all four lanes with the same instructions, so the
 * four computations run in lock step and no lane can influence another's timing.
 *
 * Functions take pointers (output first, as ref10) and allocate nothing. Additions,
 * subtractions and negations do not carry, exactly as in ref10: the point formulas
 * (ge4.ts) combine at most two or three carried values before the next multiplication,
 * which ref10's bounds allow; where a longer chain is needed the caller uses fe4Carry.
 *
 * Constant time. Nothing here branches on or indexes by a value: comparisons return lane
 * masks (all ones / all zeros per i32 lane) and choices are v128.bitselect with a mask.
 */
export { fe4Mul, fe4Sq, fe4Sq2 } from './fe4-mul';

/** Bytes of one fe4: 10 limbs x 16 bytes. */
export const FE4: usize = 160;

const M26 = i32x4.splat(0x3ffffff);
const M25 = i32x4.splat(0x1ffffff);

export function fe4Copy(h: usize, f: usize): void {
  memory.copy(h, f, FE4);
}

export function fe4Zero(h: usize): void {
  memory.fill(h, 0, FE4);
}

export function fe4One(h: usize): void {
  memory.fill(h, 0, FE4);
  v128.store(h, i32x4.splat(1));
}

/** h = f + g (no carry) */
@inline
export function fe4Add(h: usize, f: usize, g: usize): void {
  v128.store(h, i32x4.add(v128.load(f, 0), v128.load(g, 0)), 0);
  v128.store(h, i32x4.add(v128.load(f, 16), v128.load(g, 16)), 16);
  v128.store(h, i32x4.add(v128.load(f, 32), v128.load(g, 32)), 32);
  v128.store(h, i32x4.add(v128.load(f, 48), v128.load(g, 48)), 48);
  v128.store(h, i32x4.add(v128.load(f, 64), v128.load(g, 64)), 64);
  v128.store(h, i32x4.add(v128.load(f, 80), v128.load(g, 80)), 80);
  v128.store(h, i32x4.add(v128.load(f, 96), v128.load(g, 96)), 96);
  v128.store(h, i32x4.add(v128.load(f, 112), v128.load(g, 112)), 112);
  v128.store(h, i32x4.add(v128.load(f, 128), v128.load(g, 128)), 128);
  v128.store(h, i32x4.add(v128.load(f, 144), v128.load(g, 144)), 144);
}

/** h = f - g (no carry) */
@inline
export function fe4Sub(h: usize, f: usize, g: usize): void {
  v128.store(h, i32x4.sub(v128.load(f, 0), v128.load(g, 0)), 0);
  v128.store(h, i32x4.sub(v128.load(f, 16), v128.load(g, 16)), 16);
  v128.store(h, i32x4.sub(v128.load(f, 32), v128.load(g, 32)), 32);
  v128.store(h, i32x4.sub(v128.load(f, 48), v128.load(g, 48)), 48);
  v128.store(h, i32x4.sub(v128.load(f, 64), v128.load(g, 64)), 64);
  v128.store(h, i32x4.sub(v128.load(f, 80), v128.load(g, 80)), 80);
  v128.store(h, i32x4.sub(v128.load(f, 96), v128.load(g, 96)), 96);
  v128.store(h, i32x4.sub(v128.load(f, 112), v128.load(g, 112)), 112);
  v128.store(h, i32x4.sub(v128.load(f, 128), v128.load(g, 128)), 128);
  v128.store(h, i32x4.sub(v128.load(f, 144), v128.load(g, 144)), 144);
}

/** h = -f (no carry) */
export function fe4Neg(h: usize, f: usize): void {
  v128.store(h, i32x4.neg(v128.load(f, 0)), 0);
  v128.store(h, i32x4.neg(v128.load(f, 16)), 16);
  v128.store(h, i32x4.neg(v128.load(f, 32)), 32);
  v128.store(h, i32x4.neg(v128.load(f, 48)), 48);
  v128.store(h, i32x4.neg(v128.load(f, 64)), 64);
  v128.store(h, i32x4.neg(v128.load(f, 80)), 80);
  v128.store(h, i32x4.neg(v128.load(f, 96)), 96);
  v128.store(h, i32x4.neg(v128.load(f, 112)), 112);
  v128.store(h, i32x4.neg(v128.load(f, 128)), 128);
  v128.store(h, i32x4.neg(v128.load(f, 144)), 144);
}

/** h = mask ? a : b, per lane (mask lanes all ones or all zeros): RFC 9496 CT_SELECT. */
export function fe4Select(h: usize, a: usize, b: usize, mask: v128): void {
  for (let i: usize = 0; i < FE4; i += 16) {
    v128.store(h + i, v128.bitselect(v128.load(a + i), v128.load(b + i), mask));
  }
}

/** h = mask ? -f : f, per lane: RFC 9496 CT_NEG with a lane mask. */
export function fe4CondNeg(h: usize, f: usize, mask: v128): void {
  for (let i: usize = 0; i < FE4; i += 16) {
    const x = v128.load(f + i);
    v128.store(h + i, v128.bitselect(i32x4.neg(x), x, mask));
  }
}

/**
 * h = f carried (ref10's carry chain in 32-bit lanes): limbs back to about 2^25 / 2^24,
 * so the result may be combined with others again. Valid for limbs below ~2^30.
 */
export function fe4Carry(h: usize, f: usize): void {
  let h0 = v128.load(f, 0), h1 = v128.load(f, 16), h2 = v128.load(f, 32), h3 = v128.load(f, 48);
  let h4 = v128.load(f, 64), h5 = v128.load(f, 80), h6 = v128.load(f, 96), h7 = v128.load(f, 112);
  let h8 = v128.load(f, 128), h9 = v128.load(f, 144);
  const r26 = i32x4.splat(1 << 25), r25 = i32x4.splat(1 << 24);
  let c: v128;
  c = i32x4.shr_s(i32x4.add(h0, r26), 26); h1 = i32x4.add(h1, c); h0 = i32x4.sub(h0, i32x4.shl(c, 26));
  c = i32x4.shr_s(i32x4.add(h1, r25), 25); h2 = i32x4.add(h2, c); h1 = i32x4.sub(h1, i32x4.shl(c, 25));
  c = i32x4.shr_s(i32x4.add(h2, r26), 26); h3 = i32x4.add(h3, c); h2 = i32x4.sub(h2, i32x4.shl(c, 26));
  c = i32x4.shr_s(i32x4.add(h3, r25), 25); h4 = i32x4.add(h4, c); h3 = i32x4.sub(h3, i32x4.shl(c, 25));
  c = i32x4.shr_s(i32x4.add(h4, r26), 26); h5 = i32x4.add(h5, c); h4 = i32x4.sub(h4, i32x4.shl(c, 26));
  c = i32x4.shr_s(i32x4.add(h5, r25), 25); h6 = i32x4.add(h6, c); h5 = i32x4.sub(h5, i32x4.shl(c, 25));
  c = i32x4.shr_s(i32x4.add(h6, r26), 26); h7 = i32x4.add(h7, c); h6 = i32x4.sub(h6, i32x4.shl(c, 26));
  c = i32x4.shr_s(i32x4.add(h7, r25), 25); h8 = i32x4.add(h8, c); h7 = i32x4.sub(h7, i32x4.shl(c, 25));
  c = i32x4.shr_s(i32x4.add(h8, r26), 26); h9 = i32x4.add(h9, c); h8 = i32x4.sub(h8, i32x4.shl(c, 26));
  c = i32x4.shr_s(i32x4.add(h9, r25), 25); h0 = i32x4.add(h0, i32x4.mul(c, i32x4.splat(19))); h9 = i32x4.sub(h9, i32x4.shl(c, 25));
  c = i32x4.shr_s(i32x4.add(h0, r26), 26); h1 = i32x4.add(h1, c); h0 = i32x4.sub(h0, i32x4.shl(c, 26));
  v128.store(h, h0, 0); v128.store(h, h1, 16); v128.store(h, h2, 32); v128.store(h, h3, 48);
  v128.store(h, h4, 64); v128.store(h, h5, 80); v128.store(h, h6, 96); v128.store(h, h7, 112);
  v128.store(h, h8, 128); v128.store(h, h9, 144);
}

/**
 * h = the canonical representative of f (value in [0, p), limbs in [0, 2^26) / [0, 2^25)),
 * as ref10 fe25519_tobytes computes it before packing bytes: carry, find q = floor(f / p)
 * (0 or 1) by propagating the carry of f + 19, subtract q p. The canonical limbs are
 * unique, so equality and IS_NEGATIVE can be read from them without packing bytes.
 */
export function fe4Reduce(h: usize, f: usize): void {
  fe4Carry(h, f);
  let h0 = v128.load(h, 0), h1 = v128.load(h, 16), h2 = v128.load(h, 32), h3 = v128.load(h, 48);
  let h4 = v128.load(h, 64), h5 = v128.load(h, 80), h6 = v128.load(h, 96), h7 = v128.load(h, 112);
  let h8 = v128.load(h, 128), h9 = v128.load(h, 144);
  const k19 = i32x4.splat(19);
  let q = i32x4.shr_s(i32x4.add(i32x4.mul(h9, k19), i32x4.splat(1 << 24)), 25);
  q = i32x4.shr_s(i32x4.add(h0, q), 26);
  q = i32x4.shr_s(i32x4.add(h1, q), 25);
  q = i32x4.shr_s(i32x4.add(h2, q), 26);
  q = i32x4.shr_s(i32x4.add(h3, q), 25);
  q = i32x4.shr_s(i32x4.add(h4, q), 26);
  q = i32x4.shr_s(i32x4.add(h5, q), 25);
  q = i32x4.shr_s(i32x4.add(h6, q), 26);
  q = i32x4.shr_s(i32x4.add(h7, q), 25);
  q = i32x4.shr_s(i32x4.add(h8, q), 26);
  q = i32x4.shr_s(i32x4.add(h9, q), 25);
  h0 = i32x4.add(h0, i32x4.mul(q, k19)); // f - q p, dropping q 2^255 at the top below
  let c: v128;
  c = i32x4.shr_s(h0, 26); h1 = i32x4.add(h1, c); h0 = i32x4.sub(h0, i32x4.shl(c, 26));
  c = i32x4.shr_s(h1, 25); h2 = i32x4.add(h2, c); h1 = i32x4.sub(h1, i32x4.shl(c, 25));
  c = i32x4.shr_s(h2, 26); h3 = i32x4.add(h3, c); h2 = i32x4.sub(h2, i32x4.shl(c, 26));
  c = i32x4.shr_s(h3, 25); h4 = i32x4.add(h4, c); h3 = i32x4.sub(h3, i32x4.shl(c, 25));
  c = i32x4.shr_s(h4, 26); h5 = i32x4.add(h5, c); h4 = i32x4.sub(h4, i32x4.shl(c, 26));
  c = i32x4.shr_s(h5, 25); h6 = i32x4.add(h6, c); h5 = i32x4.sub(h5, i32x4.shl(c, 25));
  c = i32x4.shr_s(h6, 26); h7 = i32x4.add(h7, c); h6 = i32x4.sub(h6, i32x4.shl(c, 26));
  c = i32x4.shr_s(h7, 25); h8 = i32x4.add(h8, c); h7 = i32x4.sub(h7, i32x4.shl(c, 25));
  c = i32x4.shr_s(h8, 26); h9 = i32x4.add(h9, c); h8 = i32x4.sub(h8, i32x4.shl(c, 26));
  h9 = v128.and(h9, M25);
  v128.store(h, h0, 0); v128.store(h, h1, 16); v128.store(h, h2, 32); v128.store(h, h3, 48);
  v128.store(h, h4, 64); v128.store(h, h5, 80); v128.store(h, h6, 96); v128.store(h, h7, 112);
  v128.store(h, h8, 128); v128.store(h, h9, 144);
}

// Static scratch (single-threaded module; nothing here re-enters).
const RED: usize = memory.data(<i32>FE4, 16);
const DIFF: usize = memory.data(<i32>FE4, 16);

/** Lane mask of f == 0 (mod p). */
export function fe4IsZero(f: usize): v128 {
  fe4Reduce(RED, f);
  let acc = v128.load(RED, 0);
  for (let i: usize = 16; i < FE4; i += 16) acc = v128.or(acc, v128.load(RED + i));
  return i32x4.eq(acc, i32x4.splat(0));
}

/** Lane mask of RFC 9496 IS_NEGATIVE(f): the low bit of the canonical encoding. */
export function fe4IsNegative(f: usize): v128 {
  fe4Reduce(RED, f);
  return i32x4.neg(v128.and(v128.load(RED), i32x4.splat(1)));
}

/** Lane mask of RFC 9496 CT_EQ(f, g). */
export function fe4Equal(f: usize, g: usize): v128 {
  fe4Sub(DIFF, f, g);
  return fe4IsZero(DIFF);
}

/** h = RFC 9496 CT_ABS(f) = f or -f, whichever is non-negative; h is canonical. */
export function fe4Abs(h: usize, f: usize): void {
  fe4Reduce(RED, f);
  const neg = i32x4.neg(v128.and(v128.load(RED), i32x4.splat(1)));
  // -RED has limbs in (-2^26, 0]: carried enough for any later use.
  fe4CondNeg(h, RED, neg);
}

// ---------------------------------------------------------------------------------------
// Bytes. Lane k of a batch reads/writes 32 bytes at base + k * stride. Bytes move through
// eight "word" vectors: word j (i32x4) holds bytes 4j..4j+3 of each lane, obtained with
// two 4x4 transposes of 32-bit words (the same shuffles transpose back).

const WORDS: usize = memory.data(128, 16);

/** WORDS[j] lane k = little-endian word j of the 32 bytes at base + k * stride. */
function loadWords(base: usize, stride: usize): void {
  for (let half: usize = 0; half < 32; half += 16) {
    const r0 = v128.load(base + half);
    const r1 = v128.load(base + stride + half);
    const r2 = v128.load(base + 2 * stride + half);
    const r3 = v128.load(base + 3 * stride + half);
    transposeStore(WORDS + (half << 2), r0, r1, r2, r3);
  }
}

/** The inverse of loadWords. */
function storeWords(base: usize, stride: usize): void {
  for (let half: usize = 0; half < 32; half += 16) {
    const w = WORDS + (half << 2);
    const a = i32x4.shuffle(v128.load(w, 0), v128.load(w, 16), 0, 4, 1, 5);
    const b = i32x4.shuffle(v128.load(w, 32), v128.load(w, 48), 0, 4, 1, 5);
    const c = i32x4.shuffle(v128.load(w, 0), v128.load(w, 16), 2, 6, 3, 7);
    const d = i32x4.shuffle(v128.load(w, 32), v128.load(w, 48), 2, 6, 3, 7);
    v128.store(base + half, i32x4.shuffle(a, b, 0, 1, 4, 5));
    v128.store(base + stride + half, i32x4.shuffle(a, b, 2, 3, 6, 7));
    v128.store(base + 2 * stride + half, i32x4.shuffle(c, d, 0, 1, 4, 5));
    v128.store(base + 3 * stride + half, i32x4.shuffle(c, d, 2, 3, 6, 7));
  }
}

/** 4x4 transpose of 32-bit words: out[j] = (r0[j], r1[j], r2[j], r3[j]). */
@inline
function transposeStore(out: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const a = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const b = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const c = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const d = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(out, i32x4.shuffle(a, b, 0, 1, 4, 5), 0);
  v128.store(out, i32x4.shuffle(a, b, 2, 3, 6, 7), 16);
  v128.store(out, i32x4.shuffle(c, d, 0, 1, 4, 5), 32);
  v128.store(out, i32x4.shuffle(c, d, 2, 3, 6, 7), 48);
}

/**
 * h = the 255 low bits of each lane's 32 little-endian bytes (bit 255 ignored, as ref10
 * fe25519_frombytes; a value in [p, 2^255) is accepted as is). Callers that need a
 * canonical encoding check it separately (fe4BytesCanonical).
 */
export function fe4FromBytes(h: usize, base: usize, stride: usize): void {
  loadWords(base, stride);
  const w0 = v128.load(WORDS, 0), w1 = v128.load(WORDS, 16), w2 = v128.load(WORDS, 32), w3 = v128.load(WORDS, 48);
  const w4 = v128.load(WORDS, 64), w5 = v128.load(WORDS, 80), w6 = v128.load(WORDS, 96), w7 = v128.load(WORDS, 112);
  v128.store(h, v128.and(w0, M26), 0); // bits 0..25
  v128.store(h, v128.and(v128.or(i32x4.shr_u(w0, 26), i32x4.shl(w1, 6)), M25), 16); // 26..50
  v128.store(h, v128.and(v128.or(i32x4.shr_u(w1, 19), i32x4.shl(w2, 13)), M26), 32); // 51..76
  v128.store(h, v128.and(v128.or(i32x4.shr_u(w2, 13), i32x4.shl(w3, 19)), M25), 48); // 77..101
  v128.store(h, v128.and(i32x4.shr_u(w3, 6), M26), 64); // 102..127
  v128.store(h, v128.and(w4, M25), 80); // 128..152
  v128.store(h, v128.and(v128.or(i32x4.shr_u(w4, 25), i32x4.shl(w5, 7)), M26), 96); // 153..178
  v128.store(h, v128.and(v128.or(i32x4.shr_u(w5, 19), i32x4.shl(w6, 13)), M25), 112); // 179..203
  v128.store(h, v128.and(v128.or(i32x4.shr_u(w6, 12), i32x4.shl(w7, 20)), M26), 128); // 204..229
  v128.store(h, v128.and(i32x4.shr_u(w7, 6), M25), 144); // 230..254
}

/** WORDS = the packed words of the canonical limbs at t (the inverse of the bit fields above). */
function wordsFromCanonical(t: usize): void {
  const t0 = v128.load(t, 0), t1 = v128.load(t, 16), t2 = v128.load(t, 32), t3 = v128.load(t, 48);
  const t4 = v128.load(t, 64), t5 = v128.load(t, 80), t6 = v128.load(t, 96), t7 = v128.load(t, 112);
  const t8 = v128.load(t, 128), t9 = v128.load(t, 144);
  v128.store(WORDS, v128.or(t0, i32x4.shl(t1, 26)), 0);
  v128.store(WORDS, v128.or(i32x4.shr_u(t1, 6), i32x4.shl(t2, 19)), 16);
  v128.store(WORDS, v128.or(i32x4.shr_u(t2, 13), i32x4.shl(t3, 13)), 32);
  v128.store(WORDS, v128.or(i32x4.shr_u(t3, 19), i32x4.shl(t4, 6)), 48);
  v128.store(WORDS, v128.or(t5, i32x4.shl(t6, 25)), 64);
  v128.store(WORDS, v128.or(i32x4.shr_u(t6, 7), i32x4.shl(t7, 19)), 80);
  v128.store(WORDS, v128.or(i32x4.shr_u(t7, 13), i32x4.shl(t8, 12)), 96);
  v128.store(WORDS, v128.or(i32x4.shr_u(t8, 20), i32x4.shl(t9, 6)), 112);
}

/** Each lane's canonical 32-byte encoding of f, written at base + k * stride (ref10 fe25519_tobytes). */
export function fe4ToBytes(base: usize, stride: usize, f: usize): void {
  fe4Reduce(RED, f);
  wordsFromCanonical(RED);
  storeWords(base, stride);
}

/**
 * Lane mask of "the 32 bytes at base + k * stride are the canonical encoding of a field
 * element" (value < p and bit 255 clear), computed without branches: decode, reduce,
 * re-pack and compare every word with the input (RFC 9496 §4.3.1 step 1).
 */
export function fe4BytesCanonical(base: usize, stride: usize): v128 {
  fe4FromBytes(RED, base, stride);
  fe4Reduce(RED, RED);
  wordsFromCanonical(RED);
  // WORDS now holds the canonical re-encoding; compare with the input words.
  const enc0 = v128.load(WORDS, 0), enc1 = v128.load(WORDS, 16), enc2 = v128.load(WORDS, 32), enc3 = v128.load(WORDS, 48);
  const enc4 = v128.load(WORDS, 64), enc5 = v128.load(WORDS, 80), enc6 = v128.load(WORDS, 96), enc7 = v128.load(WORDS, 112);
  loadWords(base, stride);
  let diff = v128.xor(enc0, v128.load(WORDS, 0));
  diff = v128.or(diff, v128.xor(enc1, v128.load(WORDS, 16)));
  diff = v128.or(diff, v128.xor(enc2, v128.load(WORDS, 32)));
  diff = v128.or(diff, v128.xor(enc3, v128.load(WORDS, 48)));
  diff = v128.or(diff, v128.xor(enc4, v128.load(WORDS, 64)));
  diff = v128.or(diff, v128.xor(enc5, v128.load(WORDS, 80)));
  diff = v128.or(diff, v128.xor(enc6, v128.load(WORDS, 96)));
  diff = v128.or(diff, v128.xor(enc7, v128.load(WORDS, 112)));
  return i32x4.eq(diff, i32x4.splat(0));
}

/** Lane mask of "bit 0 of the first byte at base + k * stride is set" (RFC 9496 §4.3.1 negative s). */
export function bytesLowBitMask(base: usize, stride: usize): v128 {
  let v = i32x4.splat(0);
  v = i32x4.replace_lane(v, 0, <i32>load<u8>(base));
  v = i32x4.replace_lane(v, 1, <i32>load<u8>(base + stride));
  v = i32x4.replace_lane(v, 2, <i32>load<u8>(base + 2 * stride));
  v = i32x4.replace_lane(v, 3, <i32>load<u8>(base + 3 * stride));
  return i32x4.neg(v128.and(v, i32x4.splat(1)));
}

/** Wipes this file's scratch (it held reduced copies of possibly secret values). */
export function fe4WipeScratch(): void {
  memory.fill(RED, 0, FE4);
  memory.fill(DIFF, 0, FE4);
  memory.fill(WORDS, 0, 128);
}
