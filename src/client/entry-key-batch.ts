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

import { SHA256_IV as H0, sha256Block as compressBlock, sha256Words as compressWords } from '../protocol/discovery/sha2-blocks.js';

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
