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
 * lengths (P-256's 33-byte elements need two blocks) go to the general hash. The compression
 * is sha2-blocks.ts' (shared with the label keys and the outputs-file entry keys).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat } from '../../oprf/encoding.js';
import { SHA256_IV, sha256Block } from './sha2-blocks.js';

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
      state.set(SHA256_IV);
      sha256Block(state, W, block, 0);
      for (let i = 0; i < outBytes; i++) out[at + i] = (state[i >> 2] >>> (24 - 8 * (i & 3))) & 0xff;
    },
  };
}
