/**
 * The three primitives of a label (labels.ts, format 2) for the sizes a sync meets, without a
 * hash or cipher object per call: SHA-512 of a domain label and a tag (one block), HMAC-SHA-256
 * under a 32-byte key, ChaCha20 (RFC 8439 §2.4, counter 0). A 10,000-contact sync opens 2,500
 * labels on the client's main thread, after the last evaluation: with @noble's general objects
 * that was ~26 µs a label (issue 13 §1), with these a few µs. Byte for byte @noble's results
 * (test/client-main-labels.test.ts); other sizes go to @noble.
 *
 * Secrets (the seal keys, the plaintext) pass through module scratch buffers, wiped after
 * each call. Constant-time as the usual JS code is: 32-bit arithmetic, no data-indexed table.
 */
import { chacha20 as nobleChacha20 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concat } from '../../oprf/encoding.js';
import { SHA256_IV, SHA512_IV, sha256Block, sha256Words, sha512Block, sha512Schedule } from './sha2-blocks.js';

const block512 = new Uint8Array(128);
const W512 = sha512Schedule();
const state512 = new Int32Array(16);

/** SHA-512(prefix || data), 64 bytes. */
export function sha512Prefixed(prefix: Uint8Array, data: Uint8Array): Uint8Array {
  const n = prefix.length + data.length;
  // One block: the message, 0x80, zeros, and a 128-bit length (FIPS 180-4 §5.1.2) fit in 128 bytes.
  if (n > 111) return sha512(concat(prefix, data));
  block512.fill(0);
  block512.set(prefix, 0);
  block512.set(data, prefix.length);
  block512[n] = 0x80;
  const bits = n * 8;
  block512[126] = bits >>> 8;
  block512[127] = bits & 0xff;
  state512.set(SHA512_IV);
  sha512Block(state512, W512, block512, 0);
  const out = new Uint8Array(64);
  for (let j = 0; j < 64; j++) out[j] = (state512[j >> 2] >>> (24 - 8 * (j & 3))) & 0xff;
  block512.fill(0);
  state512.fill(0);
  W512.fill(0);
  return out;
}

const W256 = new Int32Array(64);
const inner256 = new Int32Array(8);
const outer256 = new Int32Array(8);
const keyBlock = new Uint8Array(64);
let msg256 = new Uint8Array(256);

/** HMAC-SHA-256(key, message), 32 bytes (RFC 2104). Keys over 64 bytes go to @noble. */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  if (key.length > 64) return hmac(sha256, key, message);
  keyBlock.fill(0);
  keyBlock.set(key);
  for (let i = 0; i < 64; i++) keyBlock[i] ^= 0x36;
  inner256.set(SHA256_IV);
  sha256Block(inner256, W256, keyBlock, 0);
  for (let i = 0; i < 64; i++) keyBlock[i] ^= 0x36 ^ 0x5c;
  outer256.set(SHA256_IV);
  sha256Block(outer256, W256, keyBlock, 0);
  // Inner: the message after the ipad block, padded (FIPS 180-4 §5.1.1), 64 + n bytes hashed.
  const n = message.length;
  const padded = Math.ceil((n + 9) / 64) * 64;
  if (msg256.length < padded) msg256 = new Uint8Array(padded);
  const buf = msg256;
  buf.set(message);
  buf[n] = 0x80;
  buf.fill(0, n + 1, padded);
  const bits = (64 + n) * 8;
  const hi = Math.floor(bits / 0x1_0000_0000);
  buf[padded - 8] = hi >>> 24;
  buf[padded - 7] = (hi >>> 16) & 0xff;
  buf[padded - 6] = (hi >>> 8) & 0xff;
  buf[padded - 5] = hi & 0xff;
  buf[padded - 4] = bits >>> 24;
  buf[padded - 3] = (bits >>> 16) & 0xff;
  buf[padded - 2] = (bits >>> 8) & 0xff;
  buf[padded - 1] = bits & 0xff;
  for (let off = 0; off < padded; off += 64) sha256Block(inner256, W256, buf, off);
  // Outer: one block, the inner digest after the opad block (96 bytes, 768 bits).
  for (let t = 0; t < 8; t++) W256[t] = inner256[t];
  W256[8] = 0x80000000;
  for (let t = 9; t < 15; t++) W256[t] = 0;
  W256[15] = 768;
  sha256Words(outer256, W256);
  const out = new Uint8Array(32);
  for (let j = 0; j < 32; j++) out[j] = (outer256[j >> 2] >>> (24 - 8 * (j & 3))) & 0xff;
  buf.fill(0, 0, padded);
  keyBlock.fill(0);
  inner256.fill(0);
  outer256.fill(0);
  W256.fill(0);
  return out;
}

const chachaState = new Int32Array(16);
const chachaWork = new Int32Array(16);

const le32 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);

/**
 * ChaCha20 (RFC 8439 §2.4) with a 32-byte key, a 12-byte nonce and the block counter from 0:
 * `input` XOR the key stream, into `output` (a new array when not given).
 */
export function chacha20(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, output?: Uint8Array): Uint8Array {
  if (key.length !== 32 || nonce.length !== 12 || (output !== undefined && output.length !== input.length) || input.length > 64 * 0xffff) {
    return nobleChacha20(key, nonce, input, output);
  }
  const out = output ?? new Uint8Array(input.length);
  const s = chachaState;
  const x = chachaWork;
  // "expand 32-byte k", the key, the counter, the nonce (RFC 8439 §2.3), little-endian words.
  s[0] = 0x61707865;
  s[1] = 0x3320646e;
  s[2] = 0x79622d32;
  s[3] = 0x6b206574;
  for (let i = 0; i < 8; i++) s[4 + i] = le32(key, 4 * i);
  s[12] = 0;
  s[13] = le32(nonce, 0);
  s[14] = le32(nonce, 4);
  s[15] = le32(nonce, 8);
  for (let off = 0; off < input.length; off += 64) {
    x.set(s);
    for (let round = 0; round < 10; round++) {
      quarter(x, 0, 4, 8, 12);
      quarter(x, 1, 5, 9, 13);
      quarter(x, 2, 6, 10, 14);
      quarter(x, 3, 7, 11, 15);
      quarter(x, 0, 5, 10, 15);
      quarter(x, 1, 6, 11, 12);
      quarter(x, 2, 7, 8, 13);
      quarter(x, 3, 4, 9, 14);
    }
    const end = Math.min(64, input.length - off);
    for (let j = 0; j < end; j++) {
      const word = (x[j >> 2] + s[j >> 2]) | 0;
      out[off + j] = input[off + j] ^ ((word >>> (8 * (j & 3))) & 0xff);
    }
    s[12] = (s[12] + 1) | 0;
  }
  s.fill(0);
  x.fill(0);
  return out;
}

function quarter(x: Int32Array, a: number, b: number, c: number, d: number): void {
  let va = x[a], vb = x[b], vc = x[c], vd = x[d];
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 16) | (vd >>> 16);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 12) | (vb >>> 20);
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 8) | (vd >>> 24);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 7) | (vb >>> 25);
  x[a] = va;
  x[b] = vb;
  x[c] = vc;
  x[d] = vd;
}
