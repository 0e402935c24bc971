/**
 * Lane-parallel GF(2^255 - 19) multiplication and squaring: ref10/libsodium fe25519_mul,
 * fe25519_sq and fe25519_sq2 (radix 2^25.5) computed for four field elements at once.
 *
 * Lane layout (see fe4.ts): an fe4 is 10 v128 values, v128 number i holding limb i of the
 * four elements (i32x4 lane k = element k). A limb product f_i * g_j of ref10 becomes two
 * instructions: i64x2.extmul_low_i32x4_s gives the 64-bit products of lanes 0 and 1,
 * i64x2.extmul_high_i32x4_s those of lanes 2 and 3. Each output limb h_k is a pair of i64x2
 * accumulators (h<k>l for lanes 0-1, h<k>h for lanes 2-3); the comment above each sum is
 * ref10's (a product f_i g_j lands on h_{i+j mod 10}, times 19 when i + j >= 10, times 2
 * when i and j are both odd). The 32-bit precomputations (19 g_j, 2 f_i, 38 f_i) are
 * ref10's own and fit in int32 for ref10's input bounds (limbs at most ~1.65 * 2^26 /
 * 2^25), so a sum or difference of two carried values is a valid input, as in ref10.
 * The output may alias an input: every operand is loaded before the first store.
 *
 * Carrying: ref10's carries, c = (h + 2^(b-1)) >> b for a limb of b = 26 or 25 bits, with
 * two changes for SIMD. (1) x64 has no 64-bit arithmetic shift before AVX-512 (V8 emulates
 * i64x2.shr_s with six instructions), so a bias keeps the value non-negative and a logical
 * shift does: (h + 2^62 + 2^(b-1)) >>> b = c + 2^(62-b), valid for |h| < 2^62 (ref10's
 * input bounds give |h| < 2^61.4, the doubled squares of fe4Sq2 included). (2) The chain
 * is sequential, h0 -> h1 -> ... -> h9 -> 19 * carry into h0 -> h1, instead of ref10's two
 * interleaved chains, and each limb is carried as soon as its sum is complete: fewer
 * values stay live (x64 has 16 vector registers, the operands alone are 34), and the
 * products give the CPU all the parallelism it needs. The output limbs meet ref10's output
 * bounds (|h_i| <= 2^25 / 2^24, plus a small carry into h1).
 *
 * fe4Mul subtracts the bias right away (carry26 / carry25: c, then h -= c << b,
 * next += c); the squarings keep it in the chain: t_k = h_k + (biased carry of h_{k-1}) +
 * BIAS_k, whose constant also cancels the previous carry's excess, carry = t_k >>> b, and
 * the carried limb (t_k mod 2^b) - 2^(b-1) is taken after narrowing t_k to 32-bit lanes
 * (fewer 64-bit operations). Both forms give the same limbs; each was the faster one for
 * its function in V8 11 (Node 20) on x64, where the register allocation of these long
 * straight-line functions decides much of the speed.
 *
 * Generated once from the ref10 term tables; the generator checked that every squaring
 * sum equals the corresponding product sum, and test/wasm-x4.test.ts checks the results.
 */

/** Products of lanes 0-1 / 2-3 as i64x2. */
@inline function lo(a: v128, b: v128): v128 {
  return i64x2.extmul_low_i32x4_s(a, b);
}
@inline function hi(a: v128, b: v128): v128 {
  return i64x2.extmul_high_i32x4_s(a, b);
}

/** The low 32 bits of each i64 lane of l (lanes 0-1) and h (lanes 2-3) as one i32x4. */
@inline function narrow(l: v128, h: v128): v128 {
  return i32x4.shuffle(l, h, 0, 2, 4, 6);
}

/** 19 c for i64x2 c (16c + 2c + c: i64x2.mul has no x64 instruction before AVX-512). */
@inline function times19(c: v128): v128 {
  return i64x2.add(i64x2.add(i64x2.shl(c, 4), i64x2.shl(c, 1)), c);
}

/** The carried limb from its biased value t (narrowed): (t mod 2^26) - 2^25, resp. 2^25 / 2^24. */
@inline function limb26(t: v128): v128 {
  return i32x4.sub(v128.and(t, i32x4.splat(0x3ffffff)), i32x4.splat(1 << 25));
}
@inline function limb25(t: v128): v128 {
  return i32x4.sub(v128.and(t, i32x4.splat(0x1ffffff)), i32x4.splat(1 << 24));
}

// Bias constants: BIAS_k = 2^62 + 2^(b_k - 1) - (excess of the incoming carry, 2^(62 - b_{k-1})).
// @ts-ignore: decorator
@inline const BIAS0: i64 = 0x4000000002000000; // 2^62 + 2^25
// @ts-ignore: decorator
@inline const BIAS_ODD: i64 = 0x4000000001000000 - (<i64>1 << 36); // 2^62 + 2^24 - 2^36
// @ts-ignore: decorator
@inline const BIAS_EVEN: i64 = 0x4000000002000000 - (<i64>1 << 37); // 2^62 + 2^25 - 2^37

/** ref10's carry for the old-style chains: c = (h + 2^(b-1)) >> b as ((h + 2^62 + 2^(b-1)) >>> b) - 2^(62-b). */
@inline function carry26(h: v128): v128 {
  return i64x2.sub(i64x2.shr_u(i64x2.add(h, i64x2.splat(BIAS0)), 26), i64x2.splat(<i64>1 << 36));
}
@inline function carry25(h: v128): v128 {
  return i64x2.sub(i64x2.shr_u(i64x2.add(h, i64x2.splat(0x4000000001000000)), 25), i64x2.splat(<i64>1 << 37));
}

/** h = f * g, four lanes (ref10 fe25519_mul). */
export function fe4Mul(h: usize, f: usize, g: usize): void {
  const f0 = v128.load(f, 0);
  const f1 = v128.load(f, 16);
  const f2 = v128.load(f, 32);
  const f3 = v128.load(f, 48);
  const f4 = v128.load(f, 64);
  const f5 = v128.load(f, 80);
  const f6 = v128.load(f, 96);
  const f7 = v128.load(f, 112);
  const f8 = v128.load(f, 128);
  const f9 = v128.load(f, 144);
  const g0 = v128.load(g, 0);
  const g1 = v128.load(g, 16);
  const g2 = v128.load(g, 32);
  const g3 = v128.load(g, 48);
  const g4 = v128.load(g, 64);
  const g5 = v128.load(g, 80);
  const g6 = v128.load(g, 96);
  const g7 = v128.load(g, 112);
  const g8 = v128.load(g, 128);
  const g9 = v128.load(g, 144);
  const k19 = i32x4.splat(19);
  const g1_19 = i32x4.mul(g1, k19);
  const g2_19 = i32x4.mul(g2, k19);
  const g3_19 = i32x4.mul(g3, k19);
  const g4_19 = i32x4.mul(g4, k19);
  const g5_19 = i32x4.mul(g5, k19);
  const g6_19 = i32x4.mul(g6, k19);
  const g7_19 = i32x4.mul(g7, k19);
  const g8_19 = i32x4.mul(g8, k19);
  const g9_19 = i32x4.mul(g9, k19);
  const f1_2 = i32x4.shl(f1, 1);
  const f3_2 = i32x4.shl(f3, 1);
  const f5_2 = i32x4.shl(f5, 1);
  const f7_2 = i32x4.shl(f7, 1);
  const f9_2 = i32x4.shl(f9, 1);
  let cl: v128, ch: v128;
  // h0 = f0*g0 + f1*2*g9*19 + f2*g8*19 + f3*2*g7*19 + f4*g6*19 + f5*2*g5*19 + f6*g4*19 + f7*2*g3*19 + f8*g2*19 + f9*2*g1*19
  let h0l = lo(f0, g0), h0h = hi(f0, g0);
  h0l = i64x2.add(h0l, lo(f1_2, g9_19)); h0h = i64x2.add(h0h, hi(f1_2, g9_19));
  h0l = i64x2.add(h0l, lo(f2, g8_19)); h0h = i64x2.add(h0h, hi(f2, g8_19));
  h0l = i64x2.add(h0l, lo(f3_2, g7_19)); h0h = i64x2.add(h0h, hi(f3_2, g7_19));
  h0l = i64x2.add(h0l, lo(f4, g6_19)); h0h = i64x2.add(h0h, hi(f4, g6_19));
  h0l = i64x2.add(h0l, lo(f5_2, g5_19)); h0h = i64x2.add(h0h, hi(f5_2, g5_19));
  h0l = i64x2.add(h0l, lo(f6, g4_19)); h0h = i64x2.add(h0h, hi(f6, g4_19));
  h0l = i64x2.add(h0l, lo(f7_2, g3_19)); h0h = i64x2.add(h0h, hi(f7_2, g3_19));
  h0l = i64x2.add(h0l, lo(f8, g2_19)); h0h = i64x2.add(h0h, hi(f8, g2_19));
  h0l = i64x2.add(h0l, lo(f9_2, g1_19)); h0h = i64x2.add(h0h, hi(f9_2, g1_19));
  // h1 = f0*g1 + f1*g0 + f2*g9*19 + f3*g8*19 + f4*g7*19 + f5*g6*19 + f6*g5*19 + f7*g4*19 + f8*g3*19 + f9*g2*19
  let h1l = lo(f0, g1), h1h = hi(f0, g1);
  h1l = i64x2.add(h1l, lo(f1, g0)); h1h = i64x2.add(h1h, hi(f1, g0));
  h1l = i64x2.add(h1l, lo(f2, g9_19)); h1h = i64x2.add(h1h, hi(f2, g9_19));
  h1l = i64x2.add(h1l, lo(f3, g8_19)); h1h = i64x2.add(h1h, hi(f3, g8_19));
  h1l = i64x2.add(h1l, lo(f4, g7_19)); h1h = i64x2.add(h1h, hi(f4, g7_19));
  h1l = i64x2.add(h1l, lo(f5, g6_19)); h1h = i64x2.add(h1h, hi(f5, g6_19));
  h1l = i64x2.add(h1l, lo(f6, g5_19)); h1h = i64x2.add(h1h, hi(f6, g5_19));
  h1l = i64x2.add(h1l, lo(f7, g4_19)); h1h = i64x2.add(h1h, hi(f7, g4_19));
  h1l = i64x2.add(h1l, lo(f8, g3_19)); h1h = i64x2.add(h1h, hi(f8, g3_19));
  h1l = i64x2.add(h1l, lo(f9, g2_19)); h1h = i64x2.add(h1h, hi(f9, g2_19));
  cl = carry26(h0l); ch = carry26(h0h);
  h0l = i64x2.sub(h0l, i64x2.shl(cl, 26)); h0h = i64x2.sub(h0h, i64x2.shl(ch, 26));
  h1l = i64x2.add(h1l, cl); h1h = i64x2.add(h1h, ch);
  // h2 = f0*g2 + f1*2*g1 + f2*g0 + f3*2*g9*19 + f4*g8*19 + f5*2*g7*19 + f6*g6*19 + f7*2*g5*19 + f8*g4*19 + f9*2*g3*19
  let h2l = lo(f0, g2), h2h = hi(f0, g2);
  h2l = i64x2.add(h2l, lo(f1_2, g1)); h2h = i64x2.add(h2h, hi(f1_2, g1));
  h2l = i64x2.add(h2l, lo(f2, g0)); h2h = i64x2.add(h2h, hi(f2, g0));
  h2l = i64x2.add(h2l, lo(f3_2, g9_19)); h2h = i64x2.add(h2h, hi(f3_2, g9_19));
  h2l = i64x2.add(h2l, lo(f4, g8_19)); h2h = i64x2.add(h2h, hi(f4, g8_19));
  h2l = i64x2.add(h2l, lo(f5_2, g7_19)); h2h = i64x2.add(h2h, hi(f5_2, g7_19));
  h2l = i64x2.add(h2l, lo(f6, g6_19)); h2h = i64x2.add(h2h, hi(f6, g6_19));
  h2l = i64x2.add(h2l, lo(f7_2, g5_19)); h2h = i64x2.add(h2h, hi(f7_2, g5_19));
  h2l = i64x2.add(h2l, lo(f8, g4_19)); h2h = i64x2.add(h2h, hi(f8, g4_19));
  h2l = i64x2.add(h2l, lo(f9_2, g3_19)); h2h = i64x2.add(h2h, hi(f9_2, g3_19));
  cl = carry25(h1l); ch = carry25(h1h);
  h1l = i64x2.sub(h1l, i64x2.shl(cl, 25)); h1h = i64x2.sub(h1h, i64x2.shl(ch, 25));
  h2l = i64x2.add(h2l, cl); h2h = i64x2.add(h2h, ch);
  // h3 = f0*g3 + f1*g2 + f2*g1 + f3*g0 + f4*g9*19 + f5*g8*19 + f6*g7*19 + f7*g6*19 + f8*g5*19 + f9*g4*19
  let h3l = lo(f0, g3), h3h = hi(f0, g3);
  h3l = i64x2.add(h3l, lo(f1, g2)); h3h = i64x2.add(h3h, hi(f1, g2));
  h3l = i64x2.add(h3l, lo(f2, g1)); h3h = i64x2.add(h3h, hi(f2, g1));
  h3l = i64x2.add(h3l, lo(f3, g0)); h3h = i64x2.add(h3h, hi(f3, g0));
  h3l = i64x2.add(h3l, lo(f4, g9_19)); h3h = i64x2.add(h3h, hi(f4, g9_19));
  h3l = i64x2.add(h3l, lo(f5, g8_19)); h3h = i64x2.add(h3h, hi(f5, g8_19));
  h3l = i64x2.add(h3l, lo(f6, g7_19)); h3h = i64x2.add(h3h, hi(f6, g7_19));
  h3l = i64x2.add(h3l, lo(f7, g6_19)); h3h = i64x2.add(h3h, hi(f7, g6_19));
  h3l = i64x2.add(h3l, lo(f8, g5_19)); h3h = i64x2.add(h3h, hi(f8, g5_19));
  h3l = i64x2.add(h3l, lo(f9, g4_19)); h3h = i64x2.add(h3h, hi(f9, g4_19));
  cl = carry26(h2l); ch = carry26(h2h);
  h2l = i64x2.sub(h2l, i64x2.shl(cl, 26)); h2h = i64x2.sub(h2h, i64x2.shl(ch, 26));
  h3l = i64x2.add(h3l, cl); h3h = i64x2.add(h3h, ch);
  v128.store(h, narrow(h2l, h2h), 32);
  // h4 = f0*g4 + f1*2*g3 + f2*g2 + f3*2*g1 + f4*g0 + f5*2*g9*19 + f6*g8*19 + f7*2*g7*19 + f8*g6*19 + f9*2*g5*19
  let h4l = lo(f0, g4), h4h = hi(f0, g4);
  h4l = i64x2.add(h4l, lo(f1_2, g3)); h4h = i64x2.add(h4h, hi(f1_2, g3));
  h4l = i64x2.add(h4l, lo(f2, g2)); h4h = i64x2.add(h4h, hi(f2, g2));
  h4l = i64x2.add(h4l, lo(f3_2, g1)); h4h = i64x2.add(h4h, hi(f3_2, g1));
  h4l = i64x2.add(h4l, lo(f4, g0)); h4h = i64x2.add(h4h, hi(f4, g0));
  h4l = i64x2.add(h4l, lo(f5_2, g9_19)); h4h = i64x2.add(h4h, hi(f5_2, g9_19));
  h4l = i64x2.add(h4l, lo(f6, g8_19)); h4h = i64x2.add(h4h, hi(f6, g8_19));
  h4l = i64x2.add(h4l, lo(f7_2, g7_19)); h4h = i64x2.add(h4h, hi(f7_2, g7_19));
  h4l = i64x2.add(h4l, lo(f8, g6_19)); h4h = i64x2.add(h4h, hi(f8, g6_19));
  h4l = i64x2.add(h4l, lo(f9_2, g5_19)); h4h = i64x2.add(h4h, hi(f9_2, g5_19));
  cl = carry25(h3l); ch = carry25(h3h);
  h3l = i64x2.sub(h3l, i64x2.shl(cl, 25)); h3h = i64x2.sub(h3h, i64x2.shl(ch, 25));
  h4l = i64x2.add(h4l, cl); h4h = i64x2.add(h4h, ch);
  v128.store(h, narrow(h3l, h3h), 48);
  // h5 = f0*g5 + f1*g4 + f2*g3 + f3*g2 + f4*g1 + f5*g0 + f6*g9*19 + f7*g8*19 + f8*g7*19 + f9*g6*19
  let h5l = lo(f0, g5), h5h = hi(f0, g5);
  h5l = i64x2.add(h5l, lo(f1, g4)); h5h = i64x2.add(h5h, hi(f1, g4));
  h5l = i64x2.add(h5l, lo(f2, g3)); h5h = i64x2.add(h5h, hi(f2, g3));
  h5l = i64x2.add(h5l, lo(f3, g2)); h5h = i64x2.add(h5h, hi(f3, g2));
  h5l = i64x2.add(h5l, lo(f4, g1)); h5h = i64x2.add(h5h, hi(f4, g1));
  h5l = i64x2.add(h5l, lo(f5, g0)); h5h = i64x2.add(h5h, hi(f5, g0));
  h5l = i64x2.add(h5l, lo(f6, g9_19)); h5h = i64x2.add(h5h, hi(f6, g9_19));
  h5l = i64x2.add(h5l, lo(f7, g8_19)); h5h = i64x2.add(h5h, hi(f7, g8_19));
  h5l = i64x2.add(h5l, lo(f8, g7_19)); h5h = i64x2.add(h5h, hi(f8, g7_19));
  h5l = i64x2.add(h5l, lo(f9, g6_19)); h5h = i64x2.add(h5h, hi(f9, g6_19));
  cl = carry26(h4l); ch = carry26(h4h);
  h4l = i64x2.sub(h4l, i64x2.shl(cl, 26)); h4h = i64x2.sub(h4h, i64x2.shl(ch, 26));
  h5l = i64x2.add(h5l, cl); h5h = i64x2.add(h5h, ch);
  v128.store(h, narrow(h4l, h4h), 64);
  // h6 = f0*g6 + f1*2*g5 + f2*g4 + f3*2*g3 + f4*g2 + f5*2*g1 + f6*g0 + f7*2*g9*19 + f8*g8*19 + f9*2*g7*19
  let h6l = lo(f0, g6), h6h = hi(f0, g6);
  h6l = i64x2.add(h6l, lo(f1_2, g5)); h6h = i64x2.add(h6h, hi(f1_2, g5));
  h6l = i64x2.add(h6l, lo(f2, g4)); h6h = i64x2.add(h6h, hi(f2, g4));
  h6l = i64x2.add(h6l, lo(f3_2, g3)); h6h = i64x2.add(h6h, hi(f3_2, g3));
  h6l = i64x2.add(h6l, lo(f4, g2)); h6h = i64x2.add(h6h, hi(f4, g2));
  h6l = i64x2.add(h6l, lo(f5_2, g1)); h6h = i64x2.add(h6h, hi(f5_2, g1));
  h6l = i64x2.add(h6l, lo(f6, g0)); h6h = i64x2.add(h6h, hi(f6, g0));
  h6l = i64x2.add(h6l, lo(f7_2, g9_19)); h6h = i64x2.add(h6h, hi(f7_2, g9_19));
  h6l = i64x2.add(h6l, lo(f8, g8_19)); h6h = i64x2.add(h6h, hi(f8, g8_19));
  h6l = i64x2.add(h6l, lo(f9_2, g7_19)); h6h = i64x2.add(h6h, hi(f9_2, g7_19));
  cl = carry25(h5l); ch = carry25(h5h);
  h5l = i64x2.sub(h5l, i64x2.shl(cl, 25)); h5h = i64x2.sub(h5h, i64x2.shl(ch, 25));
  h6l = i64x2.add(h6l, cl); h6h = i64x2.add(h6h, ch);
  v128.store(h, narrow(h5l, h5h), 80);
  // h7 = f0*g7 + f1*g6 + f2*g5 + f3*g4 + f4*g3 + f5*g2 + f6*g1 + f7*g0 + f8*g9*19 + f9*g8*19
  let h7l = lo(f0, g7), h7h = hi(f0, g7);
  h7l = i64x2.add(h7l, lo(f1, g6)); h7h = i64x2.add(h7h, hi(f1, g6));
  h7l = i64x2.add(h7l, lo(f2, g5)); h7h = i64x2.add(h7h, hi(f2, g5));
  h7l = i64x2.add(h7l, lo(f3, g4)); h7h = i64x2.add(h7h, hi(f3, g4));
  h7l = i64x2.add(h7l, lo(f4, g3)); h7h = i64x2.add(h7h, hi(f4, g3));
  h7l = i64x2.add(h7l, lo(f5, g2)); h7h = i64x2.add(h7h, hi(f5, g2));
  h7l = i64x2.add(h7l, lo(f6, g1)); h7h = i64x2.add(h7h, hi(f6, g1));
  h7l = i64x2.add(h7l, lo(f7, g0)); h7h = i64x2.add(h7h, hi(f7, g0));
  h7l = i64x2.add(h7l, lo(f8, g9_19)); h7h = i64x2.add(h7h, hi(f8, g9_19));
  h7l = i64x2.add(h7l, lo(f9, g8_19)); h7h = i64x2.add(h7h, hi(f9, g8_19));
  cl = carry26(h6l); ch = carry26(h6h);
  h6l = i64x2.sub(h6l, i64x2.shl(cl, 26)); h6h = i64x2.sub(h6h, i64x2.shl(ch, 26));
  h7l = i64x2.add(h7l, cl); h7h = i64x2.add(h7h, ch);
  v128.store(h, narrow(h6l, h6h), 96);
  // h8 = f0*g8 + f1*2*g7 + f2*g6 + f3*2*g5 + f4*g4 + f5*2*g3 + f6*g2 + f7*2*g1 + f8*g0 + f9*2*g9*19
  let h8l = lo(f0, g8), h8h = hi(f0, g8);
  h8l = i64x2.add(h8l, lo(f1_2, g7)); h8h = i64x2.add(h8h, hi(f1_2, g7));
  h8l = i64x2.add(h8l, lo(f2, g6)); h8h = i64x2.add(h8h, hi(f2, g6));
  h8l = i64x2.add(h8l, lo(f3_2, g5)); h8h = i64x2.add(h8h, hi(f3_2, g5));
  h8l = i64x2.add(h8l, lo(f4, g4)); h8h = i64x2.add(h8h, hi(f4, g4));
  h8l = i64x2.add(h8l, lo(f5_2, g3)); h8h = i64x2.add(h8h, hi(f5_2, g3));
  h8l = i64x2.add(h8l, lo(f6, g2)); h8h = i64x2.add(h8h, hi(f6, g2));
  h8l = i64x2.add(h8l, lo(f7_2, g1)); h8h = i64x2.add(h8h, hi(f7_2, g1));
  h8l = i64x2.add(h8l, lo(f8, g0)); h8h = i64x2.add(h8h, hi(f8, g0));
  h8l = i64x2.add(h8l, lo(f9_2, g9_19)); h8h = i64x2.add(h8h, hi(f9_2, g9_19));
  cl = carry25(h7l); ch = carry25(h7h);
  h7l = i64x2.sub(h7l, i64x2.shl(cl, 25)); h7h = i64x2.sub(h7h, i64x2.shl(ch, 25));
  h8l = i64x2.add(h8l, cl); h8h = i64x2.add(h8h, ch);
  v128.store(h, narrow(h7l, h7h), 112);
  // h9 = f0*g9 + f1*g8 + f2*g7 + f3*g6 + f4*g5 + f5*g4 + f6*g3 + f7*g2 + f8*g1 + f9*g0
  let h9l = lo(f0, g9), h9h = hi(f0, g9);
  h9l = i64x2.add(h9l, lo(f1, g8)); h9h = i64x2.add(h9h, hi(f1, g8));
  h9l = i64x2.add(h9l, lo(f2, g7)); h9h = i64x2.add(h9h, hi(f2, g7));
  h9l = i64x2.add(h9l, lo(f3, g6)); h9h = i64x2.add(h9h, hi(f3, g6));
  h9l = i64x2.add(h9l, lo(f4, g5)); h9h = i64x2.add(h9h, hi(f4, g5));
  h9l = i64x2.add(h9l, lo(f5, g4)); h9h = i64x2.add(h9h, hi(f5, g4));
  h9l = i64x2.add(h9l, lo(f6, g3)); h9h = i64x2.add(h9h, hi(f6, g3));
  h9l = i64x2.add(h9l, lo(f7, g2)); h9h = i64x2.add(h9h, hi(f7, g2));
  h9l = i64x2.add(h9l, lo(f8, g1)); h9h = i64x2.add(h9h, hi(f8, g1));
  h9l = i64x2.add(h9l, lo(f9, g0)); h9h = i64x2.add(h9h, hi(f9, g0));
  cl = carry26(h8l); ch = carry26(h8h);
  h8l = i64x2.sub(h8l, i64x2.shl(cl, 26)); h8h = i64x2.sub(h8h, i64x2.shl(ch, 26));
  h9l = i64x2.add(h9l, cl); h9h = i64x2.add(h9h, ch);
  v128.store(h, narrow(h8l, h8h), 128);
  cl = carry25(h9l); ch = carry25(h9h);
  h9l = i64x2.sub(h9l, i64x2.shl(cl, 25)); h9h = i64x2.sub(h9h, i64x2.shl(ch, 25));
  h0l = i64x2.add(h0l, times19(cl)); h0h = i64x2.add(h0h, times19(ch));
  v128.store(h, narrow(h9l, h9h), 144);
  cl = carry26(h0l); ch = carry26(h0h);
  h0l = i64x2.sub(h0l, i64x2.shl(cl, 26)); h0h = i64x2.sub(h0h, i64x2.shl(ch, 26));
  h1l = i64x2.add(h1l, cl); h1h = i64x2.add(h1h, ch);
  v128.store(h, narrow(h0l, h0h), 0);
  v128.store(h, narrow(h1l, h1h), 16);
}

/** h = f^2, four lanes (ref10 fe25519_sq: 55 limb products instead of 100). */
export function fe4Sq(h: usize, f: usize): void {
  const f0 = v128.load(f, 0);
  const f1 = v128.load(f, 16);
  const f2 = v128.load(f, 32);
  const f3 = v128.load(f, 48);
  const f4 = v128.load(f, 64);
  const f5 = v128.load(f, 80);
  const f6 = v128.load(f, 96);
  const f7 = v128.load(f, 112);
  const f8 = v128.load(f, 128);
  const f9 = v128.load(f, 144);
  const f0_2 = i32x4.shl(f0, 1);
  const f1_2 = i32x4.shl(f1, 1);
  const f2_2 = i32x4.shl(f2, 1);
  const f3_2 = i32x4.shl(f3, 1);
  const f4_2 = i32x4.shl(f4, 1);
  const f5_2 = i32x4.shl(f5, 1);
  const f6_2 = i32x4.shl(f6, 1);
  const f7_2 = i32x4.shl(f7, 1);
  const k19 = i32x4.splat(19);
  const k38 = i32x4.splat(38);
  // ref10: odd limbs times 38, even limbs times 19 (each below ~1.96 * 2^30 in int32).
  const f5_38 = i32x4.mul(f5, k38);
  const f7_38 = i32x4.mul(f7, k38);
  const f9_38 = i32x4.mul(f9, k38);
  const f6_19 = i32x4.mul(f6, k19);
  const f8_19 = i32x4.mul(f8, k19);
  // h0 = f0*f0 + f1*2*f9*38 + f2*2*f8*19 + f3*2*f7*38 + f4*2*f6*19 + f5*f5*38
  let h0l = lo(f0, f0), h0h = hi(f0, f0);
  h0l = i64x2.add(h0l, lo(f1_2, f9_38)); h0h = i64x2.add(h0h, hi(f1_2, f9_38));
  h0l = i64x2.add(h0l, lo(f2_2, f8_19)); h0h = i64x2.add(h0h, hi(f2_2, f8_19));
  h0l = i64x2.add(h0l, lo(f3_2, f7_38)); h0h = i64x2.add(h0h, hi(f3_2, f7_38));
  h0l = i64x2.add(h0l, lo(f4_2, f6_19)); h0h = i64x2.add(h0h, hi(f4_2, f6_19));
  h0l = i64x2.add(h0l, lo(f5, f5_38)); h0h = i64x2.add(h0h, hi(f5, f5_38));
  // h1 = f0*2*f1 + f2*f9*38 + f3*2*f8*19 + f4*f7*38 + f5*2*f6*19
  let h1l = lo(f0_2, f1), h1h = hi(f0_2, f1);
  h1l = i64x2.add(h1l, lo(f2, f9_38)); h1h = i64x2.add(h1h, hi(f2, f9_38));
  h1l = i64x2.add(h1l, lo(f3_2, f8_19)); h1h = i64x2.add(h1h, hi(f3_2, f8_19));
  h1l = i64x2.add(h1l, lo(f4, f7_38)); h1h = i64x2.add(h1h, hi(f4, f7_38));
  h1l = i64x2.add(h1l, lo(f5_2, f6_19)); h1h = i64x2.add(h1h, hi(f5_2, f6_19));
  const t0l = i64x2.add(h0l, i64x2.splat(BIAS0)), t0h = i64x2.add(h0h, i64x2.splat(BIAS0));
  const c0l = i64x2.shr_u(t0l, 26), c0h = i64x2.shr_u(t0h, 26);
  // h2 = f0*2*f2 + f1*2*f1 + f3*2*f9*38 + f4*2*f8*19 + f5*2*f7*38 + f6*f6*19
  let h2l = lo(f0_2, f2), h2h = hi(f0_2, f2);
  h2l = i64x2.add(h2l, lo(f1_2, f1)); h2h = i64x2.add(h2h, hi(f1_2, f1));
  h2l = i64x2.add(h2l, lo(f3_2, f9_38)); h2h = i64x2.add(h2h, hi(f3_2, f9_38));
  h2l = i64x2.add(h2l, lo(f4_2, f8_19)); h2h = i64x2.add(h2h, hi(f4_2, f8_19));
  h2l = i64x2.add(h2l, lo(f5_2, f7_38)); h2h = i64x2.add(h2h, hi(f5_2, f7_38));
  h2l = i64x2.add(h2l, lo(f6, f6_19)); h2h = i64x2.add(h2h, hi(f6, f6_19));
  const t1l = i64x2.add(i64x2.add(h1l, c0l), i64x2.splat(BIAS_ODD)), t1h = i64x2.add(i64x2.add(h1h, c0h), i64x2.splat(BIAS_ODD));
  const c1l = i64x2.shr_u(t1l, 25), c1h = i64x2.shr_u(t1h, 25);
  // h3 = f0*2*f3 + f1*2*f2 + f4*f9*38 + f5*2*f8*19 + f6*f7*38
  let h3l = lo(f0_2, f3), h3h = hi(f0_2, f3);
  h3l = i64x2.add(h3l, lo(f1_2, f2)); h3h = i64x2.add(h3h, hi(f1_2, f2));
  h3l = i64x2.add(h3l, lo(f4, f9_38)); h3h = i64x2.add(h3h, hi(f4, f9_38));
  h3l = i64x2.add(h3l, lo(f5_2, f8_19)); h3h = i64x2.add(h3h, hi(f5_2, f8_19));
  h3l = i64x2.add(h3l, lo(f6, f7_38)); h3h = i64x2.add(h3h, hi(f6, f7_38));
  const t2l = i64x2.add(i64x2.add(h2l, c1l), i64x2.splat(BIAS_EVEN)), t2h = i64x2.add(i64x2.add(h2h, c1h), i64x2.splat(BIAS_EVEN));
  const c2l = i64x2.shr_u(t2l, 26), c2h = i64x2.shr_u(t2h, 26);
  v128.store(h, limb26(narrow(t2l, t2h)), 32);
  // h4 = f0*2*f4 + f1*2*f3*2 + f2*f2 + f5*2*f9*38 + f6*2*f8*19 + f7*f7*38
  let h4l = lo(f0_2, f4), h4h = hi(f0_2, f4);
  h4l = i64x2.add(h4l, lo(f1_2, f3_2)); h4h = i64x2.add(h4h, hi(f1_2, f3_2));
  h4l = i64x2.add(h4l, lo(f2, f2)); h4h = i64x2.add(h4h, hi(f2, f2));
  h4l = i64x2.add(h4l, lo(f5_2, f9_38)); h4h = i64x2.add(h4h, hi(f5_2, f9_38));
  h4l = i64x2.add(h4l, lo(f6_2, f8_19)); h4h = i64x2.add(h4h, hi(f6_2, f8_19));
  h4l = i64x2.add(h4l, lo(f7, f7_38)); h4h = i64x2.add(h4h, hi(f7, f7_38));
  const t3l = i64x2.add(i64x2.add(h3l, c2l), i64x2.splat(BIAS_ODD)), t3h = i64x2.add(i64x2.add(h3h, c2h), i64x2.splat(BIAS_ODD));
  const c3l = i64x2.shr_u(t3l, 25), c3h = i64x2.shr_u(t3h, 25);
  v128.store(h, limb25(narrow(t3l, t3h)), 48);
  // h5 = f0*2*f5 + f1*2*f4 + f2*2*f3 + f6*f9*38 + f7*2*f8*19
  let h5l = lo(f0_2, f5), h5h = hi(f0_2, f5);
  h5l = i64x2.add(h5l, lo(f1_2, f4)); h5h = i64x2.add(h5h, hi(f1_2, f4));
  h5l = i64x2.add(h5l, lo(f2_2, f3)); h5h = i64x2.add(h5h, hi(f2_2, f3));
  h5l = i64x2.add(h5l, lo(f6, f9_38)); h5h = i64x2.add(h5h, hi(f6, f9_38));
  h5l = i64x2.add(h5l, lo(f7_2, f8_19)); h5h = i64x2.add(h5h, hi(f7_2, f8_19));
  const t4l = i64x2.add(i64x2.add(h4l, c3l), i64x2.splat(BIAS_EVEN)), t4h = i64x2.add(i64x2.add(h4h, c3h), i64x2.splat(BIAS_EVEN));
  const c4l = i64x2.shr_u(t4l, 26), c4h = i64x2.shr_u(t4h, 26);
  v128.store(h, limb26(narrow(t4l, t4h)), 64);
  // h6 = f0*2*f6 + f1*2*f5*2 + f2*2*f4 + f3*2*f3 + f7*2*f9*38 + f8*f8*19
  let h6l = lo(f0_2, f6), h6h = hi(f0_2, f6);
  h6l = i64x2.add(h6l, lo(f1_2, f5_2)); h6h = i64x2.add(h6h, hi(f1_2, f5_2));
  h6l = i64x2.add(h6l, lo(f2_2, f4)); h6h = i64x2.add(h6h, hi(f2_2, f4));
  h6l = i64x2.add(h6l, lo(f3_2, f3)); h6h = i64x2.add(h6h, hi(f3_2, f3));
  h6l = i64x2.add(h6l, lo(f7_2, f9_38)); h6h = i64x2.add(h6h, hi(f7_2, f9_38));
  h6l = i64x2.add(h6l, lo(f8, f8_19)); h6h = i64x2.add(h6h, hi(f8, f8_19));
  const t5l = i64x2.add(i64x2.add(h5l, c4l), i64x2.splat(BIAS_ODD)), t5h = i64x2.add(i64x2.add(h5h, c4h), i64x2.splat(BIAS_ODD));
  const c5l = i64x2.shr_u(t5l, 25), c5h = i64x2.shr_u(t5h, 25);
  v128.store(h, limb25(narrow(t5l, t5h)), 80);
  // h7 = f0*2*f7 + f1*2*f6 + f2*2*f5 + f3*2*f4 + f8*f9*38
  let h7l = lo(f0_2, f7), h7h = hi(f0_2, f7);
  h7l = i64x2.add(h7l, lo(f1_2, f6)); h7h = i64x2.add(h7h, hi(f1_2, f6));
  h7l = i64x2.add(h7l, lo(f2_2, f5)); h7h = i64x2.add(h7h, hi(f2_2, f5));
  h7l = i64x2.add(h7l, lo(f3_2, f4)); h7h = i64x2.add(h7h, hi(f3_2, f4));
  h7l = i64x2.add(h7l, lo(f8, f9_38)); h7h = i64x2.add(h7h, hi(f8, f9_38));
  const t6l = i64x2.add(i64x2.add(h6l, c5l), i64x2.splat(BIAS_EVEN)), t6h = i64x2.add(i64x2.add(h6h, c5h), i64x2.splat(BIAS_EVEN));
  const c6l = i64x2.shr_u(t6l, 26), c6h = i64x2.shr_u(t6h, 26);
  v128.store(h, limb26(narrow(t6l, t6h)), 96);
  // h8 = f0*2*f8 + f1*2*f7*2 + f2*2*f6 + f3*2*f5*2 + f4*f4 + f9*f9*38
  let h8l = lo(f0_2, f8), h8h = hi(f0_2, f8);
  h8l = i64x2.add(h8l, lo(f1_2, f7_2)); h8h = i64x2.add(h8h, hi(f1_2, f7_2));
  h8l = i64x2.add(h8l, lo(f2_2, f6)); h8h = i64x2.add(h8h, hi(f2_2, f6));
  h8l = i64x2.add(h8l, lo(f3_2, f5_2)); h8h = i64x2.add(h8h, hi(f3_2, f5_2));
  h8l = i64x2.add(h8l, lo(f4, f4)); h8h = i64x2.add(h8h, hi(f4, f4));
  h8l = i64x2.add(h8l, lo(f9, f9_38)); h8h = i64x2.add(h8h, hi(f9, f9_38));
  const t7l = i64x2.add(i64x2.add(h7l, c6l), i64x2.splat(BIAS_ODD)), t7h = i64x2.add(i64x2.add(h7h, c6h), i64x2.splat(BIAS_ODD));
  const c7l = i64x2.shr_u(t7l, 25), c7h = i64x2.shr_u(t7h, 25);
  v128.store(h, limb25(narrow(t7l, t7h)), 112);
  // h9 = f0*2*f9 + f1*2*f8 + f2*2*f7 + f3*2*f6 + f4*2*f5
  let h9l = lo(f0_2, f9), h9h = hi(f0_2, f9);
  h9l = i64x2.add(h9l, lo(f1_2, f8)); h9h = i64x2.add(h9h, hi(f1_2, f8));
  h9l = i64x2.add(h9l, lo(f2_2, f7)); h9h = i64x2.add(h9h, hi(f2_2, f7));
  h9l = i64x2.add(h9l, lo(f3_2, f6)); h9h = i64x2.add(h9h, hi(f3_2, f6));
  h9l = i64x2.add(h9l, lo(f4_2, f5)); h9h = i64x2.add(h9h, hi(f4_2, f5));
  const t8l = i64x2.add(i64x2.add(h8l, c7l), i64x2.splat(BIAS_EVEN)), t8h = i64x2.add(i64x2.add(h8h, c7h), i64x2.splat(BIAS_EVEN));
  const c8l = i64x2.shr_u(t8l, 26), c8h = i64x2.shr_u(t8h, 26);
  v128.store(h, limb26(narrow(t8l, t8h)), 128);
  const t9l = i64x2.add(i64x2.add(h9l, c8l), i64x2.splat(BIAS_ODD)), t9h = i64x2.add(i64x2.add(h9h, c8h), i64x2.splat(BIAS_ODD));
  const c9l = i64x2.shr_u(t9l, 25), c9h = i64x2.shr_u(t9h, 25);
  v128.store(h, limb25(narrow(t9l, t9h)), 144);
  // h9's carry wraps into h0 times 19 (2^255 = 19 mod p); h0 then carries into h1 once more.
  // c9 carries an excess of 2^37, so h0 = (t0 mod 2^26) - 2^25 + 19 c9 - 19 * 2^37.
  const fix0 = i64x2.splat((<i64>1 << 25) + 19 * (<i64>1 << 37));
  const m26 = i64x2.splat(0x3ffffff), m25 = i64x2.splat(0x1ffffff);
  const u0l = i64x2.add(i64x2.sub(v128.and(t0l, m26), fix0), times19(c9l));
  const u0h = i64x2.add(i64x2.sub(v128.and(t0h, m26), fix0), times19(c9h));
  const s0l = i64x2.add(u0l, i64x2.splat(BIAS0)), s0h = i64x2.add(u0h, i64x2.splat(BIAS0));
  // h1 = (t1 mod 2^25) - 2^24 + (s0 >>> 26) - 2^36: small enough to narrow as is.
  const fix1 = i64x2.splat((<i64>1 << 24) + (<i64>1 << 36));
  const u1l = i64x2.sub(i64x2.add(v128.and(t1l, m25), i64x2.shr_u(s0l, 26)), fix1);
  const u1h = i64x2.sub(i64x2.add(v128.and(t1h, m25), i64x2.shr_u(s0h, 26)), fix1);
  v128.store(h, limb26(narrow(s0l, s0h)), 0);
  v128.store(h, narrow(u1l, u1h), 16);
}

/** h = 2 f^2, four lanes (ref10 fe25519_sq2, used by point doubling). */
export function fe4Sq2(h: usize, f: usize): void {
  const f0 = v128.load(f, 0);
  const f1 = v128.load(f, 16);
  const f2 = v128.load(f, 32);
  const f3 = v128.load(f, 48);
  const f4 = v128.load(f, 64);
  const f5 = v128.load(f, 80);
  const f6 = v128.load(f, 96);
  const f7 = v128.load(f, 112);
  const f8 = v128.load(f, 128);
  const f9 = v128.load(f, 144);
  const f0_2 = i32x4.shl(f0, 1);
  const f1_2 = i32x4.shl(f1, 1);
  const f2_2 = i32x4.shl(f2, 1);
  const f3_2 = i32x4.shl(f3, 1);
  const f4_2 = i32x4.shl(f4, 1);
  const f5_2 = i32x4.shl(f5, 1);
  const f6_2 = i32x4.shl(f6, 1);
  const f7_2 = i32x4.shl(f7, 1);
  const k19 = i32x4.splat(19);
  const k38 = i32x4.splat(38);
  // ref10: odd limbs times 38, even limbs times 19 (each below ~1.96 * 2^30 in int32).
  const f5_38 = i32x4.mul(f5, k38);
  const f7_38 = i32x4.mul(f7, k38);
  const f9_38 = i32x4.mul(f9, k38);
  const f6_19 = i32x4.mul(f6, k19);
  const f8_19 = i32x4.mul(f8, k19);
  // h0 = f0*f0 + f1*2*f9*38 + f2*2*f8*19 + f3*2*f7*38 + f4*2*f6*19 + f5*f5*38
  let h0l = lo(f0, f0), h0h = hi(f0, f0);
  h0l = i64x2.add(h0l, lo(f1_2, f9_38)); h0h = i64x2.add(h0h, hi(f1_2, f9_38));
  h0l = i64x2.add(h0l, lo(f2_2, f8_19)); h0h = i64x2.add(h0h, hi(f2_2, f8_19));
  h0l = i64x2.add(h0l, lo(f3_2, f7_38)); h0h = i64x2.add(h0h, hi(f3_2, f7_38));
  h0l = i64x2.add(h0l, lo(f4_2, f6_19)); h0h = i64x2.add(h0h, hi(f4_2, f6_19));
  h0l = i64x2.add(h0l, lo(f5, f5_38)); h0h = i64x2.add(h0h, hi(f5, f5_38));
  h0l = i64x2.shl(h0l, 1); h0h = i64x2.shl(h0h, 1); // sq2: 2 f^2
  // h1 = f0*2*f1 + f2*f9*38 + f3*2*f8*19 + f4*f7*38 + f5*2*f6*19
  let h1l = lo(f0_2, f1), h1h = hi(f0_2, f1);
  h1l = i64x2.add(h1l, lo(f2, f9_38)); h1h = i64x2.add(h1h, hi(f2, f9_38));
  h1l = i64x2.add(h1l, lo(f3_2, f8_19)); h1h = i64x2.add(h1h, hi(f3_2, f8_19));
  h1l = i64x2.add(h1l, lo(f4, f7_38)); h1h = i64x2.add(h1h, hi(f4, f7_38));
  h1l = i64x2.add(h1l, lo(f5_2, f6_19)); h1h = i64x2.add(h1h, hi(f5_2, f6_19));
  h1l = i64x2.shl(h1l, 1); h1h = i64x2.shl(h1h, 1); // sq2: 2 f^2
  const t0l = i64x2.add(h0l, i64x2.splat(BIAS0)), t0h = i64x2.add(h0h, i64x2.splat(BIAS0));
  const c0l = i64x2.shr_u(t0l, 26), c0h = i64x2.shr_u(t0h, 26);
  // h2 = f0*2*f2 + f1*2*f1 + f3*2*f9*38 + f4*2*f8*19 + f5*2*f7*38 + f6*f6*19
  let h2l = lo(f0_2, f2), h2h = hi(f0_2, f2);
  h2l = i64x2.add(h2l, lo(f1_2, f1)); h2h = i64x2.add(h2h, hi(f1_2, f1));
  h2l = i64x2.add(h2l, lo(f3_2, f9_38)); h2h = i64x2.add(h2h, hi(f3_2, f9_38));
  h2l = i64x2.add(h2l, lo(f4_2, f8_19)); h2h = i64x2.add(h2h, hi(f4_2, f8_19));
  h2l = i64x2.add(h2l, lo(f5_2, f7_38)); h2h = i64x2.add(h2h, hi(f5_2, f7_38));
  h2l = i64x2.add(h2l, lo(f6, f6_19)); h2h = i64x2.add(h2h, hi(f6, f6_19));
  h2l = i64x2.shl(h2l, 1); h2h = i64x2.shl(h2h, 1); // sq2: 2 f^2
  const t1l = i64x2.add(i64x2.add(h1l, c0l), i64x2.splat(BIAS_ODD)), t1h = i64x2.add(i64x2.add(h1h, c0h), i64x2.splat(BIAS_ODD));
  const c1l = i64x2.shr_u(t1l, 25), c1h = i64x2.shr_u(t1h, 25);
  // h3 = f0*2*f3 + f1*2*f2 + f4*f9*38 + f5*2*f8*19 + f6*f7*38
  let h3l = lo(f0_2, f3), h3h = hi(f0_2, f3);
  h3l = i64x2.add(h3l, lo(f1_2, f2)); h3h = i64x2.add(h3h, hi(f1_2, f2));
  h3l = i64x2.add(h3l, lo(f4, f9_38)); h3h = i64x2.add(h3h, hi(f4, f9_38));
  h3l = i64x2.add(h3l, lo(f5_2, f8_19)); h3h = i64x2.add(h3h, hi(f5_2, f8_19));
  h3l = i64x2.add(h3l, lo(f6, f7_38)); h3h = i64x2.add(h3h, hi(f6, f7_38));
  h3l = i64x2.shl(h3l, 1); h3h = i64x2.shl(h3h, 1); // sq2: 2 f^2
  const t2l = i64x2.add(i64x2.add(h2l, c1l), i64x2.splat(BIAS_EVEN)), t2h = i64x2.add(i64x2.add(h2h, c1h), i64x2.splat(BIAS_EVEN));
  const c2l = i64x2.shr_u(t2l, 26), c2h = i64x2.shr_u(t2h, 26);
  v128.store(h, limb26(narrow(t2l, t2h)), 32);
  // h4 = f0*2*f4 + f1*2*f3*2 + f2*f2 + f5*2*f9*38 + f6*2*f8*19 + f7*f7*38
  let h4l = lo(f0_2, f4), h4h = hi(f0_2, f4);
  h4l = i64x2.add(h4l, lo(f1_2, f3_2)); h4h = i64x2.add(h4h, hi(f1_2, f3_2));
  h4l = i64x2.add(h4l, lo(f2, f2)); h4h = i64x2.add(h4h, hi(f2, f2));
  h4l = i64x2.add(h4l, lo(f5_2, f9_38)); h4h = i64x2.add(h4h, hi(f5_2, f9_38));
  h4l = i64x2.add(h4l, lo(f6_2, f8_19)); h4h = i64x2.add(h4h, hi(f6_2, f8_19));
  h4l = i64x2.add(h4l, lo(f7, f7_38)); h4h = i64x2.add(h4h, hi(f7, f7_38));
  h4l = i64x2.shl(h4l, 1); h4h = i64x2.shl(h4h, 1); // sq2: 2 f^2
  const t3l = i64x2.add(i64x2.add(h3l, c2l), i64x2.splat(BIAS_ODD)), t3h = i64x2.add(i64x2.add(h3h, c2h), i64x2.splat(BIAS_ODD));
  const c3l = i64x2.shr_u(t3l, 25), c3h = i64x2.shr_u(t3h, 25);
  v128.store(h, limb25(narrow(t3l, t3h)), 48);
  // h5 = f0*2*f5 + f1*2*f4 + f2*2*f3 + f6*f9*38 + f7*2*f8*19
  let h5l = lo(f0_2, f5), h5h = hi(f0_2, f5);
  h5l = i64x2.add(h5l, lo(f1_2, f4)); h5h = i64x2.add(h5h, hi(f1_2, f4));
  h5l = i64x2.add(h5l, lo(f2_2, f3)); h5h = i64x2.add(h5h, hi(f2_2, f3));
  h5l = i64x2.add(h5l, lo(f6, f9_38)); h5h = i64x2.add(h5h, hi(f6, f9_38));
  h5l = i64x2.add(h5l, lo(f7_2, f8_19)); h5h = i64x2.add(h5h, hi(f7_2, f8_19));
  h5l = i64x2.shl(h5l, 1); h5h = i64x2.shl(h5h, 1); // sq2: 2 f^2
  const t4l = i64x2.add(i64x2.add(h4l, c3l), i64x2.splat(BIAS_EVEN)), t4h = i64x2.add(i64x2.add(h4h, c3h), i64x2.splat(BIAS_EVEN));
  const c4l = i64x2.shr_u(t4l, 26), c4h = i64x2.shr_u(t4h, 26);
  v128.store(h, limb26(narrow(t4l, t4h)), 64);
  // h6 = f0*2*f6 + f1*2*f5*2 + f2*2*f4 + f3*2*f3 + f7*2*f9*38 + f8*f8*19
  let h6l = lo(f0_2, f6), h6h = hi(f0_2, f6);
  h6l = i64x2.add(h6l, lo(f1_2, f5_2)); h6h = i64x2.add(h6h, hi(f1_2, f5_2));
  h6l = i64x2.add(h6l, lo(f2_2, f4)); h6h = i64x2.add(h6h, hi(f2_2, f4));
  h6l = i64x2.add(h6l, lo(f3_2, f3)); h6h = i64x2.add(h6h, hi(f3_2, f3));
  h6l = i64x2.add(h6l, lo(f7_2, f9_38)); h6h = i64x2.add(h6h, hi(f7_2, f9_38));
  h6l = i64x2.add(h6l, lo(f8, f8_19)); h6h = i64x2.add(h6h, hi(f8, f8_19));
  h6l = i64x2.shl(h6l, 1); h6h = i64x2.shl(h6h, 1); // sq2: 2 f^2
  const t5l = i64x2.add(i64x2.add(h5l, c4l), i64x2.splat(BIAS_ODD)), t5h = i64x2.add(i64x2.add(h5h, c4h), i64x2.splat(BIAS_ODD));
  const c5l = i64x2.shr_u(t5l, 25), c5h = i64x2.shr_u(t5h, 25);
  v128.store(h, limb25(narrow(t5l, t5h)), 80);
  // h7 = f0*2*f7 + f1*2*f6 + f2*2*f5 + f3*2*f4 + f8*f9*38
  let h7l = lo(f0_2, f7), h7h = hi(f0_2, f7);
  h7l = i64x2.add(h7l, lo(f1_2, f6)); h7h = i64x2.add(h7h, hi(f1_2, f6));
  h7l = i64x2.add(h7l, lo(f2_2, f5)); h7h = i64x2.add(h7h, hi(f2_2, f5));
  h7l = i64x2.add(h7l, lo(f3_2, f4)); h7h = i64x2.add(h7h, hi(f3_2, f4));
  h7l = i64x2.add(h7l, lo(f8, f9_38)); h7h = i64x2.add(h7h, hi(f8, f9_38));
  h7l = i64x2.shl(h7l, 1); h7h = i64x2.shl(h7h, 1); // sq2: 2 f^2
  const t6l = i64x2.add(i64x2.add(h6l, c5l), i64x2.splat(BIAS_EVEN)), t6h = i64x2.add(i64x2.add(h6h, c5h), i64x2.splat(BIAS_EVEN));
  const c6l = i64x2.shr_u(t6l, 26), c6h = i64x2.shr_u(t6h, 26);
  v128.store(h, limb26(narrow(t6l, t6h)), 96);
  // h8 = f0*2*f8 + f1*2*f7*2 + f2*2*f6 + f3*2*f5*2 + f4*f4 + f9*f9*38
  let h8l = lo(f0_2, f8), h8h = hi(f0_2, f8);
  h8l = i64x2.add(h8l, lo(f1_2, f7_2)); h8h = i64x2.add(h8h, hi(f1_2, f7_2));
  h8l = i64x2.add(h8l, lo(f2_2, f6)); h8h = i64x2.add(h8h, hi(f2_2, f6));
  h8l = i64x2.add(h8l, lo(f3_2, f5_2)); h8h = i64x2.add(h8h, hi(f3_2, f5_2));
  h8l = i64x2.add(h8l, lo(f4, f4)); h8h = i64x2.add(h8h, hi(f4, f4));
  h8l = i64x2.add(h8l, lo(f9, f9_38)); h8h = i64x2.add(h8h, hi(f9, f9_38));
  h8l = i64x2.shl(h8l, 1); h8h = i64x2.shl(h8h, 1); // sq2: 2 f^2
  const t7l = i64x2.add(i64x2.add(h7l, c6l), i64x2.splat(BIAS_ODD)), t7h = i64x2.add(i64x2.add(h7h, c6h), i64x2.splat(BIAS_ODD));
  const c7l = i64x2.shr_u(t7l, 25), c7h = i64x2.shr_u(t7h, 25);
  v128.store(h, limb25(narrow(t7l, t7h)), 112);
  // h9 = f0*2*f9 + f1*2*f8 + f2*2*f7 + f3*2*f6 + f4*2*f5
  let h9l = lo(f0_2, f9), h9h = hi(f0_2, f9);
  h9l = i64x2.add(h9l, lo(f1_2, f8)); h9h = i64x2.add(h9h, hi(f1_2, f8));
  h9l = i64x2.add(h9l, lo(f2_2, f7)); h9h = i64x2.add(h9h, hi(f2_2, f7));
  h9l = i64x2.add(h9l, lo(f3_2, f6)); h9h = i64x2.add(h9h, hi(f3_2, f6));
  h9l = i64x2.add(h9l, lo(f4_2, f5)); h9h = i64x2.add(h9h, hi(f4_2, f5));
  h9l = i64x2.shl(h9l, 1); h9h = i64x2.shl(h9h, 1); // sq2: 2 f^2
  const t8l = i64x2.add(i64x2.add(h8l, c7l), i64x2.splat(BIAS_EVEN)), t8h = i64x2.add(i64x2.add(h8h, c7h), i64x2.splat(BIAS_EVEN));
  const c8l = i64x2.shr_u(t8l, 26), c8h = i64x2.shr_u(t8h, 26);
  v128.store(h, limb26(narrow(t8l, t8h)), 128);
  const t9l = i64x2.add(i64x2.add(h9l, c8l), i64x2.splat(BIAS_ODD)), t9h = i64x2.add(i64x2.add(h9h, c8h), i64x2.splat(BIAS_ODD));
  const c9l = i64x2.shr_u(t9l, 25), c9h = i64x2.shr_u(t9h, 25);
  v128.store(h, limb25(narrow(t9l, t9h)), 144);
  // h9's carry wraps into h0 times 19 (2^255 = 19 mod p); h0 then carries into h1 once more.
  // c9 carries an excess of 2^37, so h0 = (t0 mod 2^26) - 2^25 + 19 c9 - 19 * 2^37.
  const fix0 = i64x2.splat((<i64>1 << 25) + 19 * (<i64>1 << 37));
  const m26 = i64x2.splat(0x3ffffff), m25 = i64x2.splat(0x1ffffff);
  const u0l = i64x2.add(i64x2.sub(v128.and(t0l, m26), fix0), times19(c9l));
  const u0h = i64x2.add(i64x2.sub(v128.and(t0h, m26), fix0), times19(c9h));
  const s0l = i64x2.add(u0l, i64x2.splat(BIAS0)), s0h = i64x2.add(u0h, i64x2.splat(BIAS0));
  // h1 = (t1 mod 2^25) - 2^24 + (s0 >>> 26) - 2^36: small enough to narrow as is.
  const fix1 = i64x2.splat((<i64>1 << 24) + (<i64>1 << 36));
  const u1l = i64x2.sub(i64x2.add(v128.and(t1l, m25), i64x2.shr_u(s0l, 26)), fix1);
  const u1h = i64x2.sub(i64x2.add(v128.and(t1h, m25), i64x2.shr_u(s0h, 26)), fix1);
  v128.store(h, limb26(narrow(s0l, s0h)), 0);
  v128.store(h, narrow(u1l, u1h), 16);
}
