/**
 * `sealLabel` and `lookupKeyOf` (protocol/discovery/labels.ts, label format 2) for
 * precompute and the import, which seal one label per tag: Node's one-shot SHA-512 for the
 * keys and the lookup key, HMAC-SHA-256 from two one-shot SHA-256 calls for the synthetic
 * IV, and noble's ChaCha20 (RFC 8439, block counter 0, the IV as nonce) written in place.
 * test/directory-seal.test.ts compares it with sealLabel byte for byte.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { createHash, hash } from 'node:crypto';
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

/** The native sealer, or null without crypto.hash (Node < 20.12, below the engines field): use sealLabel then. */
export function nativeSealer(): SealInto | null {
  if (cached === undefined) cached = typeof hash === 'function' ? makeOneShotSealer() : null;
  return cached;
}

/** HMAC block size of SHA-256 (RFC 2104: the key is padded to it). */
const HMAC_BLOCK = 64;

/**
 * HMAC-SHA-256 as its two one-shot SHA-256 calls (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)),
 * the 32-byte MAC key padded to the block) and ChaCha20 as noble's, written straight into
 * `out`: it was an Hmac and a Cipher object per seal (createHmac, createCipheriv), whose
 * OpenSSL contexts were most of the cost of a seal on the import's workers; this one took
 * 0.75-0.94x its CPU in one process (issue 13 §1). test/directory-seal.test.ts compares it
 * with sealLabel byte for byte.
 */
function makeOneShotSealer(): SealInto {
  const sha256 = (data: Uint8Array): Buffer => hash('sha256', data, 'buffer') as unknown as Buffer;
  let lookupInput = new Uint8Array(0);
  let sealInput = new Uint8Array(0);
  // (K ^ ipad) || varint(len(userId)) || userId || label, grown for longer labels.
  let inner = new Uint8Array(HMAC_BLOCK + 256);
  // (K ^ opad) || H(inner)
  const outer = new Uint8Array(HMAC_BLOCK + 32);

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
    const length = varintBytes(userId.length) + userId.length + label.length;
    if (inner.length < HMAC_BLOCK + length) inner = new Uint8Array(HMAC_BLOCK + length);
    inner.fill(0, 0, HMAC_BLOCK);
    outer.fill(0, 0, HMAC_BLOCK);
    for (let i = 0; i < 32; i++) {
      inner[i] = keys[32 + i];
      outer[i] = keys[32 + i];
    }
    for (let i = 0; i < HMAC_BLOCK; i++) {
      inner[i] ^= 0x36;
      outer[i] ^= 0x5c;
    }
    // varint(len(userId)) || userId || label, as sealLabel frames it, after the padded key.
    const at = writeVarint(inner, HMAC_BLOCK, userId.length);
    inner.set(userId, at);
    inner.set(label, at + userId.length);
    const plaintext = inner.subarray(HMAC_BLOCK, HMAC_BLOCK + length);
    const innerHash = sha256(inner.subarray(0, HMAC_BLOCK + length));
    outer.set(innerHash, HMAC_BLOCK);
    const mac = sha256(outer);
    const nonce = mac.subarray(0, SIV_BYTES);
    out.set(nonce, outAt);
    // RFC 8439 ChaCha20, block counter 0, the SIV as its 12-byte nonce.
    chacha20(keys.subarray(0, 32), nonce, plaintext, out.subarray(outAt + SIV_BYTES, outAt + SIV_BYTES + length));
    // The key material is derived from the tag: leave none of it in the scratch buffers.
    keys.fill(0);
    mac.fill(0);
    innerHash.fill(0);
    inner.fill(0, 0, HMAC_BLOCK + length);
    outer.fill(0);
    sealInput.fill(0, SEAL_KEY_LABEL.length);
    lookupInput.fill(0, LOOKUP_LABEL.length);
  };
}
