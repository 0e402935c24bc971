/**
 * The outputs file's entry keys (output-keys.ts outputEntryKey: HMAC-SHA256(key, UTF-8
 * identifier)[0..16]) for a whole address book under one key, byte for byte the same
 * (test/client-main-entry-keys.test.ts).
 *
 * Why not one HMAC object per identifier: a first sync of 10,000 contacts keys all of them
 * before its outputs files are read, and Node's createHmac cost ~3 µs each (a KeyObject, two
 * hash contexts, a Buffer) plus the garbage, on the thread the sync runs on (issue 13 §1).
 * RFC 2104's padded key blocks are the same for every message, so their two compressions
 * (the inner and outer midstates) are done once per key; an identifier under 56 bytes then
 * costs two compressions (its inner block, the outer block) and no allocation.
 *
 * Constant-time as the usual SHA-256 code is: 32-bit arithmetic only, no table indexed by
 * data. The key's midstates stay in memory as long as the hasher (as the key would); the
 * scratch block holding an identifier is wiped after each batch.
 */

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

/** One SHA-256 compression of the message schedule W[0..16) (W[16..64) is overwritten) into `state`. */
function compressWords(state: Int32Array, W: Int32Array): void {
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
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/** Loads the 64-byte block at bytes[at..] big-endian into W[0..16) and compresses it. */
function compressBlock(state: Int32Array, W: Int32Array, bytes: Uint8Array, at: number): void {
  for (let t = 0; t < 16; t++, at += 4) W[t] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  compressWords(state, W);
}

const utf8 = new TextEncoder();

/** Entry keys (HMAC-SHA256(key, identifier)[0..bytes]) under one key, many identifiers per call. */
export class EntryKeyHasher {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private readonly W = new Int32Array(64);
  /** Identifier, padding and length of the inner hash; grown for long identifiers. */
  private scratch = new Uint8Array(256);

  constructor(
    key: Uint8Array,
    private readonly outBytes = 16,
  ) {
    if (!(outBytes > 0 && outBytes <= 32)) throw new RangeError('an entry key is 1 to 32 bytes');
    // RFC 2104 §2: a key longer than the block is hashed first; shorter ones are zero-padded.
    const block = new Uint8Array(64);
    if (key.length > 64) {
      this.digestInto(H0, key, 0, key.length, 0, block);
    } else block.set(key);
    for (let i = 0; i < 64; i++) block[i] ^= 0x36;
    this.inner.set(H0);
    compressBlock(this.inner, this.W, block, 0);
    for (let i = 0; i < 64; i++) block[i] ^= 0x36 ^ 0x5c;
    this.outer.set(H0);
    compressBlock(this.outer, this.W, block, 0);
    block.fill(0);
    this.W.fill(0);
  }

  /** The keys of `identifiers[from..to)`, each `outBytes` long, written at out[at..] one after another. */
  keysInto(identifiers: readonly string[], out: Uint8Array, at = 0, from = 0, to = identifiers.length): void {
    const { state, W, outer, outBytes } = this;
    for (let i = from; i < to; i++, at += outBytes) {
      const id = identifiers[i];
      // UTF-8 takes at most 3 bytes per UTF-16 unit; 72 more for the padding and length.
      if (this.scratch.length < 3 * id.length + 72) this.scratch = new Uint8Array(3 * id.length + 136);
      const scratch = this.scratch;
      const { written } = utf8.encodeInto(id, scratch);
      // Inner hash: SHA-256((key ^ ipad) || identifier) from the inner midstate.
      this.digestInto(this.inner, scratch, 0, written, 64, undefined);
      // Outer hash: one block, SHA-256((key ^ opad) || inner digest): 96 bytes = 768 bits.
      for (let t = 0; t < 8; t++) W[t] = state[t];
      W[8] = 0x80000000;
      for (let t = 9; t < 15; t++) W[t] = 0;
      W[15] = 768;
      state.set(outer);
      compressWords(state, W);
      for (let j = 0; j < outBytes; j++) out[at + j] = (state[j >> 2] >>> (24 - 8 * (j & 3))) & 0xff;
    }
    this.scratch.fill(0);
    W.fill(0);
    state.fill(0);
  }

  /**
   * SHA-256 from midstate `start` (after `prefixBytes` already hashed) of bytes[at..at+n), in
   * this.state; also written to `digest` when given. `bytes` must have room for the padding
   * after the message when it is the scratch block (the key path copies into a fresh one).
   */
  private digestInto(start: Int32Array, bytes: Uint8Array, at: number, n: number, prefixBytes: number, digest: Uint8Array | undefined): void {
    const { state, W } = this;
    let buf = bytes;
    if (buf !== this.scratch) {
      buf = new Uint8Array(n + 72);
      buf.set(bytes.subarray(at, at + n));
      at = 0;
    }
    // Padding (RFC 6234 §4.1): 0x80, zeros, the 64-bit bit length of everything hashed.
    const total = n + 9;
    const padded = Math.ceil(total / 64) * 64;
    buf[at + n] = 0x80;
    buf.fill(0, at + n + 1, at + padded - 8);
    const bits = (prefixBytes + n) * 8;
    const hi = Math.floor(bits / 0x1_0000_0000);
    const lo = bits >>> 0;
    buf[at + padded - 8] = hi >>> 24;
    buf[at + padded - 7] = (hi >>> 16) & 0xff;
    buf[at + padded - 6] = (hi >>> 8) & 0xff;
    buf[at + padded - 5] = hi & 0xff;
    buf[at + padded - 4] = lo >>> 24;
    buf[at + padded - 3] = (lo >>> 16) & 0xff;
    buf[at + padded - 2] = (lo >>> 8) & 0xff;
    buf[at + padded - 1] = lo & 0xff;
    state.set(start);
    for (let off = 0; off < padded; off += 64) compressBlock(state, W, buf, at + off);
    if (buf !== bytes) buf.fill(0);
    if (digest) for (let j = 0; j < 32; j++) digest[j] = (state[j >> 2] >>> (24 - 8 * (j & 3))) & 0xff;
  }
}
