/**
 * GF(2^255 - 19) multiplication and squaring, unrolled from ref10/libsodium fe25519_mul,
 * fe25519_sq and fe25519_sq2 (radix 2^25.5: limb i has 26 bits when i is even, 25 when
 * odd). Limbs are loaded as i64 and every product is an i64 product; the bounds are ref10's
 * (inputs at most ~1.65 * 2^26 / 2^25 per limb, the result carried to ~2^25 / 2^24), so
 * sums of two or three carried values are valid inputs again.
 *
 * A limb product f_i * g_j lands at position i + j; when both i and j are odd the product
 * carries an extra factor 2 (the half bits of the radix), and a position >= 10 wraps with
 * a factor 19 (2^255 = 19 mod p). Output may alias either input: all limbs are read first.
 */

/** h = f * g */
export function feMul(h: usize, f: usize, g: usize): void {
  const f0 = <i64>load<i32>(f, 0);
  const f1 = <i64>load<i32>(f, 4);
  const f2 = <i64>load<i32>(f, 8);
  const f3 = <i64>load<i32>(f, 12);
  const f4 = <i64>load<i32>(f, 16);
  const f5 = <i64>load<i32>(f, 20);
  const f6 = <i64>load<i32>(f, 24);
  const f7 = <i64>load<i32>(f, 28);
  const f8 = <i64>load<i32>(f, 32);
  const f9 = <i64>load<i32>(f, 36);
  const g0 = <i64>load<i32>(g, 0);
  const g1 = <i64>load<i32>(g, 4);
  const g2 = <i64>load<i32>(g, 8);
  const g3 = <i64>load<i32>(g, 12);
  const g4 = <i64>load<i32>(g, 16);
  const g5 = <i64>load<i32>(g, 20);
  const g6 = <i64>load<i32>(g, 24);
  const g7 = <i64>load<i32>(g, 28);
  const g8 = <i64>load<i32>(g, 32);
  const g9 = <i64>load<i32>(g, 36);
  const g1_19 = g1 * 19;
  const g2_19 = g2 * 19;
  const g3_19 = g3 * 19;
  const g4_19 = g4 * 19;
  const g5_19 = g5 * 19;
  const g6_19 = g6 * 19;
  const g7_19 = g7 * 19;
  const g8_19 = g8 * 19;
  const g9_19 = g9 * 19;
  const f1_2 = f1 << 1;
  const f3_2 = f3 << 1;
  const f5_2 = f5 << 1;
  const f7_2 = f7 << 1;
  const f9_2 = f9 << 1;
  let h0 = f0 * g0 + f1_2 * g9_19 + f2 * g8_19 + f3_2 * g7_19 + f4 * g6_19 + f5_2 * g5_19 + f6 * g4_19 + f7_2 * g3_19 + f8 * g2_19 + f9_2 * g1_19;
  let h1 = f0 * g1 + f1 * g0 + f2 * g9_19 + f3 * g8_19 + f4 * g7_19 + f5 * g6_19 + f6 * g5_19 + f7 * g4_19 + f8 * g3_19 + f9 * g2_19;
  let h2 = f0 * g2 + f1_2 * g1 + f2 * g0 + f3_2 * g9_19 + f4 * g8_19 + f5_2 * g7_19 + f6 * g6_19 + f7_2 * g5_19 + f8 * g4_19 + f9_2 * g3_19;
  let h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9_19 + f5 * g8_19 + f6 * g7_19 + f7 * g6_19 + f8 * g5_19 + f9 * g4_19;
  let h4 = f0 * g4 + f1_2 * g3 + f2 * g2 + f3_2 * g1 + f4 * g0 + f5_2 * g9_19 + f6 * g8_19 + f7_2 * g7_19 + f8 * g6_19 + f9_2 * g5_19;
  let h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1 + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
  let h6 = f0 * g6 + f1_2 * g5 + f2 * g4 + f3_2 * g3 + f4 * g2 + f5_2 * g1 + f6 * g0 + f7_2 * g9_19 + f8 * g8_19 + f9_2 * g7_19;
  let h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3 + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
  let h8 = f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4 + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
  let h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5 + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
  let c: i64;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + 16777216) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + 16777216) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + 33554432) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + 33554432) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + 16777216) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + 16777216) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + 33554432) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + 16777216) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  store<i32>(h, <i32>h0, 0);
  store<i32>(h, <i32>h1, 4);
  store<i32>(h, <i32>h2, 8);
  store<i32>(h, <i32>h3, 12);
  store<i32>(h, <i32>h4, 16);
  store<i32>(h, <i32>h5, 20);
  store<i32>(h, <i32>h6, 24);
  store<i32>(h, <i32>h7, 28);
  store<i32>(h, <i32>h8, 32);
  store<i32>(h, <i32>h9, 36);
}

/** h = f^2 */
export function feSq(h: usize, f: usize): void {
  const f0 = <i64>load<i32>(f, 0);
  const f1 = <i64>load<i32>(f, 4);
  const f2 = <i64>load<i32>(f, 8);
  const f3 = <i64>load<i32>(f, 12);
  const f4 = <i64>load<i32>(f, 16);
  const f5 = <i64>load<i32>(f, 20);
  const f6 = <i64>load<i32>(f, 24);
  const f7 = <i64>load<i32>(f, 28);
  const f8 = <i64>load<i32>(f, 32);
  const f9 = <i64>load<i32>(f, 36);
  const f0_2 = f0 * 2;
  const f1_2 = f1 * 2;
  const f2_2 = f2 * 2;
  const f3_2 = f3 * 2;
  const f4_2 = f4 * 2;
  const f5_2 = f5 * 2;
  const f5_38 = f5 * 38;
  const f6_19 = f6 * 19;
  const f6_38 = f6 * 38;
  const f7_2 = f7 * 2;
  const f7_38 = f7 * 38;
  const f8_19 = f8 * 19;
  const f8_38 = f8 * 38;
  const f9_38 = f9 * 38;
  let h0 = f0 * f0 + f1_2 * f9_38 + f2 * f8_38 + f3_2 * f7_38 + f4 * f6_38 + f5 * f5_38;
  let h1 = f0_2 * f1 + f2 * f9_38 + f3 * f8_38 + f4 * f7_38 + f5 * f6_38;
  let h2 = f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4 * f8_38 + f5_2 * f7_38 + f6 * f6_19;
  let h3 = f0_2 * f3 + f1_2 * f2 + f4 * f9_38 + f5 * f8_38 + f6 * f7_38;
  let h4 = f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6 * f8_38 + f7 * f7_38;
  let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6 * f9_38 + f7 * f8_38;
  let h6 = f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19;
  let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8 * f9_38;
  let h8 = f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9 * f9_38;
  let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
  let c: i64;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + 16777216) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + 16777216) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + 33554432) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + 33554432) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + 16777216) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + 16777216) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + 33554432) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + 16777216) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  store<i32>(h, <i32>h0, 0);
  store<i32>(h, <i32>h1, 4);
  store<i32>(h, <i32>h2, 8);
  store<i32>(h, <i32>h3, 12);
  store<i32>(h, <i32>h4, 16);
  store<i32>(h, <i32>h5, 20);
  store<i32>(h, <i32>h6, 24);
  store<i32>(h, <i32>h7, 28);
  store<i32>(h, <i32>h8, 32);
  store<i32>(h, <i32>h9, 36);
}

/** h = 2 * f^2 (ref10 fe25519_sq2, used by point doubling) */
export function feSq2(h: usize, f: usize): void {
  const f0 = <i64>load<i32>(f, 0);
  const f1 = <i64>load<i32>(f, 4);
  const f2 = <i64>load<i32>(f, 8);
  const f3 = <i64>load<i32>(f, 12);
  const f4 = <i64>load<i32>(f, 16);
  const f5 = <i64>load<i32>(f, 20);
  const f6 = <i64>load<i32>(f, 24);
  const f7 = <i64>load<i32>(f, 28);
  const f8 = <i64>load<i32>(f, 32);
  const f9 = <i64>load<i32>(f, 36);
  const f0_2 = f0 * 2;
  const f1_2 = f1 * 2;
  const f2_2 = f2 * 2;
  const f3_2 = f3 * 2;
  const f4_2 = f4 * 2;
  const f5_2 = f5 * 2;
  const f5_38 = f5 * 38;
  const f6_19 = f6 * 19;
  const f6_38 = f6 * 38;
  const f7_2 = f7 * 2;
  const f7_38 = f7 * 38;
  const f8_19 = f8 * 19;
  const f8_38 = f8 * 38;
  const f9_38 = f9 * 38;
  let h0 = f0 * f0 + f1_2 * f9_38 + f2 * f8_38 + f3_2 * f7_38 + f4 * f6_38 + f5 * f5_38;
  let h1 = f0_2 * f1 + f2 * f9_38 + f3 * f8_38 + f4 * f7_38 + f5 * f6_38;
  let h2 = f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4 * f8_38 + f5_2 * f7_38 + f6 * f6_19;
  let h3 = f0_2 * f3 + f1_2 * f2 + f4 * f9_38 + f5 * f8_38 + f6 * f7_38;
  let h4 = f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6 * f8_38 + f7 * f7_38;
  let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6 * f9_38 + f7 * f8_38;
  let h6 = f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19;
  let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8 * f9_38;
  let h8 = f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9 * f9_38;
  let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
  h0 += h0;
  h1 += h1;
  h2 += h2;
  h3 += h3;
  h4 += h4;
  h5 += h5;
  h6 += h6;
  h7 += h7;
  h8 += h8;
  h9 += h9;
  let c: i64;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + 16777216) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + 16777216) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + 33554432) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + 33554432) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + 16777216) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + 16777216) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + 33554432) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + 16777216) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  store<i32>(h, <i32>h0, 0);
  store<i32>(h, <i32>h1, 4);
  store<i32>(h, <i32>h2, 8);
  store<i32>(h, <i32>h3, 12);
  store<i32>(h, <i32>h4, 16);
  store<i32>(h, <i32>h5, 20);
  store<i32>(h, <i32>h6, 24);
  store<i32>(h, <i32>h7, 28);
  store<i32>(h, <i32>h8, 32);
  store<i32>(h, <i32>h9, 36);
}
