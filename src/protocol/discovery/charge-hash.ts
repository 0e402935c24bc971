/**
 * The charge hash of a blinded element (quota.ts: the 8-byte name by which the server
 * recognizes an element charged before), fast: SHA-256(label || element) truncated to 8
 * bytes, byte for byte what `sha256(concat(label, element)).subarray(0, 8)` gives.
 *
 * It runs for every element the server evaluates (the session's duplicate check, the
 * ledger) and for every element of a client's receipt, so a general-purpose hash object
 * per element (allocations, views, a copy of the message) cost more than the hash itself.
 * For the 21-byte label and a 32-byte element the message and its padding fit in one
 * 64-byte block (RFC 6234 §4.1: 53 bytes + 0x80 + 8 length bytes), so this is one
 * compression on a block prepared once, with only the element's bytes rewritten. Other
 * lengths (P-256's 33-byte elements need two blocks) go to the general hash.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat } from '../../oprf/encoding.js';

/** RFC 6234 §5.1: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** RFC 6234 §6.1: the initial hash value. */
const H0 = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Charge hashes of `size`-byte elements with one label: one function per label, its block prepared once. */
export interface ChargeHasher {
  /** The first `outBytes` bytes of SHA-256(label || element), written at out[at..]. */
  hashInto(element: Uint8Array, out: Uint8Array, at: number): void;
}

export function chargeHasher(label: Uint8Array, outBytes: number): ChargeHasher {
  const block = new Uint8Array(64);
  const W = new Int32Array(64);
  const state = new Int32Array(8);
  const general = (element: Uint8Array, out: Uint8Array, at: number): void => {
    out.set(sha256(concat(label, element)).subarray(0, outBytes), at);
  };
  return {
    hashInto(element, out, at) {
      const length = label.length + element.length;
      if (length > 55 || outBytes > 32) return general(element, out, at);
      // The block: label || element || 0x80 || zeros || bit length (big-endian, 64 bits).
      block.fill(0);
      block.set(label, 0);
      block.set(element, label.length);
      block[length] = 0x80;
      const bits = length * 8;
      block[62] = bits >>> 8;
      block[63] = bits & 0xff;
      for (let t = 0; t < 16; t++) W[t] = (block[4 * t] << 24) | (block[4 * t + 1] << 16) | (block[4 * t + 2] << 8) | block[4 * t + 3];
      for (let t = 16; t < 64; t++) {
        const w15 = W[t - 15];
        const w2 = W[t - 2];
        const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
        const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      let a = H0[0], b = H0[1], c = H0[2], d = H0[3], e = H0[4], f = H0[5], g = H0[6], h = H0[7];
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const T1 = (h + S1 + ch + K[t] + W[t]) | 0;
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
      state[0] = a + H0[0];
      state[1] = b + H0[1];
      state[2] = c + H0[2];
      state[3] = d + H0[3];
      state[4] = e + H0[4];
      state[5] = f + H0[5];
      state[6] = g + H0[6];
      state[7] = h + H0[7];
      for (let i = 0; i < outBytes; i++) out[at + i] = (state[i >> 2] >>> (24 - 8 * (i & 3))) & 0xff;
    },
  };
}
