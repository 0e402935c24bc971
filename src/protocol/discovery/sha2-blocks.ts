/**
 * The SHA-256 and SHA-512 compression functions (FIPS 180-4 §6.2.2, §6.4.2) on 32-bit
 * integers, for the hot paths that hash many short messages with fixed prefixes or keys:
 * a label's lookup and seal keys (label-crypto.ts: one SHA-512 block each) and the client's
 * outputs-file entry keys (src/client/entry-key-batch.ts: HMAC midstates). A general hash
 * object per message (a buffer, views, a copy, padding logic, a wipe) cost several times the
 * compression itself there (issue 13 §1). Runtime-neutral; 32-bit arithmetic only, no table
 * indexed by data. Tested against @noble/hashes (test/client-main-labels.test.ts).
 */

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
export const SHA256_IV: Readonly<Int32Array> = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** One SHA-256 compression of the message schedule W[0..16) (W[16..64) is overwritten) into `state`. */
export function sha256Words(state: Int32Array, W: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15];
    const w2 = W[t - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const T1 = (h + S1 + ch + K256[t] + W[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const T2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + T1) | 0;
    d = c;
    c = b;
    b = a;
    a = (T1 + T2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/** Loads the 64-byte block at bytes[at..] big-endian into W[0..16) and compresses it (SHA-256). */
export function sha256Block(state: Int32Array, W: Int32Array, bytes: Uint8Array, at: number): void {
  for (let t = 0; t < 16; t++, at += 4) W[t] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  sha256Words(state, W);
}

/**
 * SHA-512's constants, derived rather than typed in (FIPS 180-4 §4.2.3, §5.3.5): the first 64
 * bits of the fractional parts of the cube roots of the first 80 primes, and of the square
 * roots of the first 8, as [high, low] 32-bit halves.
 */
function rootFractions(count: number, degree: 2 | 3): Int32Array {
  const primes: number[] = [];
  for (let n = 2; primes.length < count; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  const out = new Int32Array(2 * count);
  primes.forEach((p, i) => {
    // floor(p^(1/degree) · 2^64) = the integer root of p · 2^(64 · degree), by Newton's method.
    const x = BigInt(p) << BigInt(64 * degree);
    let r = 1n << BigInt(Math.ceil((x.toString(2).length + 1) / degree));
    for (;;) {
      const next = degree === 2 ? (r + x / r) / 2n : (2n * r + x / (r * r)) / 3n;
      if (next >= r) break;
      r = next;
    }
    const frac = r & ((1n << 64n) - 1n);
    out[2 * i] = Number(frac >> 32n) | 0;
    out[2 * i + 1] = Number(frac & 0xffffffffn) | 0;
  });
  return out;
}
const K512 = rootFractions(80, 3);
/** SHA-512 initial hash value, [high, low] halves of 8 words. */
export const SHA512_IV: Readonly<Int32Array> = rootFractions(8, 2);

/** Scratch of one SHA-512 compression: the message schedule's 80 words as [high, low] halves. */
export const sha512Schedule = (): Int32Array => new Int32Array(160);

/** One SHA-512 compression of the 128-byte block at bytes[at..] into `state` ([high, low] halves of 8 words). */
export function sha512Block(state: Int32Array, W: Int32Array, bytes: Uint8Array, at: number): void {
  for (let t = 0; t < 32; t++, at += 4) W[t] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  for (let t = 16; t < 80; t++) {
    // σ0(w15) = ROTR1 ^ ROTR8 ^ SHR7; σ1(w2) = ROTR19 ^ ROTR61 ^ SHR6
    const h15 = W[2 * (t - 15)], l15 = W[2 * (t - 15) + 1];
    const s0h = ((h15 >>> 1) | (l15 << 31)) ^ ((h15 >>> 8) | (l15 << 24)) ^ (h15 >>> 7);
    const s0l = ((l15 >>> 1) | (h15 << 31)) ^ ((l15 >>> 8) | (h15 << 24)) ^ ((l15 >>> 7) | (h15 << 25));
    const h2 = W[2 * (t - 2)], l2 = W[2 * (t - 2) + 1];
    const s1h = ((h2 >>> 19) | (l2 << 13)) ^ ((l2 >>> 29) | (h2 << 3)) ^ (h2 >>> 6);
    const s1l = ((l2 >>> 19) | (h2 << 13)) ^ ((h2 >>> 29) | (l2 << 3)) ^ ((l2 >>> 6) | (h2 << 26));
    const low = (W[2 * (t - 16) + 1] >>> 0) + (s0l >>> 0) + (W[2 * (t - 7) + 1] >>> 0) + (s1l >>> 0);
    W[2 * t] = (W[2 * (t - 16)] + s0h + W[2 * (t - 7)] + s1h + ((low / 0x1_0000_0000) | 0)) | 0;
    W[2 * t + 1] = low | 0;
  }
  let ah = state[0], al = state[1], bh = state[2], bl = state[3], ch = state[4], cl = state[5], dh = state[6], dl = state[7];
  let eh = state[8], el = state[9], fh = state[10], fl = state[11], gh = state[12], gl = state[13], hh = state[14], hl = state[15];
  for (let t = 0; t < 80; t++) {
    // Σ1(e) = ROTR14 ^ ROTR18 ^ ROTR41; Ch(e, f, g) = (e & f) ^ (~e & g)
    const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
    const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
    const chh = (eh & fh) ^ (~eh & gh);
    const chl = (el & fl) ^ (~el & gl);
    // T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]
    const t1low = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K512[2 * t + 1] >>> 0) + (W[2 * t + 1] >>> 0);
    const t1h = (hh + S1h + chh + K512[2 * t] + W[2 * t] + ((t1low / 0x1_0000_0000) | 0)) | 0;
    const t1l = t1low | 0;
    // Σ0(a) = ROTR28 ^ ROTR34 ^ ROTR39; Maj(a, b, c)
    const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
    const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
    const majh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
    const majl = (al & bl) ^ (al & cl) ^ (bl & cl);
    hh = gh;
    hl = gl;
    gh = fh;
    gl = fl;
    fh = eh;
    fl = el;
    // e = d + T1
    const elow = (dl >>> 0) + (t1l >>> 0);
    eh = (dh + t1h + ((elow / 0x1_0000_0000) | 0)) | 0;
    el = elow | 0;
    dh = ch;
    dl = cl;
    ch = bh;
    cl = bl;
    bh = ah;
    bl = al;
    // a = T1 + Σ0(a) + Maj(a, b, c)
    const alow = (t1l >>> 0) + (S0l >>> 0) + (majl >>> 0);
    ah = (t1h + S0h + majh + ((alow / 0x1_0000_0000) | 0)) | 0;
    al = alow | 0;
  }
  const add = (i: number, h: number, l: number): void => {
    const low = (state[i + 1] >>> 0) + (l >>> 0);
    state[i] = (state[i] + h + ((low / 0x1_0000_0000) | 0)) | 0;
    state[i + 1] = low | 0;
  };
  add(0, ah, al);
  add(2, bh, bl);
  add(4, ch, cl);
  add(6, dh, dl);
  add(8, eh, el);
  add(10, fh, fl);
  add(12, gh, gl);
  add(14, hh, hl);
}

/** Writes the first `n` bytes of a state of 32-bit words (big-endian) at out[at..]. */
export function stateBytes(state: Int32Array, out: Uint8Array, at: number, n: number): void {
  for (let j = 0; j < n; j++) out[at + j] = (state[j >> 2] >>> (24 - 8 * (j & 3))) & 0xff;
}
