/**
 * `sealLabel` and `lookupKeyOf` (protocol/discovery/labels.ts, label format 2) on Node's
 * native crypto, for precompute, which seals one label per tag: SHA-512 for the keys and
 * the lookup key, HMAC-SHA-256 for the synthetic IV, and OpenSSL's ChaCha20 (its 16-byte IV
 * is the 32-bit little-endian block counter, 0 here, then the 12-byte nonce: the RFC 8439
 * stream noble's `chacha20` gives). test/directory-seal.test.ts compares the two byte for byte.
 */
import { createCipheriv, createHash, createHmac, getCiphers, hash } from 'node:crypto';
import { LOOKUP_KEY_BYTES, LOOKUP_LABEL, MAX_USER_ID_BYTES, SEAL_KEY_LABEL, sealedLabelBytes, SIV_BYTES, varintBytes, writeVarint } from '../protocol/discovery/labels.js';

export { LOOKUP_KEY_BYTES, MAX_USER_ID_BYTES };
/**
 * Random bytes precompute and the worker pool still hand along with each label (their wire,
 * src/parallel/wire.ts, carries them). Label format 2 is deterministic and ignores them.
 */
export const NONCE_BYTES = 24;

/** Bytes of one seal: siv || ChaCha20(varint(len(userId)) || userId || label). */
export const sealedLength = sealedLabelBytes;

/**
 * Seals varint(len(userId)) || userId || label (userId already UTF-8, at most
 * MAX_USER_ID_BYTES) under `tag`: writes the seal to `out` at `outAt` (sealedLength bytes)
 * and the lookup key to `keyOut` at `keyAt`.
 */
export type SealInto = (tag: Uint8Array, userId: Uint8Array, label: Uint8Array, out: Uint8Array, outAt: number, keyOut: Uint8Array, keyAt: number) => void;

/** One-shot SHA-512 (crypto.hash, Node >= 20.12) avoids a Hash object per call; createHash otherwise. */
const sha512: (data: Uint8Array) => Uint8Array =
  typeof hash === 'function' ? (data) => hash('sha512', data, 'buffer') : (data) => createHash('sha512').update(data).digest();

let cached: SealInto | null | undefined;

/** The native sealer, or null when this Node has no chacha20 (e.g. some FIPS builds): use sealLabel then. */
export function nativeSealer(): SealInto | null {
  if (cached === undefined) cached = getCiphers().includes('chacha20') ? makeSealer() : null;
  return cached;
}

function makeSealer(): SealInto {
  // Scratch for the hash inputs (label || tag), grown for longer tags.
  let lookupInput = new Uint8Array(0);
  let sealInput = new Uint8Array(0);
  const iv = new Uint8Array(16); // counter (4, stays 0) || nonce (12)

  return (tag, userId, label, out, outAt, keyOut, keyAt) => {
    if (lookupInput.length !== LOOKUP_LABEL.length + tag.length) {
      lookupInput = new Uint8Array(LOOKUP_LABEL.length + tag.length);
      sealInput = new Uint8Array(SEAL_KEY_LABEL.length + tag.length);
      lookupInput.set(LOOKUP_LABEL);
      sealInput.set(SEAL_KEY_LABEL);
    }
    lookupInput.set(tag, LOOKUP_LABEL.length);
    sealInput.set(tag, SEAL_KEY_LABEL.length);
    keyOut.set(sha512(lookupInput).subarray(0, LOOKUP_KEY_BYTES), keyAt);
    const keys = sha512(sealInput); // encKey (32) || macKey (32)
    // varint(len(userId)) || userId || label, as sealLabel frames it.
    const plaintext = new Uint8Array(varintBytes(userId.length) + userId.length + label.length);
    const at = writeVarint(plaintext, 0, userId.length);
    plaintext.set(userId, at);
    plaintext.set(label, at + userId.length);
    const mac = createHmac('sha256', keys.subarray(32, 64)).update(plaintext).digest();
    iv.set(mac.subarray(0, SIV_BYTES), 4);
    out.set(iv.subarray(4), outAt);
    const cipher = createCipheriv('chacha20', keys.subarray(0, 32), iv);
    const body = cipher.update(plaintext);
    out.set(body, outAt + SIV_BYTES);
    const rest = cipher.final();
    if (rest.length > 0) out.set(rest, outAt + SIV_BYTES + body.length);
    // The key material is derived from the tag: leave none of it in the scratch buffers.
    keys.fill(0);
    mac.fill(0);
    plaintext.fill(0);
    sealInput.fill(0, SEAL_KEY_LABEL.length);
    lookupInput.fill(0, LOOKUP_LABEL.length);
  };
}
